"""Near-duplicate clusters and the event-time rates virality is made of."""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from typing import Any, Final

import msgspec

from sentineld_plugins.scorers.virality.sketch import AuthorSketch

#: Distinct authors counted exactly per cluster; beyond, a HyperLogLog counts them (a text
#: that keeps coming back would otherwise hold every author who ever posted it).
EXACT_AUTHORS: Final = 32


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


def cluster_code(id: str) -> int:
    """The cluster's id as a number (its 48 bits), to hold in a numpy array."""
    return int(id[1:], 16)


class Cluster(msgspec.Struct, array_like=True, gc=False):
    """Posts of the same content by authors who are not connected, and how fast it grows.

    A struct, so that a checkpoint encodes every cluster at C speed (`encode_hook` writes a
    HyperLogLog as its registers)."""

    id: str
    first_seen: float
    last_seen: float
    #: Distinct authors.
    size: int = 0
    #: The authors, up to `EXACT_AUTHORS`; beyond, `hll` counts them. A sorted tuple, not a
    #: set: 32 authors' keys (interned, shared with the registry) take 300 bytes where a set's
    #: table took 2 KB; a binary search finds an author in 5 comparisons.
    authors: tuple[str, ...] | None = ()
    hll: Any = None  # an AuthorSketch, checkpointed as its registers (bytes)
    #: Decayed count of authors joining (a rate once divided by the time constant).
    growth: float = 0.0
    growth_at: float = 0.0
    #: Posts of the cluster still indexed: when none is left, no new post can find it.
    posts: int = 0

    def add(self, author: str, at: float, tau: float) -> None:
        """`author` posted the cluster's content at `at`."""
        if at > self.last_seen:
            self.last_seen = at
        authors = self.authors
        if authors is not None:
            at_or_after = bisect_left(authors, author)
            if at_or_after < len(authors) and authors[at_or_after] == author:
                return
            self.authors = authors = authors[:at_or_after] + (author,) + authors[at_or_after:]
            size = len(authors)
            if size > EXACT_AUTHORS:
                self._to_sketch()
        elif self.hll.add(author):
            # The estimate only moves when a register does, which gets rarer as the cluster grows
            # (one author in a hundred at 50,000).
            size = round(self.hll.count())
            if size <= self.size:
                return
        else:
            return
        # bump(self.growth, self.growth_at, at, tau, size - self.size), inline (once per new author)
        since = self.growth_at
        if at >= since:
            self.growth = self.growth * math.exp((since - at) / tau) + (size - self.size)
            self.growth_at = at
        else:
            self.growth = self.growth + (size - self.size) * math.exp((at - since) / tau)
        self.size = size

    def _to_sketch(self) -> None:
        self.hll = AuthorSketch()
        for author in self.authors or ():
            self.hll.add(author)
        self.authors = None

    def growth_per_hour(self, now: float, tau: float) -> float:
        return decayed(self.growth, self.growth_at, now, tau) * 3600.0 / tau

    @classmethod
    def start(cls, id: str, first_seen: float) -> Cluster:
        return cls(id, first_seen, first_seen, growth_at=first_seen)

    @classmethod
    def from_state(cls, state: Any) -> Cluster:
        """A cluster from its checkpointed form (the struct's fields as a list)."""
        cluster = msgspec.convert(state, cls)
        if cluster.authors:
            cluster.authors = tuple(sorted(cluster.authors))  # a set, before: in any order
        if cluster.hll is not None:
            cluster.hll = AuthorSketch(cluster.hll)
        return cluster


def encode_hook(value: Any) -> Any:
    """How a checkpoint writes what msgpack has no type for: a HyperLogLog as its registers."""
    if isinstance(value, AuthorSketch):
        return bytes(value.registers)
    raise NotImplementedError(f"cannot checkpoint a {type(value).__name__}")
