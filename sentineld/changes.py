"""Deletions and edits of mentions already emitted: what a source reports, and how a stored
mention (and what quotes it) is redacted or updated. See docs/decisions/0314-edits-and-deletes.md.

A source reports them with ``await emit(mentions, cursor, changes=[...])``; the core stores them
in the same transaction as the cursor, like mentions, so each is applied exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import msgspec

from sentineld.model import Alert, AwareDatetime, Mention, MentionError, format_time, parse_time

__all__ = [
    "ChangeCounts",
    "MentionChange",
    "change_from_dict",
    "check_change",
    "is_change",
    "redact_alert",
    "shown_text",
]

#: What a deleted mention's body keeps of its `extra` (identifiers, never content).
KEPT_WHEN_DELETED: Final = frozenset({"uid", "uri", "cid", "visibility"})
#: What replaces a deleted post's text where it was quoted verbatim (drafts).
DELETED_MARK: Final = "[post deleted by its author]"
#: Quotes shorter than this are not looked for in drafts: a two-word post would blank the same
#: two words in every draft.
MIN_QUOTE: Final = 12


class MentionChange(msgspec.Struct, frozen=True, kw_only=True):
    """A source's report that a mention it emitted was deleted or edited by its author.

    `mention_id` is the id the source gave the mention (``"bluesky:at://…"``); `at` is when
    the platform says it happened (or when the source heard of it). An edit carries the new
    `text`. A change for a mention never stored is ignored (and counted).
    """

    mention_id: str
    kind: Literal["deleted", "edited"]
    at: AwareDatetime
    text: str | None = None

    @classmethod
    def deleted(cls, mention_id: str, at: datetime) -> MentionChange:
        return cls(mention_id=mention_id, kind="deleted", at=at)

    @classmethod
    def edited(cls, mention_id: str, text: str, at: datetime) -> MentionChange:
        return cls(mention_id=mention_id, kind="edited", at=at, text=text)


@dataclass(slots=True)
class ChangeCounts:
    """What the store did with a group of changes."""

    deleted: int = 0
    edited: int = 0
    #: For a mention never stored (filtered out by the source, or before sentineld ran).
    unknown: int = 0
    #: Already applied (a source re-delivering after a restart), stale (an edit older than the
    #: one stored) or too late (an edit of a deleted mention).
    repeated: int = 0


def check_change(change: Any) -> MentionChange:
    """`change` if it is a well-formed `MentionChange`; else MentionError with the reason."""
    if not isinstance(change, MentionChange):
        raise MentionError(f"a change must be a MentionChange, not {type(change).__name__}")
    if not isinstance(change.mention_id, str) or not change.mention_id:
        raise MentionError("a change needs the mention_id of the mention it changes")
    if change.kind not in ("deleted", "edited"):
        raise MentionError(f"a change's kind is 'deleted' or 'edited', not {change.kind!r}")
    if not isinstance(change.at, datetime) or change.at.tzinfo is None:
        raise MentionError(f"a change's time must be an aware datetime, not {change.at!r}")
    if change.kind == "edited" and not isinstance(change.text, str):
        raise MentionError("an edit must carry the new text")
    if change.kind == "deleted" and change.text is not None:
        raise MentionError("a deletion carries no text")
    return change


def is_change(item: Any) -> bool:
    """Whether a JSON object is a change (``{"deleted": id}`` / ``{"edited": id, "text": …}``)
    rather than a mention."""
    return isinstance(item, dict) and ("deleted" in item or "edited" in item) and "source" not in item


def change_from_dict(item: dict[str, Any], received: datetime) -> MentionChange:
    """A change from its JSON form: ``{"deleted": "<mention id>", "at": "<ISO 8601>"}`` or
    ``{"edited": "<mention id>", "text": "…", "at": "…"}`` (`at` defaults to `received`).
    Raises MentionError with the reason."""
    kind = "deleted" if "deleted" in item else "edited"
    if "deleted" in item and "edited" in item:
        raise MentionError("a change is either deleted or edited, not both")
    allowed = {"deleted", "at"} if kind == "deleted" else {"edited", "text", "at"}
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise MentionError(f"unknown field {unknown[0]!r} in a {kind} change (allowed: {', '.join(sorted(allowed))})")
    at = received
    if item.get("at") is not None:
        if not isinstance(item["at"], str):
            raise MentionError("at: expected an ISO 8601 time")
        try:
            at = parse_time(item["at"])
        except ValueError as exc:
            raise MentionError(f"at: {exc}") from None
    text = item.get("text")
    if kind == "edited" and not isinstance(text, str):
        raise MentionError("text: an edited change needs the new text (a string)")
    mention_id = item[kind]
    if not isinstance(mention_id, str):
        raise MentionError(f"{kind}: expected the mention id (a string)")
    return check_change(MentionChange(mention_id=mention_id, kind=kind, at=at, text=text))


def redacted(mention: Mention, at: datetime) -> Mention:
    """The mention as stored once its author deleted it: no text, no content in `extra`."""
    extra = {k: v for k, v in mention.extra.items() if k in KEPT_WHEN_DELETED}
    extra["deleted_at"] = format_time(at)
    return msgspec.structs.replace(mention, text="", extra=extra)


def edited(mention: Mention, text: str, at: datetime) -> Mention:
    return msgspec.structs.replace(mention, text=text, extra={**mention.extra, "edited_at": format_time(at)})


def shown_text(mention: Mention) -> str:
    """The text to show a person: a deleted mention says so instead of showing nothing."""
    if "deleted_at" in mention.extra:
        return f"(deleted by its author at {mention.extra['deleted_at']})"
    if "edited_at" in mention.extra:
        return f"{mention.text} (edited)"
    return mention.text


def redact_alert(alert: Alert, deleted: Iterable[str]) -> Alert:
    """An alert that names deleted mentions, as the API and CLI show it: its summary and the
    strings of its evidence may quote them, so they are withheld; numbers stay.

    The stored alert is left as the triggers raised it (an open alert is rewritten from memory
    when it changes): this is applied when alerts are read for people."""
    ids = sorted(set(deleted))
    if not ids:
        return alert
    evidence = _numbers_only(alert.evidence)
    evidence["redacted_mentions"] = ids
    summary = f"{alert.kind} on {alert.subject}: text withheld, a post it names was deleted by its author"
    return msgspec.structs.replace(alert, summary=summary, evidence=evidence)


def _numbers_only(value: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            kept[key] = _numbers_only(item)
        elif isinstance(item, bool | int | float) or item is None:
            kept[key] = item
    return kept
