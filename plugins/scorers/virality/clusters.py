"""Near-duplicate clusters and the event-time rates virality is made of (compiled with mypyc
with `joins` and `sketch`, decision 0140)."""

from __future__ import annotations

import hashlib
import math
from typing import Any, Final

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


class Cluster:
    """Posts of the same content by authors who are not connected, and how fast it grows.

    A native class when this module is compiled (decision 0140): `add` runs once per post that
    joins a cluster. A checkpoint writes it as the list of its fields in this order (what
    `encode_hook` gives msgpack: the msgspec struct it was before wrote the same bytes), and
    `from_state` reads that list back."""

    def __init__(
        self,
        id: str,
        first_seen: float,
        last_seen: float,
        size: int = 0,
        authors: list[str] | tuple[str, ...] | None = (),
        hll: AuthorSketch | None = None,
        growth: float = 0.0,
        growth_at: float = 0.0,
        posts: int = 0,
    ) -> None:
        self.id = id
        self.first_seen = first_seen
        self.last_seen = last_seen
        #: Distinct authors.
        self.size = size
        #: The authors, up to `EXACT_AUTHORS`; beyond, `hll` counts them. A sorted list, not a
        #: set: 32 authors' keys (interned, shared with the registry) take 350 bytes where a
        #: set's table took 2 KB; a binary search finds an author in 5 comparisons. A new
        #: author is inserted in place: a tuple rebuilt at each join touched every author's
        #: string (its reference count, twice), cold memory on a long stream (decision 0150).
        self.authors: list[str] | None = None if authors is None else list(authors)
        self.hll = hll
        #: Decayed count of authors joining (a rate once divided by the time constant).
        self.growth = growth
        self.growth_at = growth_at
        #: Posts of the cluster still indexed: when none is left, no new post can find it.
        self.posts = posts

    def add(self, author: str, at: float, tau: float) -> None:
        """`author` posted the cluster's content at `at`."""
        if at > self.last_seen:
            self.last_seen = at
        authors = self.authors
        hll = self.hll
        if authors is not None:
            at_or_after, high = 0, len(authors)
            while at_or_after < high:  # bisect_left, compiled (a call to it costs more)
                middle = (at_or_after + high) // 2
                if authors[middle] < author:
                    at_or_after = middle + 1
                else:
                    high = middle
            if at_or_after < len(authors) and authors[at_or_after] == author:
                return
            authors.insert(at_or_after, author)
            size = len(authors)
            if size > EXACT_AUTHORS:
                self._to_sketch()
        elif hll is not None and hll.add(author):
            # The estimate only moves when a register does, which gets rarer as the cluster grows
            # (one author in a hundred at 50,000).
            size = round(hll.count())
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
        sketch = self.hll = AuthorSketch()
        for author in self.authors or ():
            sketch.add(author)
        self.authors = None

    def growth_per_hour(self, now: float, tau: float) -> float:
        return decayed(self.growth, self.growth_at, now, tau) * 3600.0 / tau

    def fields(self) -> list[Any]:
        """The checkpointed form: the fields in order, the sketch as its registers."""
        hll = self.hll
        return [self.id, self.first_seen, self.last_seen, self.size, self.authors,
                None if hll is None else bytes(hll.registers), self.growth, self.growth_at, self.posts]

    @staticmethod
    def start(id: str, first_seen: float) -> Cluster:
        return Cluster(id, first_seen, first_seen, growth_at=first_seen)

    @staticmethod
    def from_state(state: Any) -> Cluster:
        """A cluster from its checkpointed form (`fields`; the msgspec struct it was before
        wrote the same list), its trailing fields at their defaults when left out."""
        fields = list(state)
        if not 3 <= len(fields) <= len(_DEFAULTS) + 3:
            raise ValueError(f"a checkpointed cluster has 3 to 9 fields, not {len(fields)}")
        fields += _DEFAULTS[len(fields) - 3 :]
        id, first_seen, last_seen, size, authors, hll, growth, growth_at, posts = fields
        return Cluster(
            str(id), float(first_seen), float(last_seen), int(size),
            None if authors is None else sorted(authors),  # a set, before: in any order
            None if hll is None else AuthorSketch(bytes(hll)),
            float(growth), float(growth_at), int(posts),
        )


#: `Cluster`'s fields after the first three, at their defaults.
_DEFAULTS: Final[list[Any]] = [0, (), None, 0.0, 0.0, 0]


def encode_hook(value: Any) -> Any:
    """How a checkpoint writes what msgpack has no type for: a cluster as its fields, a
    HyperLogLog as its registers."""
    if isinstance(value, Cluster):
        return value.fields()
    if isinstance(value, AuthorSketch):
        return bytes(value.registers)
    raise NotImplementedError(f"cannot checkpoint a {type(value).__name__}")
