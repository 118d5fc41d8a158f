"""The interchange formats: Mention, Scored mention and Alert (DESIGN.md, "Interchange formats").

These shapes are a public contract. Sources produce `Mention`s, scorers fill in `scores`,
`labels` and `matches`, triggers raise `Alert`s. Everything is JSON on the wire, one object per
line where it streams.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Generic, Literal, TypeVar, overload

import msgspec

__all__ = [
    "Alert",
    "Author",
    "Count",
    "Metrics",
    "Mention",
    "MentionError",
    "SEVERITIES",
    "Severity",
    "alert_id",
    "decode_mention",
    "decode_mention_lines",
    "encode_alert",
    "encode_mention",
    "mention_from_dict",
    "mention_to_dict",
    "format_time",
    "parse_time",
]

_T = TypeVar("_T")
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
#: Counts (followers, likes, …): a negative one is a bug or an attack (scorers take logs of them),
#: and one beyond 64 bits cannot be stored.
Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: Final[tuple[str, ...]] = ("info", "low", "medium", "high", "critical")


class MentionError(ValueError):
    """A payload that is not a valid Mention; the message says which field and why."""


class Author(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Who wrote a mention. `id` is stable per platform; counts are what the platform reports."""

    id: str | None = None
    handle: str | None = None
    name: str | None = None
    followers: Count | None = None
    following: Count | None = None
    posts: Count | None = None
    created_at: AwareDatetime | None = None


class Metrics(msgspec.Struct, kw_only=True):
    """Engagement counts as the platform reported them when the mention was fetched."""

    likes: Count = 0
    reshares: Count = 0
    replies: Count = 0


class _ReadOnce(Generic[_T]):
    """A method read as an attribute, computed at the first read only: the value is left in the
    instance's ``__dict__``, which later reads find before this (non-data) descriptor. What
    `functools.cached_property` does, without the lock Python 3.11's takes on every first read."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> _ReadOnce[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object, owner: type | None = None) -> _T | _ReadOnce[_T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


class Mention(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, dict=True):
    """One thing someone said, from one source.

    `id` is source-qualified (``"bluesky:at://..."``) and is what makes ingest idempotent.
    `created_at` is the event time every stage reasons in. Unknown keys of the JSON form are kept
    in `extra` (`decode_mention` moves them there; decoding straight into the struct refuses them
    rather than dropping them silently). `scores`, `labels` and `matches` stay empty until the scoring stage fills them.
    """

    id: str
    source: str
    created_at: AwareDatetime
    text: str
    author: Author | None = None
    url: str | None = None
    lang: str | None = None
    in_reply_to: str | None = None
    reshare_of: str | None = None
    metrics: Metrics | None = None
    extra: dict[str, Any] = {}
    scores: dict[str, float] = {}
    labels: dict[str, str] = {}
    matches: list[str] = []

    @_ReadOnce
    def timestamp(self) -> float:
        """Event time as POSIX seconds (what windows and timers compute with). Computed at the
        first read and kept like `author_key`: triggers, cases and the store each read it."""
        return self.created_at.timestamp()

    @_ReadOnce
    def author_key(self) -> str | None:
        """The author's identity qualified by source, e.g. ``"bluesky:did:plc:abc"``.

        Interned: the registry, virality, the triggers and the cases each keep author keys of
        recent mentions, and one shared string per author costs less than a copy for each.
        Computed at the first read and kept in the instance's ``__dict__`` (``dict=True``: a
        place outside the fields, so neither the JSON form nor equality sees it): the shipped
        config's components read it nine times per mention. Once it was read, change `author`
        or `source` with `msgspec.structs.replace`, not by assignment."""
        author = self.author
        if author is None:
            return None
        ident = author.id or author.handle
        return sys.intern(f"{self.source}:{ident}") if ident else None


_MENTION_FIELDS: Final = frozenset(Mention.__struct_fields__)
_SCORED_ONLY: Final = ("scores", "labels", "matches")
_json_decoder = msgspec.json.Decoder()
_typed_decoder = msgspec.json.Decoder(Mention)
_json_encoder = msgspec.json.Encoder()


def mention_from_dict(data: Any) -> Mention:
    """Validate a decoded JSON object into a Mention, keeping unknown keys under `extra`."""
    if not isinstance(data, dict):
        raise MentionError(f"a mention must be a JSON object, got {type(data).__name__}")
    unknown = data.keys() - _MENTION_FIELDS
    if unknown:
        data = dict(data)
        extra = data.get("extra") or {}
        if not isinstance(extra, dict):
            raise MentionError(f"extra: expected an object, got {type(extra).__name__}")
        extra = dict(extra)
        for key in unknown:
            extra[key] = data.pop(key)
        data["extra"] = extra
    try:
        mention = msgspec.convert(data, Mention)
    except msgspec.ValidationError as exc:
        raise MentionError(_describe_validation_error(exc)) from None
    return _checked(mention)


def _checked(mention: Mention) -> Mention:
    """What the types alone do not say: a non-empty id and source, a representable time."""
    for name in ("id", "source"):  # an empty id would make unrelated mentions duplicates
        if not getattr(mention, name).strip():
            raise MentionError(f"{name}: must not be empty")
    created = mention.created_at
    try:
        if created.year in (1, 9999):  # only there can the offset take it out of range
            created.astimezone(UTC)
    except OverflowError:
        raise MentionError(f"created_at: {created.isoformat()} has no UTC equivalent") from None
    return mention


def decode_mention(line: bytes | str) -> Mention:
    """Parse one line of Mention JSON. Raises MentionError with a readable reason.

    The common case decodes straight into the struct; a line with unknown keys (kept under
    `extra`) or an error (explained field by field) takes the way through a dict."""
    try:
        return _checked(_typed_decoder.decode(line))
    except (msgspec.DecodeError, MentionError, UnicodeDecodeError, RecursionError):
        pass
    try:
        data = _json_decoder.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MentionError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise MentionError("not valid JSON: nested too deeply") from None
    return mention_from_dict(data)


#: One JSON object's end and the next one's start on the same line (JSON whitespace between).
_NEXT_OBJECT_ON_THE_LINE: Final = re.compile(rb"}[ \t\r]*{")


def decode_mention_lines(lines: bytes, count: int) -> list[Mention] | None:
    """`count` lines of Mention JSON, each ending with a newline, decoded in one call: the
    mentions, one per line, when every line is a valid Mention in the common form (no unknown
    keys, none blank); otherwise None, and `decode_mention` on each line says which and why.

    msgspec's `decode_lines` reads JSON values separated by whitespace, not lines: a line with two
    objects, or one object over two lines, would pass it. Each line holds exactly one object when
    there are `count` objects and no object's end is followed by another's start on its line (at
    most one starts per line, so each of the `count` lines starts one, and one that went on over
    the next line would end where the next starts). A ``}{`` inside a string only costs the
    fast way."""
    if _NEXT_OBJECT_ON_THE_LINE.search(lines) is not None:
        return None
    try:
        mentions = _typed_decoder.decode_lines(lines)
        if len(mentions) != count:
            return None
        for mention in mentions:
            _checked(mention)
    except (msgspec.DecodeError, MentionError, UnicodeDecodeError, RecursionError):
        return None
    return mentions


def mention_to_dict(mention: Mention, *, scored: bool = False) -> dict[str, Any]:
    """The JSON form of a mention: the Mention format, or the Scored mention format."""
    data: dict[str, Any] = {
        "id": mention.id,
        "source": mention.source,
        "created_at": format_time(mention.created_at),
        "text": mention.text,
        "author": msgspec.to_builtins(mention.author) if mention.author else None,
        "url": mention.url,
        "lang": mention.lang,
        "in_reply_to": mention.in_reply_to,
        "reshare_of": mention.reshare_of,
        "metrics": msgspec.to_builtins(mention.metrics) if mention.metrics else None,
    }
    if mention.extra:
        data["extra"] = mention.extra
    if scored:
        data["scores"] = mention.scores
        data["labels"] = mention.labels
        data["matches"] = mention.matches
    return data


def encode_mention(mention: Mention, *, scored: bool = False) -> bytes:
    """One line of JSON (without the newline)."""
    return _json_encoder.encode(mention_to_dict(mention, scored=scored))


class Alert(msgspec.Struct, kw_only=True):
    """An alert as triggers raise it, `replay --json` prints it and the API serves it.

    `opened_at` and `resolved_at` are event times. `trigger` is the id of the trigger instance
    that raised it; together with `kind`, `subject` and `channel` it names the condition, and at
    most one alert per condition is open at a time.
    """

    id: str
    kind: str
    severity: Severity
    subject: str
    channel: str
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    summary: str = ""
    evidence: dict[str, Any] = {}
    mentions: list[str] = []
    trigger: str = ""

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


def alert_id(trigger: str, subject: str, channel: str, opened_at: datetime) -> str:
    """A deterministic id: re-running the same stream raises the same alert, not a second one."""
    key = f"{trigger}\x1f{subject}\x1f{channel}\x1f{format_time(opened_at)}"
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def encode_alert(alert: Alert) -> bytes:
    return _json_encoder.encode(alert_to_dict(alert))


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "subject": alert.subject,
        "channel": alert.channel,
        "opened_at": format_time(alert.opened_at),
        "resolved_at": format_time(alert.resolved_at) if alert.resolved_at else None,
        "summary": alert.summary,
        "evidence": alert.evidence,
        "mentions": alert.mentions,
        "trigger": alert.trigger,
    }


def alert_from_dict(data: Any) -> Alert:
    return msgspec.convert(data, Alert)


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, seconds precision unless the moment has a fraction."""
    moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse ISO 8601 with a zone (``Z`` accepted); raises ValueError for a naive time."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no zone (add Z or +00:00)")
    return moment


def from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _describe_validation_error(exc: msgspec.ValidationError) -> str:
    """Turn msgspec's ``Expected `str`, got `int` - at `$.author.handle``` into plain words."""
    message = str(exc)
    where = ""
    if " - at `$" in message:
        message, _, where = message.partition(" - at `$")
        where = where.rstrip("`").lstrip(".")
    message = message.replace("`", "")
    if "Object missing required field" in message:
        field = message.rsplit(" ", 1)[-1]
        path = f"{where}.{field}" if where else field
        return f"{path}: required field is missing"
    if "Invalid RFC3339" in message or "must include a UTC offset" in message or "tz" in message:
        message += " (expected ISO 8601 with a zone, e.g. 2026-11-24T09:15:02Z)"
    return f"{where}: {message}" if where else message
