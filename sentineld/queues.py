"""Queues between the pipeline's stages, bounded in mentions as well as in items.

A queue bounded only in items holds `queue_batches` batches whatever their size, so a source
that hands over fuller batches puts more mentions in flight, and more memory (decision 0040).
`Room` counts both: a producer waits while the items held reach `items` or while the mentions
held would pass `mentions`. A batch bigger than the whole mention bound still passes once
nothing else holds mentions, alone, so nothing can deadlock on it. Ticks, barriers and the stop
marker weigh zero mentions and one item (decision 0043).

Waiters are served first come, first served: a big batch waiting for room is not overtaken by
small ones arriving after it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["MentionQueue", "Room"]

_Item = TypeVar("_Item")


class Room:
    """A semaphore counting items and mentions: `acquire(n)` takes one item holding `n`
    mentions, `release(n)` gives them back."""

    def __init__(self, items: int, mentions: int) -> None:
        if items < 1 or mentions < 1:
            raise ValueError("a room holds at least one item and one mention")
        self.max_items = items
        self.max_mentions = mentions
        self.items = 0
        self.mentions = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, mentions: int) -> bool:
        if self.items >= self.max_items:
            return False
        return self.mentions == 0 or self.mentions + mentions <= self.max_mentions

    def try_acquire(self, mentions: int) -> bool:
        """Take the room at once if it is there and nobody waits for it first."""
        if self._waiters or not self._fits(mentions):
            return False
        self.items += 1
        self.mentions += mentions
        return True

    async def acquire(self, mentions: int) -> None:
        """Take one item of `mentions`, waiting (in turn) until it fits."""
        if self.try_acquire(mentions):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (mentions, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(mentions)  # granted, then cancelled before it could use it
            else:
                if entry in self._waiters:  # `_wake` drops a cancelled head itself
                    self._waiters.remove(entry)
                self._wake()  # those behind it may fit now
            raise

    def release(self, mentions: int) -> None:
        """Give back one item of `mentions` and let waiters in."""
        self.items -= 1
        self.mentions -= mentions
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            mentions, waiter = self._waiters[0]
            if waiter.done():  # cancelled; its acquire removes it
                self._waiters.popleft()
                continue
            if not self._fits(mentions):
                return
            self._waiters.popleft()
            self.items += 1
            self.mentions += mentions
            waiter.set_result(None)


class MentionQueue(Generic[_Item]):
    """An `asyncio.Queue` (the methods the pipeline uses, with its exceptions) whose room is a
    `Room`: `weigh(item)` gives the mentions an item holds. The items wait in an unbounded
    `asyncio.Queue` with their weight; the `Room` is what bounds it."""

    def __init__(self, items: int, mentions: int, weigh: Callable[[_Item], int]) -> None:
        self.room = Room(items, mentions)
        self._weigh = weigh
        self._held: asyncio.Queue[tuple[_Item, int]] = asyncio.Queue()

    def qsize(self) -> int:
        return self._held.qsize()

    @property
    def maxsize(self) -> int:
        """Items held at most (`queue_batches`), as `asyncio.Queue.maxsize`."""
        return self.room.max_items

    @property
    def mentions(self) -> int:
        """Mentions held (those of items taken and not yet handed back are not counted)."""
        return self.room.mentions

    async def put(self, item: _Item) -> None:
        weight = self._weigh(item)
        await self.room.acquire(weight)
        self._held.put_nowait((item, weight))

    def put_nowait(self, item: _Item) -> None:
        weight = self._weigh(item)
        if not self.room.try_acquire(weight):
            raise asyncio.QueueFull
        self._held.put_nowait((item, weight))

    async def get(self) -> _Item:
        item, weight = await self._held.get()
        self.room.release(weight)
        return item

    def get_nowait(self) -> _Item:
        item, weight = self._held.get_nowait()
        self.room.release(weight)
        return item
