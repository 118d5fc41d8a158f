"""Near-duplicate clusters and the event-time rates virality is made of."""

from __future__ import annotations

import hashlib
import math
from typing import Any, Final

#: Distinct authors counted exactly per cluster; beyond, a HyperLogLog counts them.
EXACT_AUTHORS: Final = 2048
_HLL_PRECISION: Final = 12  # 4096 registers: about 1.6 % error


def bump(value: float, since: float, at: float, tau: float, amount: float = 1.0) -> tuple[float, float]:
    """Add `amount` at event time `at` to a counter decaying with time constant `tau`."""
    if at >= since:
        return value * math.exp((since - at) / tau) + amount, at
    return value + amount * math.exp((at - since) / tau), since


def decayed(value: float, since: float, now: float, tau: float) -> float:
    """The counter's value at `now`."""
    return value * math.exp((since - now) / tau) if now > since else value


def cluster_id(first_post: str) -> str:
    """A stable id: the same stream gives the same clusters the same ids, live and in replay."""
    return "c" + hashlib.blake2b(first_post.encode(), digest_size=6).hexdigest()


class Cluster:
    """Posts of the same content by authors who are not connected, and how fast it grows."""

    __slots__ = ("id", "first_seen", "last_seen", "size", "authors", "hll", "growth", "growth_at")

    def __init__(self, id: str, first_seen: float) -> None:
        self.id = id
        self.first_seen = first_seen
        self.last_seen = first_seen
        #: Distinct authors.
        self.size = 0
        self.authors: set[str] | None = set()
        self.hll: Any = None
        #: Decayed count of authors joining (a rate once divided by the time constant).
        self.growth = 0.0
        self.growth_at = first_seen

    def add(self, author: str, at: float, tau: float) -> None:
        """`author` posted the cluster's content at `at`."""
        if at > self.last_seen:
            self.last_seen = at
        before = self.size
        if self.authors is not None:
            self.authors.add(author)
            self.size = len(self.authors)
            if self.size > EXACT_AUTHORS:
                self._to_sketch()
        else:
            self.hll.update(author.encode())
            self.size = max(self.size, round(self.hll.count()))
        if self.size > before:
            self.growth, self.growth_at = bump(self.growth, self.growth_at, at, tau, self.size - before)

    def _to_sketch(self) -> None:
        from datasketch import HyperLogLog

        self.hll = HyperLogLog(p=_HLL_PRECISION)
        for author in self.authors or ():
            self.hll.update(author.encode())
        self.authors = None

    def growth_per_hour(self, now: float, tau: float) -> float:
        return decayed(self.growth, self.growth_at, now, tau) * 3600.0 / tau

    def to_state(self) -> list[Any]:
        authors = sorted(self.authors) if self.authors is not None else None
        registers = self.hll.reg.tobytes() if self.hll is not None else None
        return [self.id, self.first_seen, self.last_seen, self.size, authors, registers,
                self.growth, self.growth_at]  # fmt: skip

    @classmethod
    def from_state(cls, state: list[Any]) -> Cluster:
        id_, first_seen, last_seen, size, authors, registers, growth, growth_at = state
        cluster = cls(id_, first_seen)
        cluster.last_seen, cluster.size = last_seen, size
        cluster.growth, cluster.growth_at = growth, growth_at
        if authors is None:
            import numpy as np
            from datasketch import HyperLogLog

            cluster.authors = None
            cluster.hll = HyperLogLog(p=_HLL_PRECISION, reg=np.frombuffer(registers, dtype=np.int8).copy())
        else:
            cluster.authors = set(authors)
        return cluster
