"""LSH indexes over MinHash signatures: which indexed posts may be near-duplicates of a new one.

Both band the signature as datasketch's `MinHashLSH` does for the threshold (``b`` bands of
``r`` rows, minimising false positives plus false negatives), so they find the same candidates
(the verification against the signatures drops the few extra ones a hash collision brings):

- `BandIndex` (the default) keeps everything in numpy arrays and handles a whole batch in a few
  passes, with no Python per post: each band of each post is folded into a 64-bit key; a hash
  table of buckets holds the newest entry of each bucket and every entry the one before it in
  its bucket, so a bucket is a chain going back in time. Adding a batch links its entries into
  their chains (a stable sort puts the batch's own collisions in order); finding candidates
  walks every chain of the batch at once, up to `BUCKET` steps back. Posts live in a ring of
  ``capacity`` rows: a post leaves when its row is reused or when it falls out of the live
  range of slots, which the walk checks; nothing is ever deleted one by one. The whole index
  is a fixed allocation, a few bytes per post and band.
- `DatasketchIndex` is datasketch's `MinHashLSH` itself, kept as the reference.

Both index a batch of posts given the first slot (slots are consecutive, in stream order) and
return the pairs (post of the batch, earlier slot sharing a band with it), still to be verified
against the signatures.
"""

from __future__ import annotations

from typing import Final

import numpy as np


#: Entries looked at per bucket, newest first. Copies of one text share every key: the newest
#: few are enough for a new copy to find their cluster, so a viral copy-and-paste costs no
#: more than a pair.
BUCKET: Final = 16
#: Odd 64-bit multipliers, a different one for every row of every band.
_FOLD = np.random.default_rng(20101210).integers(0, 2**62, size=4096, dtype=np.uint64) * np.uint64(2) + np.uint64(1)

Pairs = tuple[np.ndarray, np.ndarray]
#: Chains still being walked at or under which the walk goes on in Python (measured: a numpy
#: step costs about as much as 50–80 entries walked one by one).
_FEW_WALKS: Final = 48


def no_pairs() -> Pairs:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)


class BandIndex:
    """Band keys of the posts in a ring of `capacity` rows, chained per bucket.

    Entry ``row * bands + band`` is one band of the post in `row`; one more entry at the end,
    whose slot is -1, is where "no entry" (-1) points, so that a walk needs no test for it.
    """

    def __init__(self, bands: int, rows: int, capacity: int) -> None:
        self.bands, self.rows, self.capacity = bands, rows, capacity
        self._fold = _FOLD[: bands * rows].reshape(bands, rows)
        entries = capacity * bands
        self._bits = max(int(entries * 4 - 1).bit_length(), 4)  # a quarter of the buckets used at most
        self._shift = np.uint64(64 - self._bits)
        pointer = np.int32 if entries < 2**31 else np.int64
        #: bucket -> its newest entry, -1 for none
        self._heads = np.full(1 << self._bits, -1, dtype=pointer)
        #: per entry: its band key, the slot of its post, the entry before it in its bucket
        self._keys = np.zeros(entries + 1, dtype=np.uint64)
        self._slots = np.full(entries + 1, -1, dtype=np.int64)
        self._before = np.full(entries + 1, -1, dtype=pointer)

    @property
    def nbytes(self) -> int:
        return self._heads.nbytes + self._keys.nbytes + self._before.nbytes + self._slots.nbytes

    def add(self, first: int, signatures: np.ndarray, oldest: int) -> Pairs:
        """Index posts at slots ``first, first + 1, …`` (no more than `capacity` slots after
        `oldest`, the oldest post still live) and return their candidate pairs."""
        count, bands = len(signatures), self.bands
        if not count:
            return no_pairs()
        folded = signatures[:, : bands * self.rows].astype(np.uint64).reshape(count, bands, self.rows) * self._fold
        keys = folded[:, :, 0].copy()
        for row in range(1, self.rows):  # faster than a sum over the short last axis
            keys += folded[:, :, row]
        keys = keys.ravel()
        slots = np.arange(first, first + count, dtype=np.int64).repeat(bands)
        begin = (first % self.capacity) * bands
        if first % self.capacity + count <= self.capacity:  # consecutive rows: a range of entries
            entries = np.arange(begin, begin + count * bands, dtype=np.int64)
            span: slice | np.ndarray = slice(begin, begin + count * bands)
        else:
            entries = span = (slots % self.capacity) * bands + np.tile(np.arange(bands), count)
        self._unlink(entries, span)
        self._keys[span] = keys
        self._slots[span] = slots
        self._link(entries, span, (keys >> self._shift).astype(np.int64))
        return self._walk(entries, span, keys, slots, first, oldest)

    def _unlink(self, entries: np.ndarray, span: slice | np.ndarray) -> None:
        """Entries about to be reused: a bucket whose newest entry is one of them is empty now
        (the entries before it in its chain are older still, so expired too). `span` indexes
        the same entries (a slice when they are a range: numpy reads and writes it faster)."""
        used = entries[self._slots[span] >= 0]
        if len(used):
            buckets = (self._keys[used] >> self._shift).astype(np.int64)
            self._heads[buckets[self._heads[buckets] == used]] = -1

    def _link(self, entries: np.ndarray, span: slice | np.ndarray, buckets: np.ndarray) -> None:
        """Put new entries, in stream order, at the head of their buckets' chains."""
        heads = self._heads
        before = heads[buckets]
        heads[buckets] = entries
        clash = heads[buckets] != entries
        if clash.any():  # entries of the batch sharing a bucket: chain them in stream order
            heads[buckets[clash]] = -2  # marks the buckets
            shared = np.flatnonzero(heads[buckets] == -2)
            order = shared[np.argsort(buckets[shared], kind="stable")]
            ordered = buckets[order]
            follows = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
            before[order[follows]] = entries[order[follows - 1]]
            newest = np.ones(len(order), dtype=bool)
            newest[:-1] = ordered[1:] != ordered[:-1]
            heads[ordered[newest]] = entries[order[newest]]
        self._before[span] = before

    def _walk(self, entries: np.ndarray, span: slice | np.ndarray, keys: np.ndarray, newer: np.ndarray, first: int, oldest: int) -> Pairs:
        """Follow each new entry's chain back: the live entries with the same band key are
        candidates. A chain is read newest first, and ends at an expired post (older than
        `oldest`), at a row since reused (holding a newer post than the entry before it), or
        at the end (slot -1)."""
        before, slots, stored = self._before, self._slots, self._keys
        query = np.arange(len(entries))  # the new entry each walk serves
        at = before[span]  # `newer`: the slot each walk comes from
        posts, found = [], []
        for step in range(BUCKET):
            slot = slots[at]
            # positions rather than masks: three arrays are taken with the same positions
            going = np.flatnonzero((slot >= oldest) & (slot <= newer))
            if not len(going):
                break
            at, query, slot = at[going], query[going], slot[going]
            match = np.flatnonzero(stored[at] == keys[query])
            posts.append(query[match])
            found.append(slot[match])
            at, newer = before[at], slot
            if len(at) <= _FEW_WALKS and step < BUCKET - 1:
                tail = self._walk_on(at.tolist(), query.tolist(), newer.tolist(), keys, oldest, BUCKET - 1 - step)
                posts.append(tail[0])
                found.append(tail[1])
                break
        if not posts:
            return no_pairs()
        post = np.concatenate(posts) // self.bands
        pairs = np.sort((post << 32) | (np.concatenate(found) - oldest))
        if len(pairs) > 1:  # a pair found through several bands once
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        return first + (pairs >> 32), oldest + (pairs & 0xFFFFFFFF)

    def _walk_on(self, at: list[int], query: list[int], newer: list[int], keys: np.ndarray, oldest: int, steps: int) -> Pairs:
        """`_walk`'s last steps for the few chains still going (the long ones: copies of a
        text that keeps coming back), one by one: cheaper than a dozen numpy passes over a
        handful of entries each."""
        before, slots, stored = self._before, self._slots, self._keys
        posts: list[int] = []
        found: list[int] = []
        for entry, walk, came in zip(at, query, newer, strict=True):
            key = keys.item(walk)
            for _ in range(steps):
                slot = slots.item(entry)
                if slot < oldest or slot > came:
                    break
                if stored.item(entry) == key:
                    posts.append(walk)
                    found.append(slot)
                entry, came = before.item(entry), slot
        return np.array(posts, dtype=np.int64), np.array(found, dtype=np.int64)

    def forget(self, first: int, stop: int) -> None:
        """Posts at slots [first, stop) left (nothing to do: the walk checks the live range)."""


class DatasketchIndex:
    """datasketch's `MinHashLSH` over `LeanMinHash` signatures."""

    def __init__(self, threshold: float, num_perm: int, seed: int, scheme: str) -> None:
        from datasketch import LeanMinHash, MinHashLSH

        self._lean = LeanMinHash
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.seed, self.scheme = seed, scheme

    def __len__(self) -> int:
        return len(self._lsh.keys)

    nbytes = 0

    def add(self, first: int, signatures: np.ndarray, oldest: int) -> Pairs:
        posts, candidates = [], []
        for slot, signature in enumerate(signatures, start=first):
            minhash = self._lean(seed=self.seed, hashvalues=signature, scheme=self.scheme)
            for candidate in sorted(self._lsh.query(minhash)):
                posts.append(slot)
                candidates.append(candidate)
            self._lsh.insert(slot, minhash, check_duplication=False)
        return np.array(posts, dtype=np.int64), np.array(candidates, dtype=np.int64)

    def forget(self, first: int, stop: int) -> None:
        for slot in range(first, stop):
            if slot in self._lsh:
                self._lsh.remove(slot)
