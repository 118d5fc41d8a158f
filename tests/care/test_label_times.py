"""The case labels' times (`sla_due`, `answers_at`) are written by `label_time`, which keeps the
text up to the minute: it must give `format_time(from_timestamp(t))` to the character."""

from __future__ import annotations

import random

from sentineld.cases import label_time
from sentineld.model import format_time, from_timestamp


def test_same_text_as_format_time_in_and_out_of_order() -> None:
    rng = random.Random(20261125)
    start = 1_793_500_000.0
    moments = [start + i * 0.05 for i in range(5_000)]  # in order: the minute's text is reused
    moments += [rng.uniform(0, 4_000_000_000) for _ in range(20_000)]  # any order
    moments += [float(rng.randrange(4_000_000_000)) for _ in range(5_000)]  # whole seconds
    moments += [rng.randrange(4_000_000_000) + rng.randrange(1_000_000) / 1e6 for _ in range(5_000)]
    for moment in moments:
        assert label_time(moment) == format_time(from_timestamp(moment)), moment


def test_rounding_to_microseconds_at_the_edges() -> None:
    """Half a microsecond rounds to even, and a fraction that rounds up to a whole second
    carries into the seconds, the minute and the day, as datetime does."""
    edges = [0.0, 59.9999996, 59.9999994, 86_399.9999999, 1_793_519_999.9999999, 1.0000005,
             1.0000015, 0.5e-6, 1.5e-6, 2.5e-6, 951_868_799.9999997, 4_102_444_799.999_999_6]
    for moment in edges:
        assert label_time(moment) == format_time(from_timestamp(moment)), moment
