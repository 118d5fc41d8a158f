"""Delivery of queued notifications: one worker per destination (notifier instance), in order.

The head of a destination's queue is retried with exponential backoff and jitter (tenacity)
until it is delivered, fails permanently, or grows older than `max_age`; the last two go to the
dead-letter list and the queue moves on. A delivery that was sent but not yet marked when the
daemon died is sent again with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec
import structlog
import tenacity

from sentineld.components import (
    Draft,
    Notification,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from sentineld.model import alert_from_dict
from sentineld.store.base import OutboxItem
from sentineld.supervisor import Guard

__all__ = ["DeliveryWorker", "decode_notification"]

log = structlog.get_logger("sentineld.outbox")

_decode = msgspec.json.Decoder(dict[str, Any]).decode


def decode_notification(item: OutboxItem) -> Notification:
    data = _decode(item.payload)
    alert = alert_from_dict(data["alert"]) if data.get("alert") else None
    draft = Draft(**data["draft"]) if data.get("draft") else None
    return Notification(
        key=item.key, event=data.get("event", ""), alert=alert, draft=draft,
        meta=data.get("meta", {}),
    )


class _WaitRetryAfter(tenacity.wait.wait_base):
    """Exponential backoff with jitter, but never sooner than the receiver's Retry-After."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.base = tenacity.wait_exponential_jitter(initial=initial, max=maximum)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self.base(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetryableDeliveryError) and error.retry_after:
            wait = max(wait, error.retry_after)
        return wait


class DeliveryWorker:
    """Delivers one destination's queue, head first."""

    def __init__(
        self,
        guard: Guard,
        store_call: Callable[..., Any],
        *,
        max_age: float = 86400.0,
        initial_backoff: float = 1.0,
        max_backoff: float = 300.0,
    ) -> None:
        self.guard = guard
        self.store_call = store_call
        self.max_age = max_age
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.wakeup = asyncio.Event()
        self.delivered = 0
        self.dead = 0

    @property
    def destination(self) -> str:
        return self.guard.id

    async def run(self) -> None:
        while True:
            item = await self.store_call("outbox_next", self.destination)
            if item is None:
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), timeout=1.0)
                except TimeoutError:
                    pass
                continue
            await self.deliver(item)

    async def deliver(self, item: OutboxItem) -> None:
        notification = decode_notification(item)
        deadline = item.created_at + self.max_age
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_not_exception_type(PermanentDeliveryError),
            wait=_WaitRetryAfter(self.initial_backoff, self.max_backoff),
            stop=tenacity.stop_before_delay(max(deadline - time.time(), 0.0)),
            before_sleep=lambda state: self._record_failure(item, state),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._attempt(notification)
        except PermanentDeliveryError as exc:
            await self._dead(item, f"permanent: {exc}")
        except Exception as exc:  # noqa: BLE001 - retries are exhausted: dead-letter it
            await self._dead(item, f"gave up after {self.max_age:g}s: {exc}")
        else:
            await self.store_call("outbox_delivered", item.seq, time.time())
            self.delivered += 1

    async def _attempt(self, notification: Notification) -> None:
        component = self.guard.component
        try:
            async with asyncio.timeout(self.guard.spec.timeout):
                await component.notify(notification)  # type: ignore[attr-defined]
        except TimeoutError:
            raise RetryableDeliveryError(f"timed out after {self.guard.spec.timeout:g}s") from None

    def _record_failure(self, item: OutboxItem, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.upcoming_sleep
        log.warning(
            "delivery failed, will retry",
            destination=self.destination,
            key=item.key,
            attempt=state.attempt_number,
            retry_in_s=round(wait, 2),
            error=repr(error),
        )
        self.guard.stats.errors += 1
        asyncio.get_running_loop().create_task(
            self.store_call("outbox_failed", item.seq, repr(error), time.time() + wait, False)
        )

    async def _dead(self, item: OutboxItem, reason: str) -> None:
        log.error("delivery dead-lettered", destination=self.destination, key=item.key, error=reason)
        self.dead += 1
        await self.store_call("outbox_failed", item.seq, reason, 0.0, True)
