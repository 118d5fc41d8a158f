"""Alert events (changes and notifications) and the completion of *partial* alerts: an event
about an alert whose text is in the store, not in memory, is completed from its stored form
before it is routed (see docs/decisions/0214-open-alerts-in-bounded-memory.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from sentineld.model import Alert, alert_to_dict

__all__ = [
    "MAX_MENTIONS_PER_ALERT",
    "RESOLUTION",
    "AlertEvent",
    "complete_alert",
    "copy_alert",
    "finish_event",
]

MAX_MENTIONS_PER_ALERT: Final = 50
#: The evidence key that says why an alert was resolved when its trigger did not clear it.
RESOLUTION: Final = "resolution"


@dataclass(slots=True)
class AlertEvent:
    """A change to an alert and/or a notification about it.

    `change` events (``opened``, ``updated`` when the severity rose, ``resolved``) are stored and
    counted; `notify` says whether notifiers should hear of it now. Notification-only events
    (`change` False) are a deferred or grouped ``opened`` and ``renotify``: `alert` is the most
    severe alert concerned and ``meta["alerts"]`` lists all of them (`listed`). `key` is the
    idempotency base: routers append the destination.

    `partial` names the alerts of this event (`alert`, `listed`) whose text is in the store, not
    in memory: their summary and evidence may be empty and their mentions only the ones added
    since they were stored. `finish_event` completes them; the pipeline does before routing.
    """

    event: str
    alert: Alert
    notify: bool = True
    change: bool = True
    key: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    listed: list[Alert] = field(default_factory=list)
    partial: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.key:
            self.key = f"{self.alert.id}:{self.event}"


def complete_alert(partial: Alert, stored: Alert | None) -> Alert:
    """The whole alert: `stored` (its last stored form) updated with what `partial` (an alert
    whose text is not in memory) knows. The severity and resolution are always the partial's;
    its summary and evidence when it has them; its mentions are added to the stored ones."""
    if stored is None:
        return partial
    mentions = list(stored.mentions)
    room = MAX_MENTIONS_PER_ALERT - len(mentions)
    if room > 0 and partial.mentions:
        known = set(mentions)
        mentions += [m for m in partial.mentions if m not in known][:room]
    return msgspec.structs.replace(
        stored,
        severity=partial.severity,
        resolved_at=partial.resolved_at,
        summary=partial.summary or stored.summary,
        evidence=partial.evidence or stored.evidence,
        mentions=mentions,
    )


def finish_event(event: AlertEvent, stored: Mapping[str, Alert]) -> None:
    """Complete the partial alerts of `event` from their stored forms (by id), in place."""
    if not event.partial:
        return
    reason = event.meta.get(RESOLUTION)

    def whole(alert: Alert) -> Alert:
        if alert.id not in event.partial:
            return alert
        done = complete_alert(alert, stored.get(alert.id))
        if reason and alert.resolved_at is not None and done.evidence.get(RESOLUTION) != reason:
            done.evidence = {**done.evidence, RESOLUTION: reason}
        return done

    event.alert = whole(event.alert)
    if event.listed:
        event.listed = [whole(a) for a in event.listed]
        event.meta["alerts"] = [alert_to_dict(a) for a in event.listed]
    event.partial = set()


def copy_alert(alert: Alert) -> Alert:
    """The alert as it is now: events must not change when the open alert changes later."""
    return msgspec.structs.replace(alert, evidence=dict(alert.evidence), mentions=list(alert.mentions))

