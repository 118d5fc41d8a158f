"""datasketch's choice of LSH bands, without importing datasketch (or numpy).

`MinHashLSH` picks the (bands, rows) that minimise the equally weighted probabilities of a false
positive (a pair below the threshold sharing a band) and a false negative (a pair above it
sharing none), integrating both with scipy. Importing datasketch imports scipy, which made
building the virality scorer (and so `sentineld check`) take half a second. Simpson's rule on 64
intervals picks the same parameters (a test compares them with datasketch's on a grid of
thresholds and permutation counts) in a few milliseconds, once per (threshold, num_perm).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Final

_INTERVALS: Final = 64


def _integral(function: Callable[[float], float], low: float, high: float) -> float:
    step = (high - low) / _INTERVALS
    total = function(low) + function(high)
    for i in range(1, _INTERVALS):
        total += (4 if i % 2 else 2) * function(low + i * step)
    return total * step / 3


@lru_cache(maxsize=16)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for `threshold` with `num_perm` permutations, as datasketch's
    ``MinHashLSH(threshold, num_perm)`` chooses them. Raises ValueError where datasketch does:
    when fewer than two bands would be best (a threshold too close to 1)."""
    best, chosen = float("inf"), (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positive = _integral(lambda s: 1 - (1 - s**rows) ** bands, 0.0, threshold)
            false_negative = _integral(lambda s: (1 - s**rows) ** bands, threshold, 1.0)
            error = (false_positive + false_negative) / 2
            if error < best:
                best, chosen = error, (bands, rows)
    if chosen[0] < 2:
        raise ValueError(
            f"threshold {threshold} is too high for {num_perm} permutations: LSH would use a "
            "single band (lower the threshold or raise num_perm)"
        )
    return chosen
