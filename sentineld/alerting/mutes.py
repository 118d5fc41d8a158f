"""What holds an alert's notifications back: a severity under `notify_min_severity`, a silence
active at the event time, or an inhibition rule with an open source alert (the matchers and
silences themselves: `sentineld.alertrules`; see docs/decisions/0211-silences-and-inhibition.md).
A muted alert is still stored; the manager notifies it once the mute lifts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sentineld.alerting.records import ConditionKey, OpenRecord
from sentineld.alerting.signals import RANK
from sentineld.alertrules import AlertingOptions, LabelMatcher, Silence, matches_all, parse_matchers

__all__ = ["Inhibitor", "Mutes"]

_NEVER: Final = float("inf")


@dataclass(slots=True)
class Inhibitor:
    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...]
    #: equal-label values -> open source alerts with them
    open_sources: dict[tuple[str, ...], set[ConditionKey]] = field(default_factory=dict)


class Mutes:
    """The severity floor, the known silences and the inhibition rules with their open sources."""

    def __init__(self, options: AlertingOptions) -> None:
        self.floor = options.notify_min_severity
        self.silences: list[Silence] = []
        self.inhibitors = [
            Inhibitor(parse_matchers(r.source), parse_matchers(r.target), tuple(r.equal))
            for r in options.inhibit
        ]

    def index_source(self, key: ConditionKey, labels: Mapping[str, str], *, add: bool) -> bool:
        """Add or remove an open alert as an inhibition source; True if it is one."""
        if not self.inhibitors:
            return False
        found = False
        for rule in self.inhibitors:
            if not matches_all(rule.source, labels):
                continue
            found = True
            values = tuple(labels[name] for name in rule.equal)
            if add:
                rule.open_sources.setdefault(values, set()).add(key)
            else:
                holders = rule.open_sources.get(values)
                if holders is not None:
                    holders.discard(key)
                    if not holders:
                        del rule.open_sources[values]
        return found

    def forget_sources(self) -> None:
        for rule in self.inhibitors:
            rule.open_sources.clear()

    def why(self, labels: Mapping[str, str], own: ConditionKey, moment: float,
            open_alerts: Mapping[ConditionKey, OpenRecord]) -> str | None:
        """Why an alert with these labels is not notified at event time `moment`, or None."""
        if RANK[labels["severity"]] < RANK[self.floor]:
            return f"severity below {self.floor}"
        if not self.silences and not self.inhibitors:
            return None
        for silence in self.silences:
            if silence.mutes(labels, moment):
                return f"silence {silence.id}: {silence.reason}"
        for rule in self.inhibitors:
            if not rule.open_sources or not matches_all(rule.target, labels):
                continue
            holders = rule.open_sources.get(tuple(labels[name] for name in rule.equal))
            if holders and (len(holders) > 1 or own not in holders):
                source = next(iter(k for k in holders if k != own))
                return f"inhibited by {open_alerts[source].id}"
        return None

    def set_silences(self, silences: Sequence[Silence]) -> bool:
        """Replace the known silences; True if they changed."""
        def shape(items: Sequence[Silence]) -> list[tuple[str, datetime, datetime]]:
            return [(s.id, s.starts_at, s.ends_at) for s in items]

        changed = shape(silences) != shape(self.silences)
        self.silences = list(silences)
        return changed

    def next_edge(self, moment: float) -> float:
        """The next event time after `moment` at which a silence starts or ends."""
        edges = [edge for s in self.silences
                 for edge in (s.starts_at.timestamp(), s.ends_at.timestamp()) if edge > moment]
        return min(edges, default=_NEVER)
