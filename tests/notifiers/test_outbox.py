"""The DeliveryWorker against a real SQLite store and a real (local) webhook receiver."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.notifiers.receivers import WebhookReceiver
from tests.notifiers.rig import SECRET


async def test_delivers_in_queue_order(rig) -> None:
    r = await rig()
    keys = r.enqueue(5)
    assert await r.worker.drain() == 5
    assert list(r.receiver.processed) == keys
    assert [i.state for i in r.items()] == ["delivered"] * 5


async def test_permanent_rejection_is_dead_lettered_and_the_queue_moves_on(rig) -> None:
    r = await rig()
    keys = r.enqueue(3)
    r.receiver.fail_next.append((422, {}, "unknown alert kind"))
    await r.worker.drain()
    first, *rest = r.items()
    assert first.state == "dead" and first.attempts == 1
    assert first.last_error == "permanent: webhook receiver answered 422: unknown alert kind"
    assert [i.state for i in rest] == ["delivered", "delivered"]
    assert list(r.receiver.processed) == keys[1:]


async def test_exhausted_retries_are_dead_lettered_then_a_retry_delivers(rig) -> None:
    r = await rig(max_age="300ms")
    [key] = r.enqueue(1)
    r.receiver.mode = "unavailable"
    await r.worker.drain()
    [item] = r.items()
    assert item.state == "dead" and item.attempts > 3
    assert item.last_error.startswith("gave up after 300ms: webhook receiver answered 503")

    r.receiver.mode = "ok"
    assert r.store.store.outbox_retry(item.seq)  # a fresh budget, though max_age has passed
    await r.worker.drain()
    assert [i.state for i in r.items()] == ["delivered"]
    assert list(r.receiver.processed) == [key]


async def test_retry_after_is_honoured(rig) -> None:
    r = await rig()
    r.enqueue(1)
    r.receiver.fail_next.append((429, {"Retry-After": "1"}, "slow down"))
    await r.worker.drain()
    first, second = r.receiver.times
    assert second - first >= 1.0  # the backoff alone would have waited 10–20 ms
    assert [i.state for i in r.items()] == ["delivered"]


async def test_retry_after_is_honoured_after_a_restart(rig) -> None:
    r = await rig()
    r.enqueue(1)
    [item] = r.items()
    not_before = time.time() + 0.5
    r.store.store.outbox_failed(item.seq, "429 before the restart", not_before, False)
    await r.worker.drain()
    assert r.receiver.times[0] >= not_before


async def test_a_lost_answer_is_retried_and_processed_once(rig) -> None:
    r = await rig(WebhookReceiver(SECRET, hang_for=0.6))
    keys = r.enqueue(2)
    r.receiver.mode = "hang"  # processes, then answers after the notifier's 300 ms timeout

    async def recover() -> None:
        while len(r.receiver.requests) < 2:
            await asyncio.sleep(0.01)
        r.receiver.mode = "ok"

    await asyncio.gather(r.worker.drain(), recover())
    assert r.receiver.duplicates >= 1
    assert list(r.receiver.processed) == keys
    [head, _] = r.items()
    assert head.attempts >= 2 and head.state == "delivered"
    assert "no answer within 0.3s" in head.last_error


async def test_shutdown_is_not_mistaken_for_a_failure(rig) -> None:
    r = await rig()
    r.enqueue(1)
    r.receiver.mode = "unavailable"
    task = asyncio.create_task(r.worker.run())
    while len(r.receiver.requests) < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2)
    assert [i.state for i in r.items()] == ["pending"]


async def test_unreadable_payload_is_dead_lettered(rig) -> None:
    r = await rig()
    r.store.store.enqueue([("hook", "broken:hook", b"{not json")])
    keys = r.enqueue(1)
    await r.worker.drain()
    broken, good = r.items()
    assert broken.state == "dead" and "unreadable outbox payload" in broken.last_error
    assert good.state == "delivered" and list(r.receiver.processed) == keys


async def test_run_wakes_up_for_new_work(rig) -> None:
    r = await rig(poll="10s")
    task = asyncio.create_task(r.worker.run())
    await asyncio.sleep(0.05)
    keys = r.enqueue(1)
    r.worker.wakeup.set()
    for _ in range(200):
        if r.receiver.processed:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert list(r.receiver.processed) == keys
