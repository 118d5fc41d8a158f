"""The incomplete gamma and beta functions against scipy.special, over the arguments the
count and share tails meet (and far beyond them)."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from scipy import special

from sentineld.detect.special import regularized_beta, regularized_gamma

ARGUMENTS = [1e-3, 0.3, 1.0, 2.5, 9.99, 10.0, 10.01, 33.3, 150.0, 1000.0, 3e4, 1e6]
SHARES = [1e-9, 1e-4, 0.01, 0.3, 0.5, 0.7, 0.99, 0.999999]


@pytest.mark.parametrize("a", ARGUMENTS)
def test_regularized_gamma_matches_scipy(a: float) -> None:
    for x in [0.0, *ARGUMENTS]:
        expected = special.gammainc(a, x)
        assert regularized_gamma(a, x) == pytest.approx(expected, rel=1e-9, abs=1e-300), (a, x)


@pytest.mark.parametrize("a", ARGUMENTS[:-1])
def test_regularized_beta_matches_scipy(a: float) -> None:
    # b runs up to 1e9: a negative binomial's size is 1 / dispersion, and dispersions are tiny.
    for b, x in itertools.product([*ARGUMENTS, 1e9], [0.0, *SHARES, 1.0]):
        expected = special.betainc(a, b, x)
        assert regularized_beta(a, b, x) == pytest.approx(expected, rel=1e-9, abs=1e-300), (a, b, x)


def test_the_tails_import_no_numerical_library() -> None:
    code = ("import sys; from sentineld.detect import count_sf, binomial_sf; "
            "count_sf(40, 3.0, 0.2); binomial_sf(9, 20, 0.1, 1.5); "
            "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"
