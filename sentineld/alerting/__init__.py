"""The alert lifecycle: triggers say a condition fires or clears; the `AlertManager` keeps one open
alert per condition (trigger, subject, channel), stores it, and decides which notifications go
out, with Alertmanager's habits, all in event time:

- **cool-down**: a cleared alert stays open for `cool_down`; a fire meanwhile continues it;
- **grouping**: new alerts with the same `group_by` labels go out together (`group_wait` for
  the first of a group, then at most one notification per `group_interval`);
- **re-notify**: a group with open alerts is notified again every `renotify` ("renotify" event);
- **silences** and **inhibition** mute notifications (the alert is still stored); a muted alert
  that is still open when the mute lifts is notified then;
- **severities**: a default per trigger or kind, and a floor under which nothing is notified;
- **staleness**: an alert its trigger has not asserted for `stale_after`, or the least recently
  asserted one beyond `max_open` open alerts of one trigger, is resolved as stale.

Alert ids are derived from the condition and the event time it opened, and outbox keys from the
alert id and the event (or from the group and the event time), so re-processing a stretch of the
stream after a crash re-derives the same alerts and queues nothing twice. See
docs/decisions/0210-alert-lifecycle-in-event-time.md.

Memory: an open alert is a compact `OpenRecord` (identity, times, flags). Its text (summary,
evidence, mentions) is held only while it changes, until the next checkpoint stores it; after
that it lives in the store, and an event about it carries a *partial* alert that the pipeline
completes from the store (`complete_alert`) before routing it. The records themselves are
checkpointed as rows that change (`take_changes`), not re-encoded whole every time. See
docs/decisions/0214-open-alerts-in-bounded-memory.md.

The parts, one module each:

- `signals`: what triggers say (`TriggerAlertSink` records `Signal`s);
- `manager`: the `AlertManager` (lifecycle, groups, re-notify, staleness, its checkpoint);
- `records`: the compact open-alert records and their checkpoint rows;
- `mutes`: what holds notifications back (the severity floor, silences, inhibition; the
  matchers and the silence records are `sentineld.alertrules`);
- `events`: `AlertEvent` and the completion of partial alerts;
- `routing`: which notifiers hear of an event (`broadcast_router`, the default).
"""

from sentineld.alerting.events import AlertEvent, complete_alert, finish_event
from sentineld.alerting.manager import AlertManager
from sentineld.alerting.records import ConditionChanges
from sentineld.alerting.routing import Router, broadcast_router, notification_payload
from sentineld.alerting.signals import Signal, TriggerAlertSink

__all__ = [
    "AlertEvent",
    "AlertManager",
    "ConditionChanges",
    "Router",
    "Signal",
    "TriggerAlertSink",
    "broadcast_router",
    "complete_alert",
    "finish_event",
    "notification_payload",
]
