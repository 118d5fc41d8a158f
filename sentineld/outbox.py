"""Delivery of queued notifications: one worker per destination (notifier instance), in order.

A notification is queued in the store in the same transaction that records its alert. Each
destination's worker takes the oldest pending one and retries it with exponential backoff and
jitter (tenacity) until it is delivered, fails permanently, or has waited longer than
`OutboxOptions.max_age`; the last two go to the dead-letter list and the queue moves on
(`sentineld outbox --dead` lists them, `--retry ID` puts one back).

What counts as retryable: `RetryableDeliveryError` (timeouts, connection errors, 5xx, 429 — the
receiver's ``Retry-After`` is honoured, even across a restart), a call that outlives the
component's ``timeout``, and any unexpected exception. `PermanentDeliveryError` (other 4xx, a
payload the receiver rejects) is dead-lettered at once.

Delivery is at least once: a notification sent but not yet marked delivered when the daemon
died, or whose answer timed out, is sent again with the same idempotency key (`Notification.key`),
so a receiver that honours the key sees it exactly once. See docs/decisions/0400.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from sentineld.components import (
    Draft,
    Notification,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from sentineld.logs import get_logger
from sentineld.model import alert_from_dict
from sentineld.options import Duration, Options

if TYPE_CHECKING:
    import tenacity

    from sentineld.store.base import OutboxItem
    from sentineld.supervisor import Guard

__all__ = ["DeliveryWorker", "OutboxOptions", "decode_notification"]

log = get_logger("sentineld.outbox")

_decode = msgspec.json.Decoder(dict[str, Any]).decode


class OutboxOptions(Options):
    """The ``[outbox]`` section: how long and how patiently notifications are delivered."""

    #: How long a notification may wait for delivery, counted from when it was queued (or
    #: re-queued with `sentineld outbox --retry`), before it goes to the dead-letter list.
    max_age: Duration = Duration(86400)
    #: Wait after the first failed attempt; it doubles with each failure (plus random jitter).
    initial_backoff: Duration = Duration(1)
    #: Longest wait between two attempts, unless the receiver's Retry-After asks for longer.
    max_backoff: Duration = Duration(300)
    #: How often an idle destination looks for deliveries re-queued from the command line.
    poll: Duration = Duration(1)


def decode_notification(item: OutboxItem) -> Notification:
    """The `Notification` stored in an outbox row (raises ValueError if it cannot be read)."""
    try:
        data = _decode(item.payload)
        alert = alert_from_dict(data["alert"]) if data.get("alert") else None
        draft = Draft(**data["draft"]) if data.get("draft") else None
        return Notification(
            key=item.key, event=data.get("event", ""), alert=alert, draft=draft,
            meta=data.get("meta", {}),
        )
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable outbox payload: {exc}") from None


def _is_retryable(error: BaseException) -> bool:
    # Cancellation (shutdown) must propagate, never be retried: tenacity sees BaseExceptions too.
    return isinstance(error, Exception) and not isinstance(error, PermanentDeliveryError)


class _Backoff:
    """Exponential backoff with jitter, but never sooner than the receiver's Retry-After."""

    def __init__(self, initial: float, maximum: float) -> None:
        import tenacity

        self.base = tenacity.wait_exponential(multiplier=initial, max=maximum) + tenacity.wait_random(
            0, initial
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self.base(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetryableDeliveryError) and error.retry_after:
            wait = max(wait, error.retry_after)
        return wait


class DeliveryWorker:
    """Delivers one destination's queue, oldest first; the next waits until the head is done."""

    def __init__(
        self,
        guard: Guard,
        store_call: Callable[..., Any],
        settings: OutboxOptions | None = None,
    ) -> None:
        self.guard = guard
        self.store_call = store_call
        self.settings = settings or OutboxOptions()
        self.wakeup = asyncio.Event()
        self.delivered = 0
        self.dead = 0
        self.failures = 0

    @property
    def destination(self) -> str:
        return self.guard.id

    async def run(self) -> None:
        """Deliver until cancelled; an empty queue waits for `wakeup` (or polls)."""
        while True:
            self.wakeup.clear()
            item = await self._next()
            if item is None:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation
                # that lands as the wakeup fires, and the worker then never stops.
                try:
                    async with asyncio.timeout(self.settings.poll):
                        await self.wakeup.wait()
                except TimeoutError:
                    pass
                continue
            await self.deliver(item)

    async def drain(self) -> int:
        """Deliver (or dead-letter) everything queued now and return how many were handled."""
        handled = 0
        while (item := await self._next()) is not None:
            await self.deliver(item)
            handled += 1
        return handled

    async def _next(self) -> OutboxItem | None:
        from sentineld.store.base import StoreError

        try:
            item: OutboxItem | None = await self.store_call("outbox_next", self.destination)
        except StoreError as exc:
            log.error("cannot read the outbox; will try again", destination=self.destination,
                      error=str(exc))
            await asyncio.sleep(self.settings.poll)
            return None
        return item

    async def deliver(self, item: OutboxItem) -> str:
        """Deliver one queued item with retries; returns "delivered" or "dead"."""
        import tenacity

        try:
            notification = decode_notification(item)
        except ValueError as exc:
            return await self._dead(item, f"permanent: {exc}")
        deadline = item.created_at + self.settings.max_age
        # After a restart, honour the Retry-After a receiver asked for before it.
        pause = min(item.next_attempt_at, deadline) - time.time()
        if pause > 0:
            await asyncio.sleep(pause)

        async def before_sleep(state: tenacity.RetryCallState) -> None:
            await self._failed(item, state)

        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(_is_retryable),
            wait=_Backoff(self.settings.initial_backoff, self.settings.max_backoff),
            stop=tenacity.stop_before_delay(max(deadline - time.time(), 0.0)),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._attempt(notification)
        except PermanentDeliveryError as exc:
            return await self._dead(item, f"permanent: {exc}")
        except Exception as exc:  # noqa: BLE001 - the retry budget is spent: dead-letter it
            return await self._dead(
                item, f"gave up after {Duration(self.settings.max_age)}: {_describe(exc)}"
            )
        await self._store("outbox_delivered", item.seq, time.time())
        self.delivered += 1
        return "delivered"

    async def _attempt(self, notification: Notification) -> None:
        limit = self.guard.spec.timeout
        self.guard.stats.calls += 1
        try:
            async with asyncio.timeout(limit):
                await self.guard.component.notify(notification)  # type: ignore[attr-defined]
        except TimeoutError:
            self.guard.stats.timeouts += 1
            raise RetryableDeliveryError(f"no answer within {limit:g}s") from None

    async def _failed(self, item: OutboxItem, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.upcoming_sleep
        self.failures += 1
        self.guard.stats.errors += 1
        self.guard.stats.last_error = _describe(error)
        log.warning(
            "delivery failed, will retry",
            destination=self.destination,
            key=item.key,
            attempt=state.attempt_number,
            retry_in_s=round(wait, 3),
            error=_describe(error),
        )
        await self._store("outbox_failed", item.seq, _describe(error), time.time() + wait, False)

    async def _dead(self, item: OutboxItem, reason: str) -> str:
        log.error("delivery dead-lettered", destination=self.destination, key=item.key,
                  seq=item.seq, error=reason)
        self.dead += 1
        await self._store("outbox_failed", item.seq, reason, 0.0, True)
        return "dead"

    async def _store(self, method: str, *args: Any) -> None:
        """A store write that must not be lost: retried until the store takes it."""
        from sentineld.store.base import StoreError

        delay = 0.5
        while True:
            try:
                await self.store_call(method, *args)
                return
            except StoreError as exc:
                log.error("cannot update the outbox; retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    if isinstance(error, RetryableDeliveryError | PermanentDeliveryError):
        return str(error)
    return f"{type(error).__name__}: {error}"
