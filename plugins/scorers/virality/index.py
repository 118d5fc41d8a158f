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


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's choice of (bands, rows) for `threshold` with `num_perm` permutations."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def no_pairs() -> Pairs:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)


class BandIndex:
    """Band keys of the posts in a ring of `capacity` rows, chained per bucket."""

    def __init__(self, bands: int, rows: int, capacity: int) -> None:
        self.bands, self.rows, self.capacity = bands, rows, capacity
        self._fold = _FOLD[: bands * rows].reshape(bands, rows)
        entries = capacity * bands
        self._bits = max(int(entries * 4 - 1).bit_length(), 4)  # a quarter of the buckets used at most
        self._shift = np.uint64(64 - self._bits)
        #: bucket -> newest entry (row * bands + band), -1 for none
        self._heads = np.full(1 << self._bits, -1, dtype=np.int32 if entries < 2**31 else np.int64)
        #: per row and band: the band's key, and the entry before it in its bucket
        self._keys = np.zeros((capacity, bands), dtype=np.uint64)
        self._before = np.full((capacity, bands), -1, dtype=self._heads.dtype)
        #: the slot each row holds
        self._slots = np.full(capacity, -1, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        return self._heads.nbytes + self._keys.nbytes + self._before.nbytes + self._slots.nbytes

    def add(self, first: int, signatures: np.ndarray, oldest: int) -> Pairs:
        """Index posts at slots ``first, first + 1, …`` (no more than `capacity` slots after
        `oldest`, the oldest post still live) and return their candidate pairs."""
        count, bands = len(signatures), self.bands
        if not count:
            return no_pairs()
        used = signatures[:, : bands * self.rows].astype(np.uint64)
        keys = (used.reshape(count, bands, self.rows) * self._fold).sum(axis=2)
        slots = np.arange(first, first + count, dtype=np.int64)
        rows = slots % self.capacity
        entries = (rows[:, None] * bands + np.arange(bands)).ravel().astype(self._heads.dtype)
        self._unlink(rows, entries)
        self._keys[rows] = keys
        self._slots[rows] = slots
        # Link the batch's entries, in stream order, into their buckets' chains.
        buckets = (keys >> self._shift).ravel().astype(np.int64)
        order = np.argsort(buckets, kind="stable")
        ordered = buckets[order]
        opens = np.ones(len(order), dtype=bool)
        opens[1:] = ordered[1:] != ordered[:-1]
        before = np.empty(len(order), dtype=self._heads.dtype)
        before[opens] = self._heads[ordered[opens]]
        before[1:][~opens[1:]] = entries[order[:-1]][~opens[1:]]
        self._before.reshape(-1)[entries[order]] = before
        closes = np.ones(len(order), dtype=bool)
        closes[:-1] = opens[1:]
        self._heads[ordered[closes]] = entries[order[closes]]
        return self._walk(entries, keys.ravel(), first, oldest)

    def _unlink(self, rows: np.ndarray, entries: np.ndarray) -> None:
        """Rows about to be reused: a bucket whose newest entry is in one of them is empty
        now (the entries before it in its chain are older still, so expired too)."""
        used = self._slots[rows] >= 0
        if not used.any():
            return
        entries = entries.reshape(len(rows), self.bands)[used].ravel()
        buckets = (self._keys[rows[used]] >> self._shift).ravel().astype(np.int64)
        newest = self._heads[buckets] == entries
        self._heads[buckets[newest]] = -1

    def _walk(self, entries: np.ndarray, keys: np.ndarray, first: int, oldest: int) -> Pairs:
        """Follow each new entry's chain back: the live entries with the same band key are
        candidates. A chain is read newest first, and ends at an expired post (older than
        `oldest`) or at a row since reused (holding a newer post than the entry before it)."""
        bands, flat_keys, before, slots = self.bands, self._keys.reshape(-1), self._before.reshape(-1), self._slots
        query = np.arange(len(entries))  # the new entry each walk serves
        newer = first + query // bands  # the slot the walk comes from
        at = before[entries]
        posts, found = [], []
        for _ in range(BUCKET):
            slot = slots[at // bands]  # at = -1 (no entry) reads the last row: dropped below
            going = (at >= 0) & (slot <= newer) & (slot >= oldest)
            at, query, slot = at[going], query[going], slot[going]
            if not len(at):
                break
            match = flat_keys[at] == keys[query]
            posts.append(query[match])
            found.append(slot[match])
            at, newer = before[at], slot
        if not posts:
            return no_pairs()
        pairs = np.unique(((np.concatenate(posts) // bands) << 32) | (np.concatenate(found) - oldest))
        return first + (pairs >> 32), oldest + (pairs & 0xFFFFFFFF)

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
