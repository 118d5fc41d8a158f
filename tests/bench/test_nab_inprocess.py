"""bench/nab_inprocess.py gives the detections of the product: on a constructed series, the
volume_spike alerts it opens are those `sentineld replay --json` opens with bench/nab.py's config,
at the same event times; and the robustness bench's perturbations change what they claim to."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nab import CONFIG, Series, run_replay, write_mentions
from nab_inprocess import describe, opened_alerts, opened_with_evidence
from nab_robustness import perturb
from nab_scoring import Window

START = 1_425_000_173.0  # like NAB's rows: 5-minute steps off the clock's 5-minute grid


def constructed(days: int = 6) -> Series:
    """A daily rhythm of Poisson counts per 5-minute row, with two bursts after the warm-up, a
    day and a half apart (each opens its own alert)."""
    rng = np.random.default_rng(5)
    rows = days * 288
    times = [START + 300 * row for row in range(rows)]
    rate = [4 + 16 * (1 - math.cos(2 * math.pi * ((t % 86400) / 3600 - 4) / 24)) / 2
            for t in times]
    values = [int(v) for v in rng.poisson(rate)]
    for first, extra in ((3 * 288 + 40, [60, 150, 90]), (4 * 288 + 200, [300])):
        for offset, add in enumerate(extra):
            values[first + offset] += add
    return Series("constructed", times, values, [Window(3 * 288 + 30, 3 * 288 + 60)])


def test_in_process_detections_are_the_products(tmp_path: Path) -> None:
    series = constructed()
    config = tmp_path / "nab.toml"
    config.write_text(CONFIG.format(extra=""))
    mentions = tmp_path / "mentions.jsonl"
    write_mentions(series, mentions)
    product, _, _ = run_replay(config, mentions)
    in_process = opened_alerts(series.times, series.values)
    assert len(product) == 2, "each constructed burst should open an alert"
    assert in_process == product


def test_perturbations_change_only_what_they_say() -> None:
    series = constructed()
    shifted = perturb(series, "shift", 5)
    assert shifted.values == series.values
    assert {b - a for a, b in zip(series.times, shifted.times, strict=True)} == {5 * 3600.0}
    thinned = perturb(series, "thin", 0.5)
    assert thinned.times == series.times
    assert all(0 <= t <= v for t, v in zip(thinned.values, series.values, strict=True))
    assert 0.4 * sum(series.values) < sum(thinned.values) < 0.6 * sum(series.values)
    assert perturb(series, "scale", 2).values == [2 * v for v in series.values]


def test_listing_names_the_window_found_and_the_false_alarm() -> None:
    series = constructed()
    opened = opened_with_evidence(series.times, series.values)
    assert [moment for moment, _ in opened] == opened_alerts(series.times, series.values)
    for _, evidence in opened:
        assert evidence["p_value"] <= 1e-6
        assert evidence["observed"] >= 2 * evidence["expected"]
    first, second = (describe(series, moment, evidence) for moment, evidence in opened)
    assert f"window {3 * 288 + 30}: row +10 of 31" in first
    assert "FALSE ALARM" in second
