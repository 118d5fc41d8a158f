"""Alert changes on their way to the store: completed from it, then written in one transaction.

The trigger stage gathers the alert changes and notifications of one item (a batch of mentions
or a clock tick) here and stores them together, alerts upserted and deliveries queued in event
order, instead of one transaction per event: a COMMIT costs more than the rows it writes. The
item's alerts are derived from mentions that a checkpoint has not covered yet, so a crash before
the write loses nothing: the restart re-derives them with the same ids and outbox keys.

Events about alerts whose text is no longer in memory (see `sentineld.alerting`) are completed
here first, from what is about to be written or else from the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from sentineld.alerting import AlertEvent, complete_alert, finish_event
from sentineld.changes import redact_alert
from sentineld.model import Alert, alert_to_dict
from sentineld.store.base import StoreError

__all__ = ["AlertWrites"]

log = structlog.get_logger("sentineld.alerts")

Delivery = tuple[str, str, bytes]


class AlertWrites:
    """Buffers alert changes and deliveries for `flush` (one store transaction)."""

    def __init__(self, call: Callable[..., Any]) -> None:
        #: The store worker's ``call`` (``await call("method", ...)`` on the store thread).
        self.call = call
        self.alerts: dict[str, Alert] = {}
        #: The alerts of the items ended since the last `flush` (see `end_item`), in order.
        self.ended: list[Alert] = []
        self.deliveries: list[Delivery] = []
        self.events: list[tuple[AlertEvent, list[Delivery]]] = []

    def __bool__(self) -> bool:
        return bool(self.events or self.alerts or self.ended or self.deliveries)

    def end_item(self) -> None:
        """The alerts gathered so far are written at the next `flush` before those gathered
        after: several items share one transaction, and each is upserted in its own order as if
        it had had its own (the rows, rowids included, come out the same)."""
        if self.alerts:
            self.ended += self.alerts.values()
            self.alerts = {}

    def add(self, event: AlertEvent, deliveries: list[Delivery]) -> None:
        """Store `event`'s alert if it changed, and queue `deliveries`, at the next `flush`."""
        if event.change:
            self.alerts.pop(event.alert.id, None)  # keeps the order of the last change
            self.alerts[event.alert.id] = event.alert
        self.deliveries += deliveries
        self.events.append((event, deliveries))

    async def complete(self, events: Sequence[AlertEvent]) -> None:
        """Complete the partial alerts of `events` in place (see `AlertEvent.partial`)."""
        wanted = {alert_id for event in events for alert_id in event.partial}
        if not wanted:
            return
        stored = await self._stored(wanted)
        for event in events:
            finish_event(event, stored)

    async def withhold_deleted(self, events: Sequence[AlertEvent], until: float) -> None:
        """Redact, in place, the alerts of `events` that name a mention its author deleted by
        event time `until` (`sentineld.changes.redact_alert`): the trigger's copy of an open
        alert still quotes the post, and its later notifications and live events must not.
        Bounded by event time so that a replay redacts the same events whatever the ingest
        stage has already read ahead."""
        ids = sorted({m for event in events for alert in (event.alert, *event.listed) for m in alert.mentions})
        deleted = await self.deleted(ids, until)
        if not deleted:
            return
        for event in events:
            event.alert = _withheld(event.alert, deleted)
            if event.listed:
                event.listed = [_withheld(alert, deleted) for alert in event.listed]
                event.meta["alerts"] = [alert_to_dict(alert) for alert in event.listed]

    async def deleted(self, ids: Sequence[str], until: float) -> set[str]:
        """Which of `ids` their authors deleted by event time `until` (retrying while the
        store is in trouble)."""
        if not ids:
            return set()
        found: set[str] = await self._retry("cannot read deletions; retrying", "deleted_mentions", ids, until)
        return found

    async def add_dirty(self, dirty: Sequence[tuple[Alert, bool]]) -> None:
        """Store alerts whose text changed without an event (from `AlertManager.take_dirty`)."""
        partial = {alert.id for alert, is_partial in dirty if is_partial}
        stored = await self._stored(partial) if partial else {}
        for alert, is_partial in dirty:
            whole = complete_alert(alert, stored.get(alert.id)) if is_partial else alert
            self.alerts.pop(whole.id, None)
            self.alerts[whole.id] = whole

    async def flush(self) -> list[tuple[AlertEvent, list[Delivery]]]:
        """Write what was gathered in one transaction (retrying while the store is in trouble);
        returns the events written, in order, with their deliveries."""
        if not self:
            return []
        alerts, deliveries, events = [*self.ended, *self.alerts.values()], self.deliveries, self.events
        self.alerts, self.ended, self.deliveries, self.events = {}, [], [], []
        await self._retry("cannot store alerts; retrying", "record_alerts", alerts, deliveries)
        return events

    async def _stored(self, ids: set[str]) -> dict[str, Alert]:
        """The newest form of these alerts: about to be written, else stored."""
        found = {alert_id: self.alerts[alert_id] for alert_id in ids if alert_id in self.alerts}
        for alert in reversed(self.ended):  # the newest form of an earlier item's alert
            if alert.id in ids and alert.id not in found:
                found[alert.id] = alert
        missing = sorted(ids - found.keys())
        if missing:
            found.update(await self._retry("cannot read alerts; retrying", "alerts_by_id", missing))
        return found

    async def _retry(self, message: str, method: str, *args: Any) -> Any:
        delay = 0.5
        while True:
            try:
                return await self.call(method, *args)
            except StoreError as exc:
                log.error(message, error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def _withheld(alert: Alert, deleted: set[str]) -> Alert:
    names = deleted.intersection(alert.mentions)
    return redact_alert(alert, names) if names else alert
