"""A distribution of spread rates learned from the stream, in constant memory.

Rates (reshares per hour, new authors per hour…) span orders of magnitude, so they are counted
in logarithmic bins (`BINS_PER_DECADE` per power of ten, from `LOW` to `HIGH`). Each observation
weighs 2^(age / half-life) less as it ages (stored as a growing weight for new observations, the
standard forward-decay trick), so the distribution follows a stream whose habits change.
Quantiles and tail probabilities are read off the bins; a quantile is cached until the
observations have grown by a hundredth since it was computed (it moves slowly, and reading it
costs a pass over the bins).

Compiled with mypyc (decision 0140): `add` runs for every post viral_post lets go of, which on a
busy stream is nearly every mention.
"""

from __future__ import annotations

import math
from typing import Any, Final

LOW: Final = 0.01
HIGH: Final = 1e7
BINS_PER_DECADE: Final = 20
_DECADES: Final = math.log10(HIGH / LOW)
BINS: Final = int(_DECADES * BINS_PER_DECADE) + 1
_RESCALE_AT: Final = 1e100


def _bin(value: float) -> int:
    if value <= LOW:
        return 0
    index = int(math.log10(value / LOW) * BINS_PER_DECADE) + 1
    return min(index, BINS - 1)


def _upper_edge(index: int) -> float:
    return LOW * 10 ** (index / BINS_PER_DECADE)


class DecayedLogHistogram:
    """Observations of a positive rate; `quantile(q)` and `tail(value)` over the decayed weights."""

    __slots__ = ("half_life", "bins", "origin", "observations", "_quantiles", "_since")

    def __init__(self, half_life: float) -> None:
        self.half_life = half_life
        self.bins = [0.0] * BINS
        self.origin: float | None = None
        self.observations = 0
        self._quantiles: dict[float, float] = {}
        self._since = 0

    def add(self, value: float, at: float) -> bool:
        """Learn `value`, observed at `at`; True when quantiles are to be read afresh."""
        origin = self.origin
        if origin is None:
            self.origin = origin = at
        weight = 2.0 ** ((at - origin) / self.half_life)
        if weight > _RESCALE_AT:
            self.bins = [b / weight for b in self.bins]
            self.origin, weight = at, 1.0
        if value <= LOW:  # _bin, inline
            index = 0
        else:
            index = int(math.log10(value / LOW) * BINS_PER_DECADE) + 1
            if index > BINS - 1:
                index = BINS - 1
        self.bins[index] += weight
        self.observations = observations = self.observations + 1
        self._since = since = self._since + 1
        if since * 100 >= observations:
            self._quantiles.clear()
            self._since = 0
            return True
        return False

    def quantile(self, q: float) -> float:
        """The smallest bin edge with at least a share `q` of the weight at or below it."""
        cached = self._quantiles.get(q)
        if cached is not None:
            return cached
        total = sum(self.bins)
        if total <= 0:
            return math.inf
        running, target = 0.0, q * total
        result = _upper_edge(BINS - 1)
        for index, weight in enumerate(self.bins):
            running += weight
            if running >= target:
                result = _upper_edge(index)
                break
        self._quantiles[q] = result
        return result

    def tail(self, value: float) -> float:
        """The share of the weight in bins at or above `value`'s bin (with one pseudo-count,
        so that a never-seen rate reads as rare rather than impossible)."""
        total = sum(self.bins)
        index = _bin(value)
        above = sum(self.bins[index:])
        unit = total / max(self.observations, 1) if total > 0 else 1.0
        return (above + unit) / (total + unit)

    def snapshot(self) -> list[Any]:
        return [self.origin, self.observations, self.bins, self._since, self._quantiles]

    def restore(self, state: list[Any]) -> None:
        origin, observations, bins, since, quantiles = state
        self.origin = None if origin is None else float(origin)
        self.observations, self._since = int(observations), int(since)
        self.bins = [float(b) for b in bins]
        self._quantiles = {float(q): float(v) for q, v in quantiles.items()}
