"""How much to trust volume_spike's NAB score: the score under perturbed series and when the
configuration is chosen without seeing the file it is scored on.

    .venv/bin/python bench/nab_robustness.py [--jobs 2] [--skip-loo]

The detector's defaults were settled while looking at NAB's five Twitter files
(docs/decisions/0203), so its score there may flatter it. Two checks, both with the detector
driven in-process on the same expanded mentions as `bench/nab.py` (`bench/nab_inprocess.py`,
which gives the product's detections):

- **Perturbed series**, scored with the default configuration: every event time shifted by a
  few hours or days (the series' phase against the UTC day and week changes, its content does
  not), every count thinned to half (each mention kept with probability 0.5, seeded) or doubled.
  A detector that fits the files rather than the phenomenon loses most here.
- **Leave one file out**: for each file, the configuration (``alpha`` × ``confirm_alpha``, the
  thresholds that trade detections for false alarms) that scores best on the *other* four is
  scored on it; the held-out scores are summed and normalised as NAB does. This estimates what
  the way the defaults were chosen is worth on a series it has not seen.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nab import PUBLISHED, Series, detection_rows, load_series  # noqa: E402
from nab_inprocess import opened_alerts  # noqa: E402
from nab_scoring import PROFILES, FileScore, normalised, score_file  # noqa: E402

HOUR = 3600.0
#: (name, kind, amount): shifts in hours, thinning as the share kept, scaling as a factor.
PERTURBATIONS: list[tuple[str, str, float]] = [
    ("as published", "none", 0),
    ("shifted +5 h", "shift", 5),
    ("shifted +11 h", "shift", 11),
    ("shifted +17 h", "shift", 17),
    ("shifted +1 d 5 h", "shift", 29),
    ("shifted +2 d 5 h", "shift", 53),
    ("shifted +3 d 5 h", "shift", 77),
    ("shifted +4 d 5 h", "shift", 101),
    ("thinned to 1/2", "thin", 0.5),
    ("doubled", "scale", 2),
]
GRID: list[dict[str, Any]] = [
    {"alpha": alpha, "confirm_alpha": confirm}
    for alpha in (1e-9, 1e-12, 1e-15)
    for confirm in (1e-5, 1e-6, 1e-7)
]
_SERIES: list[Series] = []


def perturb(series: Series, kind: str, amount: float, seed: int = 1) -> Series:
    if kind == "shift":
        return Series(series.name, [t + amount * HOUR for t in series.times], series.values,
                      series.windows)
    if kind == "thin":
        rng = np.random.default_rng(seed)
        kept = rng.binomial(series.values, amount)
        return Series(series.name, series.times, [int(v) for v in kept], series.windows)
    if kind == "scale":
        return Series(series.name, series.times, [round(v * amount) for v in series.values],
                      series.windows)
    return series


def _score(job: tuple[int, str, float, dict[str, Any]]) -> list[FileScore]:
    index, kind, amount, options = job
    if not _SERIES:
        _SERIES.extend(load_series())
    series = perturb(_SERIES[index], kind, amount)
    rows = detection_rows(series, opened_alerts(series.times, series.values, options))
    return [score_file(len(series.values), series.windows, rows, PROFILES[name])
            for name in ("standard", "reward_low_FP")]


def run(pool: ProcessPoolExecutor, files: int, jobs: list[tuple[str, float, dict[str, Any]]]
        ) -> list[list[list[FileScore]]]:
    """For each (kind, amount, options): per file, [standard, reward_low_FP] scores."""
    flat = [(index, kind, amount, options) for kind, amount, options in jobs
            for index in range(files)]
    results = list(pool.map(_score, flat))
    return [results[k * files:(k + 1) * files] for k in range(len(jobs))]


def corpus(per_file: list[list[FileScore]], profile: int) -> float:
    name = ("standard", "reward_low_FP")[profile]
    return normalised([scores[profile] for scores in per_file], PROFILES[name])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-loo", action="store_true", help="only the perturbed series")
    args = parser.parse_args()
    started = time.perf_counter()
    names = [series.name for series in load_series()]
    files = len(names)
    print("volume_spike on NAB realTweets, driven in-process (bench/nab_inprocess.py), "
          "default configuration unless said")
    print()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        perturbed = run(pool, files, [(kind, amount, {}) for _, kind, amount in PERTURBATIONS])
        print(f"{'series':18} {'standard':>8} {'low_FP':>7} {'windows':>8} {'FP':>4}")
        shifted = []
        for (label, kind, _), per_file in zip(PERTURBATIONS, perturbed, strict=True):
            standard, low_fp = corpus(per_file, 0), corpus(per_file, 1)
            if kind in ("none", "shift"):
                shifted.append((standard, low_fp))
            detected = sum(scores[0].detected for scores in per_file)
            windows = sum(scores[0].windows for scores in per_file)
            false = sum(scores[0].false_positives for scores in per_file)
            print(f"{label:18} {standard:8.1f} {low_fp:7.1f} {detected:>4}/{windows:<3} {false:>4}")
        print(f"{'over the 8 phases':18} {statistics.mean(s for s, _ in shifted):8.1f} "
              f"{statistics.mean(f for _, f in shifted):7.1f}   (mean; lowest standard "
              f"{min(s for s, _ in shifted):.1f})")
        if not args.skip_loo:
            print()
            loo(run(pool, files, [("none", 0, options) for options in GRID]), names)
    print()
    print("published on these five files (standard): " +
          ", ".join(f"{name} {value}" for name, value in PUBLISHED.items()))
    print(f"bench took {time.perf_counter() - started:.0f} s with {args.jobs} job(s)")
    return 0


def loo(table: list[list[list[FileScore]]], names: list[str]) -> None:
    """Leave-one-file-out choice of (alpha, confirm_alpha) on the grid, per profile."""
    print("grid (in-sample, all five files):")
    for options, per_file in zip(GRID, table, strict=True):
        print(f"  alpha {options['alpha']:.0e} confirm_alpha {options['confirm_alpha']:.0e}: "
              f"standard {corpus(per_file, 0):5.1f}  reward_low_FP {corpus(per_file, 1):5.1f}")
    for profile, name in enumerate(("standard", "reward_low_FP")):
        held_out: list[FileScore] = []
        picks = []
        for index in range(len(names)):
            best = max(range(len(GRID)), key=lambda k: sum(
                table[k][other][profile].raw for other in range(len(names)) if other != index))
            held_out.append(table[best][index][profile])
            picks.append(f"{names[index]}: {GRID[best]['alpha']:.0e}/"
                         f"{GRID[best]['confirm_alpha']:.0e}")
        score = normalised(held_out, PROFILES[name])
        print(f"leave one file out, {name:13}: {score:5.1f}   (chosen on the other four: "
              f"{', '.join(picks)})")


if __name__ == "__main__":
    raise SystemExit(main())
