"""The alert lifecycle: triggers say a condition fires or clears; the `AlertManager` keeps one open
alert per condition (trigger, subject, channel), stores it, and decides which notifications go
out, with Alertmanager's habits, all in event time:

- **cool-down**: a cleared alert stays open for `cool_down`; a fire meanwhile continues it;
- **grouping**: new alerts with the same `group_by` labels go out together (`group_wait` for
  the first of a group, then at most one notification per `group_interval`);
- **re-notify**: a group with open alerts is notified again every `renotify` ("renotify" event);
- **silences** and **inhibition** mute notifications (the alert is still stored); a muted alert
  that is still open when the mute lifts is notified then;
- **severities**: a default per trigger or kind, and a floor under which nothing is notified.

Alert ids are derived from the condition and the event time it opened, and outbox keys from the
alert id and the event (or from the group and the event time), so re-processing a stretch of the
stream after a crash re-derives the same alerts and queues nothing twice. See
docs/decisions/0210-alert-lifecycle.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import msgspec

from sentineld.alertrules import (
    AlertingOptions,
    LabelMatcher,
    Silence,
    alert_labels,
    matches_all,
    parse_matchers,
)
from sentineld.components import AlertSink
from sentineld.model import (
    SEVERITIES,
    Alert,
    Severity,
    alert_id,
    alert_to_dict,
    format_time,
    from_timestamp,
)

__all__ = [
    "AlertEvent",
    "AlertManager",
    "Router",
    "Signal",
    "TriggerAlertSink",
    "broadcast_router",
    "notification_payload",
]

MAX_MENTIONS_PER_ALERT: Final = 50
#: Alerts listed in one group notification's meta (the count says how many there were).
MAX_ALERTS_PER_GROUP_NOTE: Final = 20
_NEVER: Final = float("inf")

ConditionKey = tuple[str, str, str]  # (trigger id, subject, channel)


@dataclass(slots=True)
class Signal:
    """What a trigger said during one call: fire (with details) or clear one condition.
    A `severity` of None takes the configured default for the trigger or kind."""

    fire: bool
    trigger: str
    kind: str
    subject: str
    channel: str
    at: datetime
    summary: str = ""
    severity: Severity | None = None
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
        severity: Severity | None = None,  # type: ignore[override]
        evidence: dict[str, Any] | None = None,
        mentions: Sequence[str] = (),
        kind: str | None = None,
    ) -> None:
        if severity is not None and severity not in SEVERITIES:
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
    """A change to an alert and/or a notification about it.

    `change` events (``opened``, ``updated`` when the severity rose, ``resolved``) are stored and
    counted; `notify` says whether notifiers should hear of it now. Notification-only events
    (`change` False) are a deferred or grouped ``opened`` and ``renotify``: `alert` is the most
    severe alert concerned and ``meta["alerts"]`` lists all of them. `key` is the idempotency
    base: routers append the destination.
    """

    event: str
    alert: Alert
    notify: bool = True
    change: bool = True
    key: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.key:
            self.key = f"{self.alert.id}:{self.event}"


#: Given an alert event, the deliveries to queue: (destination notifier id, key, payload).
Router = Callable[[AlertEvent], list[tuple[str, str, bytes]]]


def broadcast_router(notifier_ids: Sequence[str]) -> Router:
    """Every alert notification goes to every notifier (the default when no playbook routes)."""

    def route(event: AlertEvent) -> list[tuple[str, str, bytes]]:
        if not event.notify:
            return []
        payload = notification_payload(event)
        return [(notifier, f"{event.key}:{notifier}", payload) for notifier in notifier_ids]

    return route


def notification_payload(event: AlertEvent) -> bytes:
    return msgspec.json.encode(
        {"event": event.event, "alert": alert_to_dict(event.alert), "meta": event.meta}
    )


def _copy(alert: Alert) -> Alert:
    """The alert as it is now: events must not change when the open alert changes later."""
    return msgspec.structs.replace(alert, evidence=dict(alert.evidence), mentions=list(alert.mentions))


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _severity_rank(alert: Alert) -> int:
    return SEVERITIES.index(alert.severity)


@dataclass(slots=True)
class _Track:
    """Lifecycle bookkeeping of one open alert."""

    group: str
    notified: bool = False
    pending: bool = False
    clearing_since: float | None = None


@dataclass(slots=True)
class _Group:
    """Alerts sharing the `group_by` labels; notified together."""

    id: str
    labels: dict[str, str]
    members: set[ConditionKey] = field(default_factory=set)
    pending: list[Alert] = field(default_factory=list)
    flush_at: float | None = None
    last_flush: float | None = None
    last_sent: float | None = None


@dataclass(slots=True)
class _Inhibitor:
    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...]
    #: equal-label values -> open source alerts with them
    open_sources: dict[tuple[str, ...], set[ConditionKey]] = field(default_factory=dict)


class AlertManager:
    """Applies trigger signals and clock ticks to the open alerts; returns the resulting events
    (for the pipeline to store and route)."""

    def __init__(self, options: AlertingOptions | None = None) -> None:
        self.options = options or AlertingOptions()
        self.open: dict[ConditionKey, Alert] = {}
        self.dirty: set[ConditionKey] = set()
        self.silences: list[Silence] = []
        self._tracks: dict[ConditionKey, _Track] = {}
        self._groups: dict[str, _Group] = {}
        self._unnotified: set[ConditionKey] = set()
        #: Event time from which muted alerts must be looked at again (a silence starts or
        #: ends, or -inf after the silences changed or an inhibiting alert resolved).
        self._mute_check_at = -_NEVER
        self._inhibitors = [
            _Inhibitor(parse_matchers(r.source), parse_matchers(r.target), tuple(r.equal))
            for r in self.options.inhibit
        ]
        self._due = _NEVER

    # ------------------------------------------------------------------ signals

    def apply(self, signals: Sequence[Signal]) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        latest = None
        for signal in signals:
            moment = signal.at.timestamp()
            latest = moment if latest is None else max(latest, moment)
            key = (signal.trigger, signal.subject, signal.channel)
            if signal.fire:
                self._fire(key, signal, moment, events)
            elif key in self.open:
                self._clear(key, moment, events)
        if latest is not None and latest >= self._due:
            self._flush_due(latest, events)
        return events

    def _fire(self, key: ConditionKey, signal: Signal, moment: float, events: list[AlertEvent]) -> None:
        current = self.open.get(key)
        track = self._tracks.get(key)
        if current is not None and track is not None and track.clearing_since is not None:
            if moment >= track.clearing_since + self.options.cool_down:
                self._resolve(key, track.clearing_since, events)
                current = None
            else:
                track.clearing_since = None
        severity = signal.severity or self._default_severity(signal.trigger, signal.kind)
        if current is None:
            self._open(key, signal, severity, events)
            return
        rose = SEVERITIES.index(severity) > SEVERITIES.index(current.severity)
        current.summary = signal.summary or current.summary
        current.evidence = signal.evidence or current.evidence
        if rose:
            current.severity = severity
        room = MAX_MENTIONS_PER_ALERT - len(current.mentions)
        if room > 0 and signal.mentions:
            seen = set(current.mentions)
            current.mentions.extend([m for m in signal.mentions if m not in seen][:room])
        if not rose:
            self.dirty.add(key)
            return
        track = self._tracks[key]
        notify = track.notified and self._muted(current, moment) is None
        events.append(
            AlertEvent("updated", _copy(current), notify=notify, key=f"{current.id}:updated:{severity}",
                       meta=self._meta(track.group))
        )
        if not track.notified and not track.pending:
            self._offer(key, moment)

    def _default_severity(self, trigger: str, kind: str) -> Severity:
        table = self.options.severities
        return table.get(trigger) or table.get(kind) or "medium"

    def _open(self, key: ConditionKey, signal: Signal, severity: Severity, events: list[AlertEvent]) -> None:
        alert = Alert(
            id=alert_id(*key, signal.at),
            kind=signal.kind,
            severity=severity,
            subject=signal.subject,
            channel=signal.channel,
            opened_at=signal.at,
            summary=signal.summary,
            evidence=signal.evidence,
            mentions=list(signal.mentions)[:MAX_MENTIONS_PER_ALERT],
            trigger=signal.trigger,
        )
        self.open[key] = alert
        group = self._group_for(alert)
        group.members.add(key)
        self._tracks[key] = _Track(group.id)
        self._index_source(key, alert, add=True)
        events.append(AlertEvent("opened", _copy(alert), notify=False, meta=self._meta(group.id)))
        self._unnotified.add(key)
        self._offer(key, signal.at.timestamp())

    def _clear(self, key: ConditionKey, moment: float, events: list[AlertEvent]) -> None:
        track = self._tracks[key]
        if self.options.cool_down <= 0:
            self._resolve(key, moment, events)
        elif track.clearing_since is None:
            track.clearing_since = max(moment, self.open[key].opened_at.timestamp())
            self._due = min(self._due, track.clearing_since + self.options.cool_down)

    def _resolve(self, key: ConditionKey, moment: float, events: list[AlertEvent]) -> None:
        alert = self.open.pop(key)
        track = self._tracks.pop(key)
        alert.resolved_at = max(from_timestamp(moment), alert.opened_at)
        self.dirty.discard(key)
        self._unnotified.discard(key)
        if self._index_source(key, alert, add=False):
            self._mute_check_at = -_NEVER
        group = self._groups.get(track.group)
        if group is not None:
            group.members.discard(key)
        notify = track.notified and self._muted(alert, moment) is None
        events.append(AlertEvent("resolved", _copy(alert), notify=notify, meta=self._meta(track.group)))

    # ------------------------------------------------------------------ ticks

    def tick(self, now: float | datetime) -> list[AlertEvent]:
        """The event-time clock reached `now`: resolve alerts whose cool-down ran out, notify
        alerts whose mute lifted, flush groups and re-notify."""
        moment = now.timestamp() if isinstance(now, datetime) else float(now)
        events: list[AlertEvent] = []
        if self._unnotified and moment >= self._mute_check_at:
            for key in sorted(self._unnotified):
                alert = self.open.get(key)
                track = self._tracks.get(key)
                if alert is None or track is None or track.pending:
                    continue
                if self._muted(alert, moment) is None:
                    self._offer(key, moment)
            edges = [edge for s in self.silences
                     for edge in (s.starts_at.timestamp(), s.ends_at.timestamp()) if edge > moment]
            self._mute_check_at = min(edges, default=_NEVER)
        if moment < self._due:
            return events
        self._due = _NEVER
        cool_down = self.options.cool_down
        for key, track in list(self._tracks.items()):
            if track.clearing_since is not None:
                if moment >= track.clearing_since + cool_down:
                    self._resolve(key, track.clearing_since, events)
                else:
                    self._due = min(self._due, track.clearing_since + cool_down)
        self._flush_due(moment, events, renotify=True)
        return events

    def _flush_due(self, moment: float, events: list[AlertEvent], renotify: bool = False) -> None:
        renotify_every = self.options.renotify
        for group in list(self._groups.values()):
            if group.flush_at is not None:
                if moment >= group.flush_at:
                    self._flush(group, moment, events)
                else:
                    self._due = min(self._due, group.flush_at)
            if renotify and renotify_every > 0 and group.last_sent is not None and group.members:
                if moment >= group.last_sent + renotify_every:
                    self._renotify(group, moment, events)
                self._due = min(self._due, group.last_sent + renotify_every)
            if not renotify:
                continue
            idle_until = (group.last_flush or -_NEVER) + self.options.group_interval
            if not group.members and not group.pending and moment >= idle_until:
                del self._groups[group.id]
            elif not group.members and not group.pending:
                self._due = min(self._due, idle_until)

    def _offer(self, key: ConditionKey, moment: float) -> None:
        """Queue an open, not yet notified alert for its group's next notification."""
        track = self._tracks[key]
        group = self._groups[track.group]
        track.pending = True
        group.pending.append(self.open[key])
        if group.flush_at is None:
            wait = moment + self.options.group_wait
            if group.last_flush is not None:
                wait = max(wait, group.last_flush + self.options.group_interval)
            group.flush_at = wait
        self._due = min(self._due, group.flush_at)

    def _flush(self, group: _Group, moment: float, events: list[AlertEvent]) -> None:
        candidates, group.pending, group.flush_at = group.pending, [], None
        ready: list[Alert] = []
        for alert in candidates:
            key = (alert.trigger, alert.subject, alert.channel)
            track = self._tracks.get(key)
            still_open = track is not None and self.open.get(key) is alert
            if still_open:
                track.pending = False  # type: ignore[union-attr]
            if self._muted(alert, moment) is not None:
                continue
            ready.append(alert)
            if still_open:
                track.notified = True  # type: ignore[union-attr]
                self._unnotified.discard(key)
        if not ready:
            return
        group.last_flush = group.last_sent = moment
        if self.options.renotify > 0:
            self._due = min(self._due, moment + self.options.renotify)
        self._due = min(self._due, moment + self.options.group_interval)
        meta = self._meta(group.id)
        if len(ready) == 1:
            self._announce(ready[0], meta, events)
        else:
            ready.sort(key=lambda a: (a.resolved_at is None, _severity_rank(a), a.id), reverse=True)
            ids = "|".join(sorted(a.id for a in ready))
            listing = {**meta, **self._listing(ready)}
            events.append(AlertEvent("opened", _copy(ready[0]), change=False,
                                     key=f"group-{_short_hash(ids)}:opened", meta=listing))
        # An alert that resolved while it waited for its group was announced above with its
        # resolved_at; its resolution is sent too, so that no receiver keeps it open.
        for alert in sorted((a for a in ready if a.resolved_at is not None), key=lambda a: a.id):
            events.append(AlertEvent("resolved", _copy(alert), change=False, meta=dict(meta)))

    @staticmethod
    def _announce(alert: Alert, meta: dict[str, Any], events: list[AlertEvent]) -> None:
        """The `opened` notification of one alert: the change event of this very call if there
        is one (opened and notified at once), else a notification of its own."""
        for event in reversed(events):
            if event.alert.id == alert.id and event.event == "opened" and event.change:
                event.notify, event.meta = True, meta
                return
        events.append(AlertEvent("opened", _copy(alert), change=False, meta=meta))

    def _renotify(self, group: _Group, moment: float, events: list[AlertEvent]) -> None:
        alerts = []
        for key in group.members:
            track = self._tracks[key]
            alert = self.open[key]
            if track.notified and self._muted(alert, moment) is None:
                alerts.append(alert)
        group.last_sent = moment
        if not alerts:
            return
        alerts.sort(key=lambda a: (_severity_rank(a), -a.opened_at.timestamp(), a.id), reverse=True)
        meta = self._meta(group.id)
        meta.update(self._listing(alerts))
        events.append(
            AlertEvent(
                "renotify", _copy(alerts[0]), change=False, meta=meta,
                key=f"group-{_short_hash(group.id)}:renotify:{format_time(from_timestamp(moment))}",
            )
        )

    @staticmethod
    def _listing(alerts: list[Alert]) -> dict[str, Any]:
        return {
            "count": len(alerts),
            "alerts": [alert_to_dict(a) for a in alerts[:MAX_ALERTS_PER_GROUP_NOTE]],
        }

    # ------------------------------------------------------------------ groups and mutes

    def _group_for(self, alert: Alert) -> _Group:
        labels = alert_labels(alert)
        chosen = {name: labels[name] for name in self.options.group_by}
        group_id = "|".join(f"{k}={v}" for k, v in chosen.items()) or "all"
        group = self._groups.get(group_id)
        if group is None:
            group = self._groups[group_id] = _Group(group_id, chosen)
        return group

    def _meta(self, group_id: str) -> dict[str, Any]:
        group = self._groups.get(group_id)
        return {"group": group_id, "group_labels": dict(group.labels) if group else {}}

    def _index_source(self, key: ConditionKey, alert: Alert, *, add: bool) -> bool:
        """Add or remove an open alert as an inhibition source; True if it is one."""
        if not self._inhibitors:
            return False
        found = False
        labels = alert_labels(alert)
        for rule in self._inhibitors:
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

    def muted_by(self, alert: Alert, moment: float) -> str | None:
        """Why notifications of `alert` are held back at event time `moment`, or None."""
        return self._muted(alert, moment)

    def _muted(self, alert: Alert, moment: float) -> str | None:
        if SEVERITIES.index(alert.severity) < SEVERITIES.index(self.options.notify_min_severity):
            return f"severity below {self.options.notify_min_severity}"
        if not self.silences and not self._inhibitors:
            return None
        labels = alert_labels(alert)
        for silence in self.silences:
            if silence.mutes(labels, moment):
                return f"silence {silence.id}"
        own = (alert.trigger, alert.subject, alert.channel)
        for rule in self._inhibitors:
            if not rule.open_sources or not matches_all(rule.target, labels):
                continue
            holders = rule.open_sources.get(tuple(labels[name] for name in rule.equal))
            if holders and (len(holders) > 1 or own not in holders):
                source = next(iter(k for k in holders if k != own))
                return f"inhibited by {self.open[source].id}"
        return None

    def set_silences(self, silences: Sequence[Silence]) -> None:
        """Replace the known silences (the pipeline polls the store for them)."""
        def shape(items: Sequence[Silence]) -> list[tuple[str, datetime, datetime]]:
            return [(s.id, s.starts_at, s.ends_at) for s in items]

        if shape(silences) != shape(self.silences):
            self._mute_check_at = -_NEVER
        self.silences = list(silences)

    # ------------------------------------------------------------------ checkpoints

    def take_dirty(self) -> list[Alert]:
        """Open alerts whose evidence changed since the last call (flushed at checkpoints)."""
        alerts = [self.open[key] for key in self.dirty if key in self.open]
        self.dirty.clear()
        return alerts

    def snapshot(self) -> dict[str, Any]:
        tracks = []
        for key, alert in self.open.items():
            track = self._tracks[key]
            tracks.append([alert_to_dict(alert), track.notified, track.clearing_since])
        groups = [
            [g.id, g.labels, [alert_to_dict(a) for a in g.pending], g.flush_at, g.last_flush,
             g.last_sent]
            for g in self._groups.values()
        ]
        return {"version": 2, "open": tracks, "groups": groups}

    def restore(self, state: list[dict[str, Any]] | dict[str, Any] | None) -> None:
        """Load a `snapshot` (or the version-1 form: a plain list of open alerts)."""
        self.open, self._tracks, self._groups = {}, {}, {}
        self._unnotified, self.dirty = set(), set()
        for rule in self._inhibitors:
            rule.open_sources.clear()
        if not state:
            return
        if isinstance(state, list):
            state = {"open": [[data, True, None] for data in state], "groups": []}
        for group_id, labels, pending, flush_at, last_flush, last_sent in state.get("groups", []):
            group = _Group(group_id, dict(labels), flush_at=flush_at, last_flush=last_flush,
                           last_sent=last_sent)
            group.pending = [msgspec.convert(data, Alert) for data in pending]
            self._groups[group_id] = group
        for data, notified, clearing_since in state.get("open", []):
            alert = msgspec.convert(data, Alert)
            key = (alert.trigger, alert.subject, alert.channel)
            group = self._group_for(alert)
            for index, waiting in enumerate(group.pending):
                if waiting.id == alert.id:
                    group.pending[index] = alert
            self.open[key] = alert
            group.members.add(key)
            pending = any(a is alert for a in group.pending)
            self._tracks[key] = _Track(group.id, notified, pending, clearing_since)
            if not notified:
                self._unnotified.add(key)
            self._index_source(key, alert, add=True)
        self._due = -_NEVER
        self._mute_check_at = -_NEVER
