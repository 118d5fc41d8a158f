"""The `AlertManager`: the alert lifecycle (open, update, cool-down, resolve, staleness), the
notification groups (group_wait, group_interval, re-notify) and the mutes, in event time, and
its checkpoint. See the package docstring."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import msgspec

from sentineld.alerting.events import (
    MAX_MENTIONS_PER_ALERT,
    RESOLUTION,
    AlertEvent,
    copy_alert,
)
from sentineld.alerting.mutes import Mutes
from sentineld.alerting.records import (
    ConditionChanges,
    ConditionKey,
    OpenAlerts,
    OpenRecord,
    decode_row,
    pending_row,
)
from sentineld.alerting.signals import RANK, Signal
from sentineld.alertrules import AlertingOptions, Silence, alert_labels
from sentineld.model import Alert, Severity, alert_id, alert_to_dict, format_time, from_timestamp

__all__ = ["AlertManager"]

#: Alerts listed in one group notification's meta (the count says how many there were).
MAX_ALERTS_PER_GROUP_NOTE: Final = 20
_NEVER: Final = float("inf")


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(slots=True)
class _Group:
    """Alerts sharing the `group_by` labels; notified together."""

    id: str
    labels: dict[str, str]
    members: set[ConditionKey] = field(default_factory=set)
    pending: list[OpenRecord] = field(default_factory=list)
    flush_at: float | None = None
    last_flush: float | None = None
    last_sent: float | None = None


class AlertManager:
    """Applies trigger signals and clock ticks to the open alerts; returns the resulting events
    (for the pipeline to store and route)."""

    def __init__(self, options: AlertingOptions | None = None) -> None:
        self.options = options or AlertingOptions()
        self.open = OpenAlerts()
        #: Open alerts whose text changed without an event (stored at the next checkpoint).
        self.dirty: set[ConditionKey] = set()
        self.mutes = Mutes(self.options)
        self._groups: dict[str, _Group] = {}
        self._unnotified: set[ConditionKey] = set()
        self._clearing: set[ConditionKey] = set()
        #: Records holding a body (dropped at each checkpoint, once the bodies are stored).
        self._hot: list[OpenRecord] = []
        self._changed: set[ConditionKey] = set()
        self._reset_rows = False
        self._order = 0
        #: Event time from which muted alerts must be looked at again (a silence starts or
        #: ends, or -inf after the silences changed or an inhibiting alert resolved).
        self._mute_check_at = -_NEVER
        self._due = _NEVER

    def waiting(self) -> int:
        """Alerts held for their group's next notification (`group_wait`, `group_interval`)."""
        return sum(len(group.pending) for group in self._groups.values())

    @property
    def silences(self) -> list[Silence]:
        return self.mutes.silences

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
            else:
                record = self.open.get(key)
                if record is not None:
                    self._clear(record, moment, signal.reason, events)
        if latest is not None and latest >= self._due:
            self._flush_due(latest, events)
        return events

    def _fire(self, key: ConditionKey, signal: Signal, moment: float, events: list[AlertEvent]) -> None:
        record = self.open.get(key)
        if record is not None and record.clearing_since is not None:
            if moment >= record.clearing_since + self.options.cool_down:
                self._resolve(record, record.clearing_since, events)
                record = None
            else:
                record.clearing_since = None
                self._clearing.discard(key)
        severity = signal.severity or self._default_severity(signal.trigger, signal.kind)
        if record is None:
            self._open(key, signal, severity, moment, events)
            return
        self._asserted(record, moment)
        body = self._body(record)
        body.summary = signal.summary or body.summary
        body.evidence = signal.evidence or body.evidence
        room = MAX_MENTIONS_PER_ALERT - len(body.mentions)
        if room > 0 and signal.mentions:
            seen = set(body.mentions)
            body.mentions.extend([m for m in signal.mentions if m not in seen][:room])
        if RANK[severity] <= RANK[record.severity]:
            self.dirty.add(key)
            return
        record.severity = body.severity = severity
        notify = record.notified and self._muted(record.labels(), key, moment) is None
        alert, partial = self._alert(record)
        events.append(
            AlertEvent("updated", alert, notify=notify, key=f"{record.id}:updated:{severity}",
                       meta=self._meta(record.group), partial=partial)
        )
        if not record.notified and not record.pending:
            self._offer(record, moment)

    def _default_severity(self, trigger: str, kind: str) -> Severity:
        table = self.options.severities
        return table.get(trigger) or table.get(kind) or "medium"

    def _open(self, key: ConditionKey, signal: Signal, severity: Severity, moment: float,
              events: list[AlertEvent]) -> None:
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
        labels = alert_labels(alert)
        group = self._group_for(labels)
        self._order += 1
        record = OpenRecord(key, alert.id, alert.kind, severity, moment, group.id, moment, self._order,
                       body=alert)
        self._hot.append(record)
        self._changed.add(key)
        count = self.open.add(record)
        group.members.add(key)
        self.mutes.index_source(key, labels, add=True)
        events.append(AlertEvent("opened", copy_alert(alert), notify=False, meta=self._meta(group.id)))
        self._unnotified.add(key)
        self._offer(record, moment)
        if 0 < self.options.max_open < count:
            oldest = self.open.oldest(key[0])
            if oldest is not None and oldest is not record:
                self._resolve(oldest, moment, events,
                              f"stale: {signal.trigger} has more than {self.options.max_open} "
                              "open alerts and this one was asserted least recently")

    def _clear(self, record: OpenRecord, moment: float, reason: str | None,
               events: list[AlertEvent]) -> None:
        if self.options.cool_down <= 0 or reason:
            self._resolve(record, moment, events, reason)
        elif record.clearing_since is None:
            record.clearing_since = max(moment, record.opened)
            self._clearing.add(record.key)
            self._changed.add(record.key)
            self._due = min(self._due, record.clearing_since + self.options.cool_down)

    def _resolve(self, record: OpenRecord, moment: float, events: list[AlertEvent],
                 reason: str | None = None) -> None:
        key = record.key
        self.open.pop(key)
        record.resolved = max(moment, record.opened)
        self._changed.add(key)
        self.dirty.discard(key)
        self._unnotified.discard(key)
        self._clearing.discard(key)
        labels = record.labels()
        if self.mutes.index_source(key, labels, add=False):
            self._mute_check_at = -_NEVER
        group = self._groups.get(record.group)
        if group is not None:
            group.members.discard(key)
        # A resolution with a reason is given up, not cleared (stale, no longer followed): it
        # is stored with the reason but not notified, since the condition may still hold.
        record.gave_up = bool(reason)
        notify = record.notified and not reason and self._muted(labels, key, moment) is None
        meta = self._meta(record.group)
        if reason:
            meta[RESOLUTION] = reason
        if record.body is not None:
            record.body.resolved_at = from_timestamp(record.resolved)
            if reason:
                record.body.evidence = {**record.body.evidence, RESOLUTION: reason}
        alert, partial = self._alert(record)
        events.append(AlertEvent("resolved", alert, notify=notify, meta=meta, partial=partial))

    def _asserted(self, record: OpenRecord, moment: float) -> None:
        self._order += 1
        record.seen, record.order = max(record.seen, moment), self._order
        self.open.asserted(record)
        self._changed.add(record.key)

    def _body(self, record: OpenRecord) -> Alert:
        """The record's body, made (as a patch over the stored alert) if it has none."""
        if record.body is None:
            record.body = record.stub()
            record.patch = True
            self._hot.append(record)
        return record.body

    @staticmethod
    def _alert(record: OpenRecord) -> tuple[Alert, set[str]]:
        """A copy of the alert for an event, and whether it is partial."""
        if record.body is None:
            return record.stub(), {record.id}
        return copy_alert(record.body), ({record.id} if record.patch else set())

    # ------------------------------------------------------------------ ticks

    def tick(self, now: float | datetime) -> list[AlertEvent]:
        """The event-time clock reached `now`: resolve alerts whose cool-down ran out or that
        went stale, notify alerts whose mute lifted, flush groups and re-notify."""
        moment = now.timestamp() if isinstance(now, datetime) else float(now)
        events: list[AlertEvent] = []
        if self._unnotified and moment >= self._mute_check_at:
            for key in sorted(self._unnotified):
                record = self.open.get(key)
                if record is None or record.pending:
                    continue
                if self._muted(record.labels(), key, moment) is None:
                    self._offer(record, moment)
            self._mute_check_at = self.mutes.next_edge(moment)
        if self.options.stale_after > 0:
            self._expire(moment, events)
        if moment < self._due:
            return events
        self._due = _NEVER
        cool_down = self.options.cool_down
        for key in sorted(self._clearing):
            record = self.open[key]
            assert record.clearing_since is not None
            if moment >= record.clearing_since + cool_down:
                self._resolve(record, record.clearing_since, events)
            else:
                self._due = min(self._due, record.clearing_since + cool_down)
        self._flush_due(moment, events, renotify=True)
        return events

    def _expire(self, moment: float, events: list[AlertEvent]) -> None:
        """Resolve the alerts not asserted for `stale_after` (Alertmanager's resolve_timeout).
        Alerts are looked at least recently asserted first, so this stops at the first fresh one."""
        limit = self.options.stale_after
        for trigger in list(self.open.by_trigger):
            while (record := self.open.oldest(trigger)) is not None and record.seen + limit <= moment:
                self._resolve(record, record.seen + limit, events,
                              f"stale: not asserted by {trigger} for {limit}")

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

    def _offer(self, record: OpenRecord, moment: float) -> None:
        """Queue an open, not yet notified alert for its group's next notification."""
        group = self._groups[record.group]
        record.pending = True
        group.pending.append(record)
        if group.flush_at is None:
            wait = moment + self.options.group_wait
            if group.last_flush is not None:
                wait = max(wait, group.last_flush + self.options.group_interval)
            group.flush_at = wait
        self._due = min(self._due, group.flush_at)

    def _flush(self, group: _Group, moment: float, events: list[AlertEvent]) -> None:
        candidates, group.pending, group.flush_at = group.pending, [], None
        ready: list[OpenRecord] = []
        for record in candidates:
            still_open = record.resolved is None and self.open.get(record.key) is record
            if still_open:
                record.pending = False
            if self._muted(record.labels(), record.key, moment) is not None:
                continue
            ready.append(record)
            if still_open:
                record.notified = True
                self._changed.add(record.key)
                self._unnotified.discard(record.key)
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
            ready.sort(key=lambda r: (r.resolved is None, RANK[r.severity], r.id), reverse=True)
            ids = "|".join(sorted(r.id for r in ready))
            events.append(self._listing_event("opened", ready, {**meta},
                                              key=f"group-{_short_hash(ids)}:opened"))
        # An alert that resolved while it waited for its group was announced above with its
        # resolved_at; its resolution is sent too, so that no receiver keeps it open (unless
        # it was given up: see `_resolve`).
        for record in sorted((r for r in ready if r.resolved is not None and not r.gave_up),
                             key=lambda r: r.id):
            alert, partial = self._alert(record)
            events.append(AlertEvent("resolved", alert, change=False, meta=dict(meta), partial=partial))

    def _announce(self, record: OpenRecord, meta: dict[str, Any], events: list[AlertEvent]) -> None:
        """The `opened` notification of one alert: the change event of this very call if there
        is one (opened and notified at once), else a notification of its own."""
        for event in reversed(events):
            if event.alert.id == record.id and event.event == "opened" and event.change:
                event.notify, event.meta = True, meta
                return
        alert, partial = self._alert(record)
        events.append(AlertEvent("opened", alert, change=False, meta=meta, partial=partial))

    def _renotify(self, group: _Group, moment: float, events: list[AlertEvent]) -> None:
        records = [
            record for record in (self.open[key] for key in group.members)
            if record.notified and self._muted(record.labels(), record.key, moment) is None
        ]
        group.last_sent = moment
        if not records:
            return
        records.sort(key=lambda r: (RANK[r.severity], -r.opened, r.id), reverse=True)
        events.append(self._listing_event(
            "renotify", records, self._meta(group.id),
            key=f"group-{_short_hash(group.id)}:renotify:{format_time(from_timestamp(moment))}",
        ))

    def _listing_event(self, name: str, records: list[OpenRecord], meta: dict[str, Any], key: str) -> AlertEvent:
        """A notification about several alerts: the first (most severe) as its alert, the first
        `MAX_ALERTS_PER_GROUP_NOTE` listed in its meta, and how many there were."""
        partial: set[str] = set()
        listed = []
        for record in records[:MAX_ALERTS_PER_GROUP_NOTE]:
            alert, incomplete = self._alert(record)
            listed.append(alert)
            partial |= incomplete
        meta.update(count=len(records), alerts=[alert_to_dict(a) for a in listed])
        return AlertEvent(name, listed[0], change=False, key=key, meta=meta, listed=listed,
                          partial=partial)

    # ------------------------------------------------------------------ groups and mutes

    def _group_for(self, labels: Mapping[str, str]) -> _Group:
        chosen = {name: labels[name] for name in self.options.group_by}
        group_id = "|".join(f"{k}={v}" for k, v in chosen.items()) or "all"
        group = self._groups.get(group_id)
        if group is None:
            group = self._groups[group_id] = _Group(group_id, chosen)
        return group

    def _meta(self, group_id: str) -> dict[str, Any]:
        group = self._groups.get(group_id)
        return {"group": group_id, "group_labels": dict(group.labels) if group else {}}

    def muted_by(self, alert: Alert, moment: float) -> str | None:
        """Why notifications of `alert` are held back at event time `moment`, or None."""
        return self._muted(alert_labels(alert), (alert.trigger, alert.subject, alert.channel), moment)

    def _muted(self, labels: Mapping[str, str], own: ConditionKey, moment: float) -> str | None:
        return self.mutes.why(labels, own, moment, self.open)

    def set_silences(self, silences: Sequence[Silence]) -> None:
        """Replace the known silences (the pipeline polls the store for them)."""
        if self.mutes.set_silences(silences):
            self._mute_check_at = -_NEVER

    # ------------------------------------------------------------------ checkpoints

    def take_dirty(self) -> list[tuple[Alert, bool]]:
        """Alerts whose text changed since the last call without an event, each with whether it
        is partial (to complete from the store before storing it). Then every open alert's text
        is let go: from here on it is read from the store when an event needs it."""
        dirty = []
        for key in sorted(self.dirty):
            record = self.open.get(key)
            if record is not None and record.body is not None:
                dirty.append((copy_alert(record.body), record.patch))
        self.dirty.clear()
        for record in self._hot:
            record.body, record.patch = None, False
        self._hot = []
        return dirty

    def snapshot(self, *, whole: bool = True) -> dict[str, Any]:
        """The state to `restore`: the groups with the alerts waiting for their notification,
        the assertion count and, if `whole`, every open alert with its text. The pipeline takes
        it without the open alerts (``whole=False``): their rows go to the store as they change
        (`take_changes`) and their text is stored already."""
        groups = [
            [g.id, g.labels, [pending_row(r) for r in g.pending], g.flush_at, g.last_flush,
             g.last_sent]
            for g in self._groups.values()
        ]
        state: dict[str, Any] = {"version": 3, "order": self._order, "groups": groups}
        if whole:
            state["open"] = [
                [alert_to_dict(r.body or r.stub()), r.notified, r.clearing_since, r.seen, r.order]
                for r in self.open.values()
            ]
        return state

    def take_changes(self) -> ConditionChanges:
        """The rows of the open alerts that opened, changed or closed since the last call."""
        rows = []
        for key in sorted(self._changed):
            record = self.open.get(key)
            rows.append((*key, record.row() if record is not None else None))
        changes = ConditionChanges(rows, self._reset_rows)
        self._changed.clear()
        self._reset_rows = False
        return changes

    def condition_rows(self) -> list[tuple[str, str, str, bytes]]:
        """Every open alert's row (what the store holds after all changes were taken)."""
        return [(*key, record.row()) for key, record in self.open.items()]

    def restore(
        self,
        state: list[dict[str, Any]] | dict[str, Any] | None,
        rows: Sequence[tuple[str, str, str, bytes]] = (),
    ) -> None:
        """Load a `snapshot`: taken whole, or without the open alerts, whose `rows` the store
        gives then. Older forms hold the open alerts whole too (version 2; version 1: a plain
        list of them). From a whole snapshot, every row is written at the next checkpoint."""
        self.open = OpenAlerts()
        self._groups, self._unnotified, self._clearing = {}, set(), set()
        self.dirty, self._hot, self._changed = set(), [], set()
        self.mutes.forget_sources()
        self._due = self._mute_check_at = -_NEVER
        self._order = 0
        self._reset_rows = False
        if isinstance(state, list):
            state = {"open": [[data, True, None] for data in state], "groups": []}
        state = state or {}
        records: list[OpenRecord] = []
        if "open" in state:  # a whole snapshot
            self._reset_rows = True
            for order, (data, notified, clearing_since, *since) in enumerate(state["open"], 1):
                alert = msgspec.convert(data, Alert)
                opened = alert.opened_at.timestamp()
                seen, order = since or (opened, order)  # version 2 kept neither
                record = OpenRecord((alert.trigger, alert.subject, alert.channel), alert.id, alert.kind,
                               alert.severity, opened, "", seen, order, notified,
                               clearing_since=clearing_since, body=alert)
                records.append(record)
                self._hot.append(record)
            records.sort(key=lambda r: r.order)
        else:
            for trigger, subject, channel, row in rows:
                id_, kind, severity, opened, seen, order, notified, clearing_since = decode_row(row)
                records.append(OpenRecord((trigger, subject, channel), id_, kind, severity, opened, "",
                                     seen, order, notified, clearing_since=clearing_since))
            records.sort(key=lambda r: r.order)
        self._order = max(state.get("order", 0), max((r.order for r in records), default=0))
        for group_id, labels, _, flush_at, last_flush, last_sent in state.get("groups", []):
            self._groups[group_id] = _Group(group_id, dict(labels), flush_at=flush_at,
                                            last_flush=last_flush, last_sent=last_sent)
        for record in records:
            labels = record.labels()
            record.group = self._group_for(labels).id
            self.open.add(record)
            self._groups[record.group].members.add(record.key)
            if not record.notified:
                self._unnotified.add(record.key)
            if record.clearing_since is not None:
                self._clearing.add(record.key)
            self.mutes.index_source(record.key, labels, add=True)
            if self._reset_rows:
                self._changed.add(record.key)
        for group_id, _, pending, *_ in state.get("groups", []):
            group = self._groups[group_id]
            for entry in pending:
                group.pending.append(self._pending_record(entry, group_id))

    def _pending_record(self, entry: Any, group_id: str) -> OpenRecord:
        """A group's waiting alert from its checkpoint row (version 2: the alert's dict)."""
        if isinstance(entry, dict):
            alert = msgspec.convert(entry, Alert)
            key = (alert.trigger, alert.subject, alert.channel)
            resolved = alert.resolved_at.timestamp() if alert.resolved_at else None
            entry = [*key, alert.id, alert.kind, alert.severity, alert.opened_at.timestamp(), resolved]
        trigger, subject, channel, id_, kind, severity, opened, resolved, *gave_up = entry
        key = (trigger, subject, channel)
        record = self.open.get(key)
        if record is not None and record.id == id_ and resolved is None:
            record.pending = True
            return record
        return OpenRecord(key, id_, kind, severity, opened, group_id, opened, 0, resolved=resolved,
                     gave_up=bool(gave_up and gave_up[0]))

