"""LSH indexes over MinHash signatures: which indexed posts may be near-duplicates of a new one.

Both band the signature as datasketch's `MinHashLSH` does for the threshold (``b`` bands of
``r`` rows, minimising false positives plus false negatives), so they find the same candidates
(`BandIndex` now and then one more, which the verification against the signatures drops):

- `BandIndex` (the default) folds every band of a whole batch into a small key in one numpy
  pass and keeps one dict from key to post. Most posts share no band with any other: those are
  added with one ``dict.update`` at C speed, and only the few that do are looked at one by one.
  It costs a couple of microseconds per post, where datasketch's `MinHashLSH`, which turns each
  band of each post into bytes and a lookup in Python, costs tens (``bench/influence_speed.py``
  prints both) — and the whole scoring stage has 50 µs per mention.
- `DatasketchIndex` is datasketch's `MinHashLSH` itself, kept as the reference.

`add_batch` indexes posts in stream order and returns, for each, the earlier posts that share a
band with it (candidates still to be verified against the signatures).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any, Final

import numpy as np

#: Posts kept per band key. Copies of one text all share every key; the first few are enough
#: for a new copy to find their cluster, so a viral copy-and-paste costs no more than a pair.
BUCKET: Final = 16
_NONE: Final[list[int]] = []  # shared, never mutated: most posts have no candidate
#: Odd 64-bit multipliers, a different one for every row of every band.
_FOLD = np.random.default_rng(20101210).integers(0, 2**62, size=4096, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's choice of (bands, rows) for `threshold` with `num_perm` permutations."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


class BandIndex:
    """Band keys → post slots, in one dict (a slot, or a list of slots when keys collide)."""

    def __init__(self, bands: int, rows: int) -> None:
        self.bands, self.rows = bands, rows
        self._fold = _FOLD[: bands * rows].reshape(bands, rows)
        self._table: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self._table)

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """One 30-bit key per band of each signature (shape (n, bands)). Python handles such
        small ints several times faster than 64-bit ones; two different bands meeting on a key
        now and then only add a candidate that verification drops."""
        used = signatures[:, : self.bands * self.rows].astype(np.uint64)
        folded = (used.reshape(len(signatures), self.bands, self.rows) * self._fold).sum(axis=2)
        return folded >> np.uint64(34)

    def add_batch(self, slots: Sequence[int], keys: np.ndarray, signatures: np.ndarray) -> list[list[int]]:
        table = self._table
        known = table.keys()
        rows: list[list[int]] = keys.tolist()
        values, counts = np.unique(keys, return_counts=True)
        shared = set(values[counts > 1].tolist())
        candidates: list[list[int]] = [_NONE] * len(rows)
        contested: list[int] = []
        for position, row in enumerate(rows):
            if known.isdisjoint(row) and (not shared or shared.isdisjoint(row)):
                table.update(zip(row, repeat(slots[position])))
            else:
                contested.append(position)
        for position in contested:
            slot, found = slots[position], []
            for key in rows[position]:
                held = table.get(key)
                if held is None:
                    table[key] = slot
                elif held == slot:
                    continue  # two bands of this post with one key
                elif isinstance(held, list):
                    found.extend(held)
                    if len(held) < BUCKET:
                        held.append(slot)
                else:
                    found.append(held)
                    table[key] = [held, slot]
            if found:
                candidates[position] = sorted(set(found) - {slot})
        return candidates

    def remove(self, slots: Sequence[int], keys: np.ndarray) -> None:
        """Forget the posts in `slots` (`keys`: their band keys, row by row)."""
        table, pop = self._table, self._table.pop
        for slot, row in zip(slots, keys.tolist(), strict=True):
            for key in row:
                held = pop(key, None)
                if held is None or held == slot:
                    continue
                if isinstance(held, list):
                    if slot in held:
                        held.remove(slot)
                    table[key] = held[0] if len(held) == 1 else held
                else:
                    table[key] = held


class DatasketchIndex:
    """datasketch's `MinHashLSH` over `LeanMinHash` signatures."""

    def __init__(self, threshold: float, num_perm: int, seed: int, scheme: str) -> None:
        from datasketch import LeanMinHash, MinHashLSH

        self._lean = LeanMinHash
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.seed, self.scheme = seed, scheme

    def __len__(self) -> int:
        return len(self._lsh.keys)

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        return np.zeros((len(signatures), 1), dtype=np.uint64)  # the LSH bands them itself

    def add_batch(self, slots: Sequence[int], keys: np.ndarray, signatures: np.ndarray) -> list[list[int]]:
        candidates = []
        for slot, signature in zip(slots, signatures, strict=True):
            minhash = self._lean(seed=self.seed, hashvalues=signature, scheme=self.scheme)
            candidates.append(sorted(self._lsh.query(minhash)))
            self._lsh.insert(slot, minhash, check_duplication=False)
        return candidates

    def remove(self, slots: Sequence[int], keys: np.ndarray) -> None:
        for slot in slots:
            if slot in self._lsh:
                self._lsh.remove(slot)
