"""Tail probabilities of counts and shares: how surprising an observation is under a baseline.

Counts of mentions per window are over-dispersed (their variance grows faster than their mean),
so a count is judged against a negative binomial with mean ``mean`` and variance
``mean + dispersion * mean**2``; ``dispersion = 0`` is the Poisson. A Poisson or negative
binomial tail is what keeps "0 → 2" from being a crisis: two mentions where 0.3 are expected is
not rare enough, where a Gaussian z-score on so small a count would call it ten sigma.

A share (k negative mentions out of n) is judged against a binomial with the baseline share,
made over-dispersed by quasi-likelihood scaling: k and n are divided by the dispersion factor
(≥ 1) learnt from how much past windows scattered beyond binomial noise.

The regularized incomplete beta and gamma functions (`special`) do the arithmetic.
"""

from __future__ import annotations

import math
from typing import Final

from sentineld.detect.special import regularized_beta, regularized_gamma

__all__ = ["binomial_sf", "count_isf", "count_sf", "surprise"]

#: Below this dispersion the negative binomial is treated as the Poisson it converges to.
POISSON_DISPERSION: Final = 1e-9


def count_sf(observed: float, mean: float, dispersion: float) -> float:
    """P(X ≥ observed) for a count X with this mean and dispersion (negative binomial)."""
    if observed <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if dispersion <= POISSON_DISPERSION:
        # P(Poisson(mean) ≥ k) is the regularized lower incomplete gamma P(k, mean).
        return regularized_gamma(observed, mean)
    size = 1.0 / dispersion
    # P(NB ≥ k) = I_{1-p}(k, size) with p = size / (size + mean), the success probability.
    return regularized_beta(observed, size, mean / (size + mean))


def count_isf(alpha: float, mean: float, dispersion: float) -> int:
    """The smallest whole count whose tail probability is at most `alpha`."""
    low, high = 0, max(2, int(mean) + 2)
    while count_sf(high, mean, dispersion) > alpha:
        low, high = high, high * 2
        if high > 1 << 50:
            return high
    while high - low > 1:
        middle = (low + high) // 2
        if count_sf(middle, mean, dispersion) > alpha:
            low = middle
        else:
            high = middle
    return high


def binomial_sf(successes: float, trials: float, share: float, dispersion: float = 1.0) -> float:
    """P(K ≥ successes) for K ~ Binomial(trials, share), over-dispersed by `dispersion` (≥ 1):
    both counts are divided by it (quasi-binomial), which widens the spread accordingly."""
    if successes <= 0:
        return 1.0
    if share <= 0:
        return 0.0
    if share >= 1 or successes > trials:
        return 1.0 if successes <= trials else 0.0
    scale = max(dispersion, 1.0)
    k, n = successes / scale, trials / scale
    # P(K ≥ k) = I_share(k, n - k + 1).
    return regularized_beta(k, n - k + 1.0, share)


def surprise(probability: float) -> float:
    """-log10 of a tail probability: 3 means "one in a thousand"; never negative."""
    if probability <= 0.0:
        return 300.0
    return max(0.0, -math.log10(probability))
