"""What decides whether an alert is *notified*: label matchers, silences, inhibition rules, and
the `[alerting]` section that configures the lifecycle (Alertmanager's habits, in event time).

An alert's labels are ``kind``, ``subject``, ``subject_root`` (the subject before its first
``/``: ``brand`` for ``brand/author:bluesky:did:plc:abc``), ``channel``, ``severity``,
``trigger`` and ``id``. A matcher is written as Alertmanager writes them::

    kind=negativity_spike      exact
    channel!=*                 not equal ("*" is the channel of brand-wide alerts, not a glob)
    subject=~competitor:.*     regular expression, matching the whole value
    severity!~info|low         not matching

The same syntax serves the CLI (``sentineld silence add kind=viral_post ...``) and the config
(``[[alerting.inhibit]] source = ["kind=negativity_spike", "channel=*"]``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import msgspec

from sentineld.model import SEVERITIES, Alert, Severity
from sentineld.options import Duration, Options

__all__ = [
    "LABELS",
    "AlertingOptions",
    "InhibitRule",
    "LabelMatcher",
    "Silence",
    "alert_labels",
    "new_silence_id",
    "parse_matcher",
    "parse_matchers",
]

#: The labels an alert can be matched, grouped and inhibited on.
LABELS: Final = ("kind", "subject", "subject_root", "channel", "severity", "trigger", "id")

_MATCHER: Final = re.compile(r"^\s*([a-z_]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


def alert_labels(alert: Alert) -> dict[str, str]:
    return {
        "kind": alert.kind,
        "subject": alert.subject,
        "subject_root": alert.subject.split("/", 1)[0],
        "channel": alert.channel,
        "severity": alert.severity,
        "trigger": alert.trigger,
        "id": alert.id,
    }


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """One ``label op value`` test on an alert's labels."""

    label: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.pattern is not None:
            found = self.pattern.fullmatch(actual) is not None
            return found if self.op == "=~" else not found
        return (actual == self.value) if self.op == "=" else (actual != self.value)

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"


def parse_matcher(text: str, labels: Collection[str] | None = LABELS) -> LabelMatcher:
    """Parse ``label=value`` (or ``!=``, ``=~``, ``!~``); raises ValueError saying what is wrong.
    `labels`: the label names allowed (an alert's by default; None: any name)."""
    found = _MATCHER.match(text)
    if not found:
        raise ValueError(
            f"matcher {text!r} is not LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or LABEL!~REGEX"
        )
    label, op, value = found.groups()
    if labels is not None and label not in labels:
        raise ValueError(f"matcher {text!r}: unknown label {label!r}; one of {', '.join(labels)}")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(f"matcher {text!r}: not a valid regular expression: {exc}") from None
    elif label == "severity" and value not in SEVERITIES:
        raise ValueError(f"matcher {text!r}: severity is one of {', '.join(SEVERITIES)}")
    return LabelMatcher(label, op, value, pattern)  # type: ignore[arg-type]


def parse_matchers(texts: Iterable[str], labels: Collection[str] | None = LABELS) -> tuple[LabelMatcher, ...]:
    return tuple(parse_matcher(text, labels) for text in texts)


def matches_all(matchers: Sequence[LabelMatcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


# --------------------------------------------------------------------------- silences


def new_silence_id() -> str:
    import uuid  # only the CLI makes silences; keep `sentineld check` quick

    return uuid.uuid4().hex[:12]


class Silence(msgspec.Struct, kw_only=True):
    """Mutes the notifications of the alerts its matchers select, from `starts_at` to `ends_at`.

    Times are compared with the *event time* of each notification, so a replay of last month is
    not muted by a silence set today, and a live daemon is muted from the moment it is set.
    A silenced alert is still stored and listed; only its notifications are held back.
    """

    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime

    def __post_init__(self) -> None:
        if not self.matchers:
            raise ValueError("a silence needs at least one matcher")
        if self.ends_at < self.starts_at:
            raise ValueError("a silence cannot end before it starts")
        if not self.reason.strip():
            raise ValueError("a silence needs a reason")

    @property
    def parsed(self) -> tuple[LabelMatcher, ...]:
        cached = _PARSED.get(self.id)
        if cached is None or cached[0] != self.matchers:
            cached = (list(self.matchers), parse_matchers(self.matchers))
            _PARSED[self.id] = cached
        return cached[1]

    def active_at(self, moment: float) -> bool:
        return self.starts_at.timestamp() <= moment < self.ends_at.timestamp()

    def state(self, moment: float) -> str:
        if moment < self.starts_at.timestamp():
            return "pending"
        return "active" if moment < self.ends_at.timestamp() else "expired"

    def mutes(self, labels: Mapping[str, str], moment: float) -> bool:
        return self.active_at(moment) and matches_all(self.parsed, labels)


_PARSED: dict[str, tuple[list[str], tuple[LabelMatcher, ...]]] = {}


# --------------------------------------------------------------------------- configuration


class InhibitRule(Options):
    """While an open alert matches `source`, alerts matching `target` whose `equal` labels have
    the same values are not notified (an alert never inhibits itself)."""

    source: list[str]
    target: list[str]
    equal: list[str] = msgspec.field(default_factory=lambda: ["subject"])

    def __post_init__(self) -> None:
        parse_matchers(self.source)
        parse_matchers(self.target)
        for label in self.equal:
            if label not in LABELS:
                raise ValueError(f"equal: unknown label {label!r}; one of {', '.join(LABELS)}")


def _default_inhibit_rules() -> list[InhibitRule]:
    return [
        InhibitRule(
            source=[f"kind={kind}", "channel=*"], target=[f"kind={kind}", "channel!=*"],
            equal=["subject"],
        )
        for kind in ("negativity_spike",)
    ]


class AlertingOptions(Options):
    """The `[alerting]` section: how alerts become notifications. All times are event time."""

    #: Re-send still-open alerts of a group this often ("0s": never).
    renotify: Duration = Duration(4 * 3600)
    #: A cleared alert stays open this long; if its condition fires again meanwhile, the same
    #: alert goes on (no resolve, no new alert). "0s": resolve at once.
    cool_down: Duration = Duration(0)
    #: Labels whose values put alerts in the same notification group.
    group_by: list[str] = msgspec.field(default_factory=lambda: ["kind", "subject_root"])
    #: How long the first alert of a new group waits for others before it is notified.
    group_wait: Duration = Duration(0)
    #: After a group notified, further new alerts of the group wait this long and go as one.
    group_interval: Duration = Duration(300)
    #: Inhibition rules (default: a brand-wide negativity spike mutes the per-channel negativity
    #: spikes of the same subject).
    inhibit: list[InhibitRule] = msgspec.field(default_factory=_default_inhibit_rules)
    #: Severity of alerts whose trigger does not set one, by trigger id or kind.
    severities: dict[str, Severity] = {}
    #: Alerts below this severity are stored but not notified.
    notify_min_severity: Severity = "info"
    #: How often (wall clock) the daemon re-reads the silences from the store.
    silence_poll: Duration = Duration(2)
    #: Resolve an open alert its trigger has not asserted (fired) for this long, as stale
    #: (Alertmanager's resolve_timeout). "0s": never; triggers resolve their own alerts.
    stale_after: Duration = Duration(0)
    #: Open alerts one trigger may have; beyond, the one it asserted least recently is resolved
    #: as stale. An open alert costs about half a kilobyte of memory. 0: no limit.
    max_open: int = 10_000

    def __post_init__(self) -> None:
        if self.max_open < 0:
            raise ValueError("max_open must be 0 (no limit) or more")
        if self.stale_after < 0:
            raise ValueError("stale_after cannot be negative")
        for label in self.group_by:
            if label not in LABELS:
                raise ValueError(f"group_by: unknown label {label!r}; one of {', '.join(LABELS)}")
