"""The alert lifecycle: triggers say a condition fires or clears; the `AlertManager` keeps one open
alert per condition (trigger, subject, channel), stores it, and queues its notifications in the
same transaction.

Alert ids are derived from the condition and the event time it opened, and outbox keys from the
alert id and the event, so re-processing a stretch of the stream after a crash re-derives the
same alerts and queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import msgspec

from sentineld.components import AlertSink
from sentineld.model import SEVERITIES, Alert, Severity, alert_id, alert_to_dict

__all__ = ["AlertEvent", "AlertManager", "Signal", "TriggerAlertSink"]

MAX_MENTIONS_PER_ALERT: Final = 50

ConditionKey = tuple[str, str, str]  # (trigger id, subject, channel)


@dataclass(slots=True)
class Signal:
    """What a trigger said during one call: fire (with details) or clear one condition."""

    fire: bool
    trigger: str
    kind: str
    subject: str
    channel: str
    at: datetime
    summary: str = ""
    severity: Severity = "medium"
    evidence: dict[str, Any] = field(default_factory=dict)
    mentions: Sequence[str] = ()


class TriggerAlertSink(AlertSink):
    """The `AlertSink` handed to one trigger: it records signals for the manager to apply."""

    def __init__(self, trigger_id: str, kind: str) -> None:
        self.trigger_id = trigger_id
        self.kind = kind
        self.signals: list[Signal] = []

    def fire(
        self,
        *,
        subject: str,
        channel: str,
        at: datetime,
        summary: str,
        severity: Severity = "medium",
        evidence: dict[str, Any] | None = None,
        mentions: Sequence[str] = (),
        kind: str | None = None,
    ) -> None:
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        self.signals.append(
            Signal(
                True, self.trigger_id, kind or self.kind, subject, channel, at,
                summary, severity, dict(evidence or {}), tuple(mentions),
            )
        )

    def clear(self, *, subject: str, channel: str, at: datetime, kind: str | None = None) -> None:
        self.signals.append(Signal(False, self.trigger_id, kind or self.kind, subject, channel, at))

    def take(self) -> list[Signal]:
        signals, self.signals = self.signals, []
        return signals


@dataclass(slots=True)
class AlertEvent:
    """A change to an alert: ``opened``, ``updated`` (severity rose) or ``resolved``."""

    event: str
    alert: Alert


#: Given an alert event, the deliveries to queue: (destination notifier id, key, payload).
Router = Callable[[AlertEvent], list[tuple[str, str, bytes]]]


def broadcast_router(notifier_ids: Sequence[str]) -> Router:
    """Every alert event goes to every notifier (the default when no playbook routes)."""

    def route(event: AlertEvent) -> list[tuple[str, str, bytes]]:
        payload = notification_payload(event)
        return [
            (notifier, f"{event.alert.id}:{event.event}:{notifier}", payload)
            for notifier in notifier_ids
        ]

    return route


def notification_payload(event: AlertEvent) -> bytes:
    return msgspec.json.encode({"event": event.event, "alert": alert_to_dict(event.alert)})


def _copy(alert: Alert) -> Alert:
    """The alert as it is now: events must not change when the open alert changes later."""
    return msgspec.structs.replace(alert, evidence=dict(alert.evidence), mentions=list(alert.mentions))


class AlertManager:
    """Applies trigger signals to the open alerts; returns the resulting events for storing."""

    def __init__(self) -> None:
        self.open: dict[ConditionKey, Alert] = {}
        self.dirty: set[ConditionKey] = set()

    def apply(self, signals: Sequence[Signal]) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for signal in signals:
            key = (signal.trigger, signal.subject, signal.channel)
            current = self.open.get(key)
            if signal.fire:
                if current is None:
                    alert = Alert(
                        id=alert_id(*key, signal.at),
                        kind=signal.kind,
                        severity=signal.severity,
                        subject=signal.subject,
                        channel=signal.channel,
                        opened_at=signal.at,
                        summary=signal.summary,
                        evidence=signal.evidence,
                        mentions=list(signal.mentions)[:MAX_MENTIONS_PER_ALERT],
                        trigger=signal.trigger,
                    )
                    self.open[key] = alert
                    events.append(AlertEvent("opened", _copy(alert)))
                else:
                    rose = SEVERITIES.index(signal.severity) > SEVERITIES.index(current.severity)
                    current.summary = signal.summary or current.summary
                    current.evidence = signal.evidence or current.evidence
                    if rose:
                        current.severity = signal.severity
                    room = MAX_MENTIONS_PER_ALERT - len(current.mentions)
                    if room > 0 and signal.mentions:
                        seen = set(current.mentions)
                        current.mentions.extend(
                            [m for m in signal.mentions if m not in seen][:room]
                        )
                    if rose:
                        events.append(AlertEvent("updated", _copy(current)))
                    else:
                        self.dirty.add(key)
            elif current is not None:
                current.resolved_at = max(signal.at, current.opened_at)
                del self.open[key]
                self.dirty.discard(key)
                events.append(AlertEvent("resolved", _copy(current)))
        return events

    def take_dirty(self) -> list[Alert]:
        """Open alerts whose evidence changed since the last call (flushed at checkpoints)."""
        alerts = [self.open[key] for key in self.dirty if key in self.open]
        self.dirty.clear()
        return alerts

    def snapshot(self) -> list[dict[str, Any]]:
        return [alert_to_dict(alert) for alert in self.open.values()]

    def restore(self, state: list[dict[str, Any]]) -> None:
        self.open = {}
        for data in state:
            alert = msgspec.convert(data, Alert)
            self.open[(alert.trigger, alert.subject, alert.channel)] = alert
