"""The NAB scorer on constructed cases worked out by hand, and against rows of NAB's own
published results (numenta/NAB, results/ARTime/realTweets/ARTime_Twitter_volume_AMZN.csv,
columns S(t)_standard and S(t)_reward_low_FP_rate)."""

from __future__ import annotations

import math

import pytest

from nab_scoring import PROFILES, Window, normalised, probation_rows, scaled_sigmoid, score_file

STANDARD = PROFILES["standard"]
LOW_FP = PROFILES["reward_low_FP"]


def sigmoid_by_hand(y: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def test_probation_is_fifteen_percent_capped_at_750_rows() -> None:
    assert probation_rows(1000) == 150
    assert probation_rows(15831) == 750
    assert probation_rows(4999) == 749


def test_scaled_sigmoid_is_nab_s() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.5) == -1.0


def test_constructed_file_with_known_score() -> None:
    # 1000 rows (probation 150), two windows of 100 rows.
    windows = [Window(200, 299, (250,)), Window(600, 699, (650,))]
    detections = [
        100,  # in probation: ignored
        250,  # in the first window, at its label…
        220,  # …and earlier in it: only the earliest counts, whatever the order
        450,  # false positive, 151 rows after the first window (99 = its width - 1)
        170,  # false positive before any window: full -fp_weight
    ]
    score = score_file(1000, windows, detections, STANDARD)
    tp = sigmoid_by_hand(-(299 - 220 + 1) / 100) / sigmoid_by_hand(-1.0)
    fp = 0.11 * sigmoid_by_hand(151 / 99) - 0.11
    assert score.tp_score == pytest.approx(tp)
    assert score.fp_score == pytest.approx(fp)
    assert (score.detected, score.false_positives) == (1, 2)
    assert score.raw == pytest.approx(tp + fp - 1.0)  # the second window was missed
    assert score.delays == [(20, -30)]
    # Normalised alone: perfect is 2 windows × 1, null is 2 × -1.
    assert normalised([score], STANDARD) == pytest.approx(100 * (score.raw + 2) / 4)


def test_first_row_of_a_window_is_worth_exactly_tp_weight() -> None:
    score = score_file(1000, [Window(300, 399)], [300], STANDARD)
    assert score.raw == pytest.approx(1.0)
    assert normalised([score], STANDARD) == pytest.approx(100.0)


def test_no_detection_is_the_null_score() -> None:
    score = score_file(1000, [Window(300, 399), Window(500, 599)], [], LOW_FP)
    assert score.raw == -2.0
    assert normalised([score], LOW_FP) == 0.0


def test_reward_low_fp_doubles_the_false_positive_cost() -> None:
    windows = [Window(300, 399)]
    standard = score_file(1000, windows, [300, 900], STANDARD)
    low_fp = score_file(1000, windows, [300, 900], LOW_FP)
    assert low_fp.fp_score == pytest.approx(2 * standard.fp_score)


def test_rows_published_by_nab() -> None:
    # AMZN's third window is rows 9598..9992 of 15831. NAB scores a detection at row 9757
    # (2015-04-01 18:47:53) 0.9162627868287228 and one at 9756 0.917428680428408; a detection
    # one row after the window costs -0.0006979601762490692 (standard) and twice that
    # (reward_low_FP).
    window = [Window(9598, 9992)]
    assert score_file(15831, window, [9757], STANDARD).raw == pytest.approx(
        0.9162627868287228, abs=1e-12)
    assert score_file(15831, window, [9756], STANDARD).raw == pytest.approx(
        0.917428680428408, abs=1e-12)
    after = 0.9162627868287228 - 0.0006979601762490692
    assert score_file(15831, window, [9757, 9993], STANDARD).raw == pytest.approx(after, abs=1e-12)
    assert score_file(15831, window, [9993], LOW_FP).fp_score == pytest.approx(
        -0.0013959203524981391, abs=1e-15)


def test_overlapping_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        score_file(1000, [Window(200, 300), Window(300, 400)], [], STANDARD)
