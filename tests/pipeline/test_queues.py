"""The stage queues are bounded in mentions as well as in items (decision 0043): a producer
waits while the mentions held would pass `queue_mentions`, a batch bigger than that passes
alone, waiters keep their turn, and a pipeline whose batches are all oversize still drains."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sentineld.config import ConfigError, load_config
from sentineld.queues import MentionQueue, Room
from sentineld.replay import replay
from sentineld.store import open_store
from sentineld.testing import Harness, make_mention


def weigh(item: object) -> int:
    return len(item) if isinstance(item, list) else 0


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_producer_waits_while_the_mentions_held_reach_the_bound() -> None:
    queue: MentionQueue[object] = MentionQueue(16, 10, weigh)
    await queue.put([1] * 6)
    await queue.put([2] * 4)  # exactly at the bound
    assert queue.mentions == 10
    blocked = asyncio.create_task(queue.put([3]))
    await settle()
    assert not blocked.done() and queue.qsize() == 2
    with pytest.raises(asyncio.QueueFull):
        queue.put_nowait([4])
    assert await queue.get() == [1] * 6  # room for the waiting one now
    await settle()
    assert blocked.done() and queue.mentions == 5
    assert [await queue.get(), await queue.get()] == [[2] * 4, [3]]
    assert queue.mentions == 0 and queue.qsize() == 0


async def test_a_batch_bigger_than_the_bound_passes_alone() -> None:
    queue: MentionQueue[object] = MentionQueue(16, 10, weigh)
    await asyncio.wait_for(queue.put(list(range(25))), 1)  # an empty queue takes any batch
    assert queue.mentions == 25
    behind = asyncio.create_task(queue.put([1]))
    await settle()
    assert not behind.done()  # nothing joins it while it is held
    assert len(await queue.get()) == 25
    await settle()
    assert behind.done()
    await queue.get()
    await queue.put([0] * 3)
    oversize = asyncio.create_task(queue.put(list(range(25))))
    await settle()
    assert not oversize.done()  # it waits until the mentions before it are taken
    await queue.get()
    await settle()
    assert oversize.done() and queue.mentions == 25


async def test_waiters_keep_their_turn() -> None:
    """A big batch waiting for room is not overtaken by small ones arriving after it."""
    queue: MentionQueue[object] = MentionQueue(16, 10, weigh)
    await queue.put([0] * 8)
    big = asyncio.create_task(queue.put(["big"] * 9))
    await settle()
    small = asyncio.create_task(queue.put(["small"]))
    await settle()
    assert not big.done() and not small.done()  # [small] would fit, but the big one is first
    await queue.get()
    await settle()
    assert big.done() and small.done()
    assert [await queue.get(), await queue.get()] == [["big"] * 9, ["small"]]


async def test_markers_weigh_nothing_but_take_a_place() -> None:
    """Ticks, barriers and the stop hold no mentions; `queue_batches` still bounds them (the
    ticker's put_nowait finds the queue full, as it did)."""
    queue: MentionQueue[object] = MentionQueue(3, 10, weigh)
    await queue.put([0] * 10)
    queue.put_nowait("tick")  # no mentions: fits beside a queue full of mentions
    queue.put_nowait("barrier")
    with pytest.raises(asyncio.QueueFull):
        queue.put_nowait("stop")
    assert queue.qsize() == queue.maxsize == 3
    with pytest.raises(asyncio.QueueEmpty):
        MentionQueue(3, 10, weigh).get_nowait()


async def test_a_cancelled_producer_gives_its_turn_back() -> None:
    room = Room(16, 10)
    await room.acquire(10)
    waiting = asyncio.create_task(room.acquire(9))
    behind = asyncio.create_task(room.acquire(1))
    await settle()
    waiting.cancel()
    await settle()
    assert waiting.cancelled() and not behind.done()  # still full
    room.release(10)
    await settle()
    assert behind.done() and (room.items, room.mentions) == (1, 1)


async def test_a_consumer_waits_for_an_item() -> None:
    queue: MentionQueue[object] = MentionQueue(16, 10, weigh)
    getter = asyncio.create_task(queue.get())
    await settle()
    assert not getter.done()
    await queue.put([7])
    assert await asyncio.wait_for(getter, 1) == [7]


def test_queue_mentions_is_validated_with_a_clear_error() -> None:
    for value, expected in (("0", "sentineld.queue_mentions: expected int >= 1"),
                            ('"lots"', "sentineld.queue_mentions: expected int, got str"),
                            ("-5", "sentineld.queue_mentions: expected int >= 1")):
        with pytest.raises(ConfigError) as info:
            load_config(text=f"[sentineld]\nqueue_mentions = {value}\n")
        assert expected in str(info.value)
    with pytest.raises(ConfigError, match="sentineld.queue_batches: expected int >= 1"):
        load_config(text="[sentineld]\nqueue_batches = 0\n")


def test_a_config_setting_queue_batches_still_loads() -> None:
    daemon = load_config(text="[sentineld]\nqueue_batches = 4\n").daemon
    assert (daemon.queue_batches, daemon.queue_mentions) == (4, 8192)


async def test_every_batch_bigger_than_the_bound_still_drains(tmp_path: Path) -> None:
    """Batches of 50 mentions through queues bounded at 7: each passes alone, the replay ends
    and every mention is stored and scored once."""
    core = Harness(tmp_path).configure(
        sentineld={"batch_size": 50, "queue_mentions": 7, "queue_batches": 2},
        watch={"brand": ["acme"]},
        scorers={"mood": {"type": "sentiment"}},
    )
    path = core.write_jsonl([make_mention(f"acme is great {i}", minutes=i) for i in range(1_000)])
    seen: dict[str, object] = {}
    await asyncio.wait_for(
        replay(core.config(), [str(path)], state_dir=tmp_path / "state", watch=lambda p: seen.update(pipeline=p)),
        60,
    )
    stats = seen["pipeline"].stats  # type: ignore[attr-defined]
    assert (stats.stored, stats.scored, stats.duplicates) == (1_000, 1_000, 0)
    store = open_store(tmp_path / "state")
    try:
        assert store.count_mentions() == 1_000
    finally:
        store.close()


async def test_a_producer_cancelled_at_the_head_of_the_line_leaves_the_room_whole() -> None:
    """The first waiter is cancelled and, before it resumes, room is given back (which drops
    the cancelled waiter and lets the next in): nothing is counted twice or lost."""
    room = Room(16, 10)
    await room.acquire(10)
    first = asyncio.create_task(room.acquire(5))
    second = asyncio.create_task(room.acquire(5))
    await settle()
    first.cancel()
    room.release(10)  # before `first` has resumed to handle its cancellation
    await settle()
    assert first.cancelled() and second.done()
    assert (room.items, room.mentions) == (1, 5)
    room.release(5)
    assert (room.items, room.mentions) == (0, 0)
