"""Event time. The clock ticks at fixed boundaries (multiples of the tick interval) as the stream
passes them, and, while live, as the wall clock passes them. Because ticks always fall on the
same boundaries, a replay of a recorded stream sees the same ticks between the same mentions as
the live daemon did, and raises the same alerts at the same event times."""

from __future__ import annotations

import math
from typing import Any

#: A quiet stretch longer than this many ticks is crossed with one tick at its end.
MAX_TICKS_PER_GAP = 10_000


class EventClock:
    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError("tick interval must be positive")
        self.interval = interval
        self.next_tick: float | None = None

    def due(self, now: float) -> list[float]:
        """The boundaries up to `now` that have not ticked yet, oldest first."""
        if self.next_tick is None:
            self.next_tick = math.floor(now / self.interval) * self.interval + self.interval
            return []
        if now < self.next_tick:
            return []
        count = int((now - self.next_tick) // self.interval) + 1
        if count > MAX_TICKS_PER_GAP:
            last = self.next_tick + (count - 1) * self.interval
            self.next_tick = last + self.interval
            return [last]
        ticks = [self.next_tick + i * self.interval for i in range(count)]
        self.next_tick = ticks[-1] + self.interval
        return ticks

    def snapshot(self) -> Any:
        return self.next_tick

    def restore(self, state: Any) -> None:
        self.next_tick = state
