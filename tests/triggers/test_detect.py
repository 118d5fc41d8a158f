"""The count detectors' arithmetic: tails against scipy.stats, baselines on constructed series."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from sentineld.detect import (
    Learning,
    SeasonalCounts,
    ShareBaseline,
    binomial_sf,
    count_isf,
    count_sf,
    surprise,
)

from .streams import START

WINDOW = 300.0
LEARNING = Learning.from_half_lives(WINDOW, level=3 * 86400, daily=7 * 86400,
                                    weekly=21 * 86400, dispersion=7 * 86400, warmup=86400)
T0 = START.timestamp()


@pytest.mark.parametrize(("observed", "mean", "dispersion"),
                         [(2, 0.3, 0.0), (12, 3.0, 0.0), (150, 40.0, 0.5), (7, 2.0, 1.3)])
def test_count_tail_matches_scipy_stats(observed: int, mean: float, dispersion: float) -> None:
    if dispersion == 0:
        expected = stats.poisson.sf(observed - 1, mean)
    else:
        size = 1 / dispersion
        expected = stats.nbinom.sf(observed - 1, size, size / (size + mean))
    assert count_sf(observed, mean, dispersion) == pytest.approx(expected, rel=1e-9)


def test_zero_to_two_is_not_rare() -> None:
    # Two mentions where 0.3 are expected happen in one window of 27: not a crisis.
    assert count_sf(2, 0.3, 0.0) == pytest.approx(1 - math.exp(-0.3) * 1.3)
    assert count_sf(2, 0.3, 0.0) > 0.03


@pytest.mark.parametrize(("alpha", "mean", "dispersion"),
                         [(1e-6, 0.5, 0.0), (1e-12, 30.0, 0.3), (1e-3, 1000.0, 0.05)])
def test_count_isf_is_the_smallest_count_that_is_rare_enough(alpha, mean, dispersion) -> None:
    threshold = count_isf(alpha, mean, dispersion)
    assert count_sf(threshold, mean, dispersion) <= alpha < count_sf(threshold - 1, mean, dispersion)


def test_binomial_tail_and_its_overdispersion() -> None:
    assert binomial_sf(12, 20, 0.1) == pytest.approx(stats.binom.sf(11, 20, 0.1), rel=1e-9)
    # Over-dispersion widens the spread: the same share is less surprising.
    assert binomial_sf(12, 20, 0.1, dispersion=3.0) > 1000 * binomial_sf(12, 20, 0.1)
    assert surprise(1e-6) == pytest.approx(6.0)
    assert surprise(0.0) == 300.0


def seasonal(hour: float) -> float:
    return 5 + 45 * (1 - math.cos(2 * math.pi * (hour - 4) / 24)) / 2


def feed(counts: SeasonalCounts, days: float, value=seasonal, start: float = T0) -> float:
    windows = int(days * 86400 / WINDOW)
    for index in range(windows):
        moment = start + index * WINDOW
        counts.learn(moment, value((moment % 86400) / 3600), LEARNING)
    return start + windows * WINDOW


def test_learns_a_daily_rhythm() -> None:
    counts = SeasonalCounts()
    end = feed(counts, 7)
    for hour in (4, 10, 16, 22):
        forecast = counts.mean(end + hour * 3600)
        hourly = sum(seasonal(hour + k / 12) for k in range(12)) / 12
        assert forecast == pytest.approx(hourly, rel=0.2)
    assert counts.mean(end + 16 * 3600) > 6 * counts.mean(end + 4 * 3600)


def test_a_spike_does_not_teach_that_spikes_are_normal() -> None:
    counts = SeasonalCounts()
    end = feed(counts, 3, value=lambda hour: 20.0)
    dispersion = counts.dispersion(LEARNING)
    counts.learn(end, 5000, LEARNING)
    # Entered clipped to the forecast's 1e-3 quantile; unclipped, this hour would forecast ~200.
    assert counts.mean(end + WINDOW) < 24
    assert counts.dispersion(LEARNING) < dispersion + 0.01


def test_a_lasting_level_shift_is_learnt() -> None:
    counts = SeasonalCounts()
    end = feed(counts, 3, value=lambda hour: 20.0)
    end = feed(counts, 6, value=lambda hour: 60.0, start=end)
    assert counts.mean(end) == pytest.approx(60, rel=0.15)


def test_silence_decays_the_level_in_closed_form() -> None:
    counts = SeasonalCounts()
    end = feed(counts, 2, value=lambda hour: 20.0)
    short, long = SeasonalCounts.load(counts.dump()), SeasonalCounts.load(counts.dump())
    short.learn_silence(end, 10, LEARNING)
    long.learn_silence(end, 10_000, LEARNING)
    assert short.mean(end) < 20 and short.seen == counts.seen + 10
    assert long.mean(end) < 0.01 * counts.mean(end)
    assert long.seen == counts.seen + 10_000


def test_warm_up_counts_windows() -> None:
    counts = SeasonalCounts()
    feed(counts, 0.5)
    assert not counts.warm(LEARNING)
    feed(counts, 0.5, start=T0 + 43200)
    assert counts.warm(LEARNING)


def test_share_baseline_learns_share_and_scatter() -> None:
    share = ShareBaseline()
    for index in range(400):
        share.learn(10 + (index % 3) * 10, 100, LEARNING)  # 10 %, 20 %, 30 %: over-dispersed
    assert share.share() == pytest.approx(0.2, abs=0.02)
    assert share.dispersion() > 3
    assert ShareBaseline.load(share.dump()).share() == share.share()


def test_a_short_silence_does_not_inflate_the_dispersion() -> None:
    # In the first day the dispersion has not started: a pause of a few windows leaves it at 0.
    young = SeasonalCounts()
    end = feed(young, 0.2, value=lambda hour: 3.0)
    young.learn_silence(end, 3, LEARNING)
    assert not young.busy and young.dispersion(LEARNING) == 0.0
    # Later, a pause is three windows among hundreds, not the whole story.
    grown = SeasonalCounts()
    end = feed(grown, 3, value=lambda hour: 3.0)
    before = grown.dispersion(LEARNING)
    grown.learn_silence(end, 3, LEARNING)
    assert abs(grown.dispersion(LEARNING) - before) < 0.01


def test_a_quiet_key_learns_its_level_alone() -> None:
    # Two mentions an hour: too few for a daily shape or a dispersion of its own.
    counts = SeasonalCounts()
    feed(counts, 3, value=lambda hour: 1.0 if hour % 1 < 0.1 else 0.0)
    assert not counts.busy and counts.profile is None
    assert counts.mean(T0 + 4 * 3600) == counts.mean(T0 + 16 * 3600) == pytest.approx(1 / 6, rel=0.1)
    assert counts.dispersion(LEARNING) == LEARNING.prior_dispersion


def test_a_key_becomes_busy_then_quiet_again() -> None:
    counts = SeasonalCounts()
    end = feed(counts, 3)
    assert counts.busy and counts.profile is not None
    assert counts.mean(end + 16 * 3600) > 3 * counts.mean(end + 4 * 3600)
    # A month of silence: the level decays below a quarter of a mention per window and the key
    # forgets its profile (and the memory it took).
    counts.learn_silence(end, 30 * 288, LEARNING)
    assert not counts.busy and counts.mean(end) < 0.25


def test_a_quiet_run_in_closed_form_equals_window_by_window() -> None:
    stepwise, closed = SeasonalCounts(), SeasonalCounts()
    moment = T0
    for count, silence in [(1, 40), (3, 0), (1, 700), (2, 5), (12, 30)]:
        stepwise.learn(moment, count, LEARNING)
        for k in range(silence):
            stepwise.learn(moment + (k + 1) * WINDOW, 0, LEARNING)
        closed.learn_run(moment, count, silence, LEARNING)
        moment += (silence + 1) * WINDOW
    assert not closed.busy and closed.seen == stepwise.seen
    assert closed.level == pytest.approx(stepwise.level, rel=1e-9)
