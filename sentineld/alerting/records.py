"""The open alerts as the manager keeps them: a compact record per alert, indexed per trigger in
the order they were last asserted, and checkpointed as rows that change
(see docs/decisions/0214-open-alerts-in-bounded-memory.md)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from sentineld.model import Alert, Severity, from_timestamp

__all__ = ["ConditionChanges", "ConditionKey", "OpenAlerts", "OpenRecord", "decode_row", "pending_row"]

ConditionKey = tuple[str, str, str]  # (trigger id, subject, channel)

_encode_row = msgspec.msgpack.Encoder().encode
decode_row = msgspec.msgpack.Decoder().decode


class OpenRecord(msgspec.Struct, gc=False):
    """One open alert as the manager keeps it in memory: identity, times, lifecycle flags.

    `body` holds the alert's text while it changes (from a change until the next checkpoint
    stores it); it is the whole alert unless `patch`, when it only knows the summary, evidence
    and mentions given since the stored form. `seen` is the event time its trigger last asserted
    it, `order` the manager's count at that moment (the order in which staleness takes alerts).
    `resolved` is set once it is no longer open (it may still wait in a group's notification).
    Not tracked by the garbage collector (it holds no cycle): ten thousand open alerts do not
    slow every full collection down.
    """

    key: ConditionKey
    id: str
    kind: str
    severity: Severity
    opened: float
    group: str
    seen: float
    order: int
    notified: bool = False
    pending: bool = False
    clearing_since: float | None = None
    resolved: float | None = None
    gave_up: bool = False
    body: Alert | None = None
    patch: bool = False

    def row(self) -> bytes:
        """The checkpoint row of an open alert (see `AlertManager.take_changes`)."""
        return _encode_row([self.id, self.kind, self.severity, self.opened, self.seen, self.order,
                            self.notified, self.clearing_since])

    def labels(self) -> dict[str, str]:
        trigger, subject, channel = self.key
        return {
            "kind": self.kind,
            "subject": subject,
            "subject_root": subject.split("/", 1)[0],
            "channel": channel,
            "severity": self.severity,
            "trigger": trigger,
            "id": self.id,
        }

    def stub(self) -> Alert:
        """The alert without its text (a partial alert: see `AlertEvent.partial`)."""
        trigger, subject, channel = self.key
        return Alert(
            id=self.id, kind=self.kind, severity=self.severity, subject=subject, channel=channel,
            opened_at=from_timestamp(self.opened),
            resolved_at=from_timestamp(self.resolved) if self.resolved is not None else None,
            trigger=trigger,
        )


@dataclass(slots=True)
class ConditionChanges:
    """The open-alert rows that changed since the last checkpoint: (trigger, subject, channel,
    row) with row None for an alert no longer open. `reset`: drop every stored row first."""

    rows: list[tuple[str, str, str, bytes | None]] = field(default_factory=list)
    reset: bool = False

    def then(self, later: ConditionChanges) -> ConditionChanges:
        """These changes followed by `later` (for a checkpoint that could not be stored)."""
        if later.reset:
            return later
        return ConditionChanges([*self.rows, *later.rows], self.reset)


class OpenAlerts(Mapping[ConditionKey, OpenRecord]):
    """The open alerts by condition, kept per trigger in the order they were last asserted
    (least recently first), which is the order staleness takes them in."""

    def __init__(self) -> None:
        self.by_trigger: dict[str, OrderedDict[ConditionKey, OpenRecord]] = {}

    def __getitem__(self, key: ConditionKey) -> OpenRecord:
        return self.by_trigger[key[0]][key]

    def get(self, key: ConditionKey, default: Any = None) -> Any:  # type: ignore[override]
        alerts = self.by_trigger.get(key[0])
        return default if alerts is None else alerts.get(key, default)

    def __contains__(self, key: object) -> bool:
        alerts = self.by_trigger.get(key[0]) if isinstance(key, tuple) else None
        return alerts is not None and key in alerts

    def __len__(self) -> int:
        return sum(len(alerts) for alerts in self.by_trigger.values())

    def __iter__(self) -> Iterator[ConditionKey]:
        for alerts in self.by_trigger.values():
            yield from alerts

    def add(self, record: OpenRecord) -> int:
        """Add `record` as the most recently asserted; returns how many its trigger has open."""
        alerts = self.by_trigger.setdefault(record.key[0], OrderedDict())
        alerts[record.key] = record
        return len(alerts)

    def asserted(self, record: OpenRecord) -> None:
        self.by_trigger[record.key[0]].move_to_end(record.key)

    def pop(self, key: ConditionKey) -> OpenRecord:
        alerts = self.by_trigger[key[0]]
        record = alerts.pop(key)
        if not alerts:
            del self.by_trigger[key[0]]
        return record

    def oldest(self, trigger: str) -> OpenRecord | None:
        alerts = self.by_trigger.get(trigger)
        return next(iter(alerts.values())) if alerts else None


def pending_row(record: OpenRecord) -> list[Any]:
    return [*record.key, record.id, record.kind, record.severity, record.opened, record.resolved,
            record.gave_up]
