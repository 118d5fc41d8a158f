"""The regularized incomplete gamma and beta functions, the two special functions the count
and share tails need (`stats`).

They were scipy.special's ``gammainc`` and ``betainc``; importing scipy.special loads some
200 modules (numpy's f2py, polynomial, random and fft among them) and grows a daemon's RSS by
about 20 MB for two scalar functions (decision 0610). These are the textbook methods (Numerical
Recipes §6.2 and §6.4, as in Cephes): the power series below the mean and Lentz's continued
fraction above it, with the prefactor ``x^a e^-x / Γ(a)`` (and its beta counterpart) taken
through Stirling's series for large arguments, so that no two logarithms of the size of
``lgamma(10^9)`` are subtracted. A test compares them with scipy over a grid of arguments.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["regularized_beta", "regularized_gamma"]

#: Relative precision at which a series or continued fraction stops.
EPSILON: Final = 1e-15
#: Lentz's guard against a zero denominator.
TINY: Final = 1e-300
#: Above this argument lgamma goes through Stirling's series (its remainder after four terms
#: is under 1e-12 there).
STIRLING_FROM: Final = 10.0
_HALF_LOG_TAU: Final = 0.5 * math.log(2.0 * math.pi)


def regularized_gamma(a: float, x: float) -> float:
    """P(a, x) = γ(a, x) / Γ(a), for a > 0 and x ≥ 0 (scipy's ``gammainc``)."""
    if x <= 0.0:
        return 0.0
    prefactor = math.exp(_log_gamma_prefactor(a, x))
    if x < a + 1.0:
        term = total = 1.0 / a
        shifted = a
        for _ in range(_iterations(a)):
            shifted += 1.0
            term *= x / shifted
            total += term
            if abs(term) < abs(total) * EPSILON:
                break
        return min(1.0, total * prefactor)
    # Q(a, x) by Lentz's method on Legendre's continued fraction.
    b = x + 1.0 - a
    c = 1.0 / TINY
    d = 1.0 / b
    h = d
    for i in range(1, _iterations(a) + 1):
        b += 2.0
        c, d = _lentz_step(-i * (i - a), b, c, d)
        step = d * c
        h *= step
        if abs(step - 1.0) < EPSILON:
            break
    return max(0.0, 1.0 - h * prefactor)


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1 (scipy's ``betainc``)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    prefactor = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, prefactor * _beta_fraction(a, b, x) / a)
    return max(0.0, 1.0 - prefactor * _beta_fraction(b, a, 1.0 - x) / b)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), by Lentz's method."""
    total = a + b
    c = 1.0
    d = 1.0 - total * x / (a + 1.0)
    if abs(d) < TINY:
        d = TINY
    d = 1.0 / d
    h = d
    for m in range(1, _iterations(max(a, b)) + 1):
        twice = 2.0 * m
        # The even step, then the odd one.
        c, d = _lentz_step(m * (b - m) * x / ((a - 1.0 + twice) * (a + twice)), 1.0, c, d)
        h *= d * c
        c, d = _lentz_step(-(a + m) * (total + m) * x / ((a + twice) * (a + 1.0 + twice)), 1.0, c, d)
        step = d * c
        h *= step
        if abs(step - 1.0) < EPSILON:
            break
    return h


def _lentz_step(numerator: float, denominator: float, c: float, d: float) -> tuple[float, float]:
    """The next (c, d) of Lentz's method for a term ``numerator / (denominator + …)``: the
    fraction so far is multiplied by ``c * d``."""
    d = denominator + numerator * d
    if abs(d) < TINY:
        d = TINY
    c = denominator + numerator / c
    if abs(c) < TINY:
        c = TINY
    return c, 1.0 / d


def _iterations(size: float) -> int:
    """Enough terms for the series and fractions, which converge in O(√size) steps."""
    return 200 + int(20.0 * math.sqrt(size))


def _stirling_remainder(z: float) -> float:
    """lgamma(z) less Stirling's (z - ½) log z - z + ½ log 2π, for z ≥ `STIRLING_FROM`."""
    inverse = 1.0 / z
    square = inverse * inverse
    return inverse * (1.0 / 12.0 - square * (1.0 / 360.0 - square * (1.0 / 1260.0 - square / 1680.0)))


def _log_gamma_prefactor(a: float, x: float) -> float:
    """log(x^a e^-x / Γ(a)), without subtracting two large logarithms when a is large."""
    if a < STIRLING_FROM:
        return a * math.log(x) - x - math.lgamma(a)
    # a log x - x - lgamma(a) = a log(x/a) + a - x + ½ log a - ½ log 2π - remainder(a)
    relative = (x - a) / a
    log_ratio = math.log1p(relative) if abs(relative) < 0.5 else math.log(x / a)
    return a * log_ratio + (a - x) + 0.5 * math.log(a) - _HALF_LOG_TAU - _stirling_remainder(a)


def _log_beta(a: float, b: float) -> float:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), accurate when one is very large."""
    small, large = (a, b) if a <= b else (b, a)
    if large < STIRLING_FROM:
        return math.lgamma(small) + math.lgamma(large) - math.lgamma(small + large)
    # lgamma(large + small) - lgamma(large) by Stirling, with the large logarithms cancelled.
    grown = ((large - 0.5) * math.log1p(small / large) + small * math.log(large + small) - small
             + _stirling_remainder(large + small) - _stirling_remainder(large))
    return math.lgamma(small) - grown
