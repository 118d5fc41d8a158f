"""Helpers for the alert lifecycle tests: signals at event times, and what got notified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sentineld.alerting import AlertEvent, AlertManager, Signal

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fire(minutes: float, *, subject: str = "brand", channel: str = "*", kind: str = "negativity_spike",
         trigger: str = "anger", severity: Any = "high", summary: str = "") -> Signal:
    return Signal(True, trigger, kind, subject, channel, at(minutes),
                  summary or f"{kind} {subject}/{channel}", severity, {"observed": 1})


def clear(minutes: float, *, subject: str = "brand", channel: str = "*", kind: str = "negativity_spike",
          trigger: str = "anger") -> Signal:
    return Signal(False, trigger, kind, subject, channel, at(minutes))


def notified(events: list[AlertEvent]) -> list[tuple[str, str, str]]:
    """(event, subject, channel) of each event that notifiers hear of."""
    return [(e.event, e.alert.subject, e.alert.channel) for e in events if e.notify]


def changes(events: list[AlertEvent]) -> list[tuple[str, str, str]]:
    return [(e.event, e.alert.subject, e.alert.channel) for e in events if e.change]


def run(manager: AlertManager, *steps: Any) -> list[AlertEvent]:
    """Apply signals and ticks (a number of minutes) in order; all events."""
    events: list[AlertEvent] = []
    for step in steps:
        if isinstance(step, (int, float)):
            events += manager.tick(at(step))
        else:
            events += manager.apply([step] if isinstance(step, Signal) else step)
    return events
