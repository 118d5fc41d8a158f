"""Detection quality of volume_spike on the Numenta Anomaly Benchmark's Twitter volumes, through
the product.

    .venv/bin/python bench/nab.py [--jobs 2] [--keep DIR] [--set key=value ...]

Each 5-minute count of ``../shared/data/nab/realTweets/*.csv`` (or ``$SENTINELD_DATA/nab``)
becomes that many mentions of one brand, spread evenly over the row's 5 minutes (event time =
the row's timestamp + offset). The mentions go through ``sentineld replay --json`` in a
subprocess, with one config file (written below, the same for every series). Each volume_spike
alert opened on all channels ("*") is a detection, at the row whose 5 minutes hold its
``opened_at``. The detections are scored with NAB's standard and reward_low_FP profiles
(``bench/nab_scoring.py``) and the detection delay is reported, with the published detectors
on the same five files beside them.

No count is capped or scaled: about 2.9 million mentions go through the pipeline.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nab_scoring import PROFILES, FileScore, Window, normalised, score_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SENTINELD_DATA", REPO.parent / "shared" / "data")) / "nab"
ROW_SECONDS = 300

#: The one configuration used for every series. The detector's own defaults are its tested
#: configuration; the bench only sets the window to the data's 5-minute resolution, watches
#: all channels together (the series has one channel) and quietens the logs.
CONFIG = """\
[sentineld]
log_level = "warning"
tick = "1m"

[watch]
brand = ["acme"]

[triggers.buzz]
type = "volume_spike"
window = "5m"
per_channel = false
{extra}
"""

#: Published results on these five files (standard profile; see the data README).
PUBLISHED = {
    "ARTime": 80.2,
    "CAD OSE": 64.4,
    "earthgecko Skyline": 64.3,
    "KNN CAD": 64.2,
    "Relative Entropy": 57.6,
    "Twitter ADVec": 57.6,
    "Windowed Gaussian": 57.5,
    "Numenta HTM": 55.9,
}


@dataclass(slots=True)
class Series:
    name: str
    times: list[float]
    values: list[int]
    windows: list[Window]


def parse_time(text: str) -> float:
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def load_series() -> list[Series]:
    labels = json.loads((DATA / "windows.json").read_text())
    out = []
    for name, spec in sorted(labels.items()):
        with (DATA / name).open() as handle:
            rows = list(csv.DictReader(handle))
        times = [parse_time(row["timestamp"]) for row in rows]
        values = [int(row["value"]) for row in rows]
        index = {t: i for i, t in enumerate(times)}
        label_rows = [index[parse_time(label)] for label in spec["labels"]]
        windows = []
        for first, last in spec["windows"]:
            start, end = parse_time(first), parse_time(last)
            first_row = next(i for i, t in enumerate(times) if t >= start)
            last_row = max(i for i, t in enumerate(times) if t <= end)
            inside = tuple(r for r in label_rows if first_row <= r <= last_row)
            windows.append(Window(first_row, last_row, inside))
        out.append(Series(Path(name).stem.removeprefix("Twitter_volume_"), times, values, windows))
    return out


def write_mentions(series: Series, path: Path) -> int:
    """Each row's count as mentions spread evenly over its 5 minutes; returns how many."""
    written = 0
    with path.open("w") as handle:
        for row, (start, count) in enumerate(zip(series.times, series.values, strict=True)):
            step = ROW_SECONDS / count if count else 0.0
            lines = []
            for k in range(count):
                moment = datetime.fromtimestamp(start + (k + 0.5) * step, UTC)
                stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                lines.append(
                    f'{{"id":"nab:{series.name}:{row}:{k}","source":"twitter",'
                    f'"created_at":"{stamp}","text":"acme"}}\n'
                )
            handle.write("".join(lines))
            written += count
    return written


def run_replay(config: Path, mentions: Path) -> tuple[list[float], float, str]:
    """Opened volume_spike alerts on "*" (their opened_at), the seconds taken, stderr's tail."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sentineld", "replay", "--json", "--config", str(config), str(mentions)],
        capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"replay failed ({result.returncode}): {result.stderr[-2000:]}")
    opened: dict[str, float] = {}
    for line in result.stdout.splitlines():
        alert = json.loads(line)
        if alert["kind"] == "volume_spike" and alert["channel"] == "*":
            opened[alert["id"]] = parse_iso(alert["opened_at"])
    return sorted(opened.values()), seconds, result.stderr.strip().splitlines()[-1:]


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def detection_rows(series: Series, opened: list[float]) -> list[int]:
    """The row whose 5 minutes hold each opened_at (rows are sorted and contiguous)."""
    rows = []
    times = series.times
    for moment in opened:
        low, high = 0, len(times) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if times[middle] <= moment:
                low = middle
            else:
                high = middle - 1
        if times[low] <= moment < times[low] + ROW_SECONDS:
            rows.append(low)
    return rows


def evaluate(series: Series, config: Path, scratch: Path) -> dict[str, object]:
    path = scratch / f"{series.name}.jsonl"
    count = write_mentions(series, path)
    opened, seconds, tail = run_replay(config, path)
    path.unlink()
    rows = detection_rows(series, opened)
    scores = {name: score_file(len(series.values), series.windows, rows, profile)
              for name, profile in PROFILES.items()}
    return {"series": series, "mentions": count, "seconds": seconds, "rows": rows,
            "scores": scores, "summary": tail}


def median_text(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.0f} {unit}" if values else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1, help="replays run side by side")
    parser.add_argument("--keep", type=Path, default=None, help="keep the config here")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra volume_spike option (TOML value), to study sensitivity")
    args = parser.parse_args()
    started = time.perf_counter()
    all_series = load_series()
    extra = "\n".join(args.set)
    with tempfile.TemporaryDirectory(prefix="sentineld-nab-") as scratch_name:
        scratch = Path(scratch_name)
        config = (args.keep or scratch) / "nab.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(CONFIG.format(extra=extra))
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda s: evaluate(s, config, scratch), all_series))
    elapsed = time.perf_counter() - started
    report(results, extra, elapsed, args.jobs)
    return 0


def report(results: list[dict[str, object]], extra: str, elapsed: float, jobs: int) -> None:
    print("NAB realTweets (5 files) through `sentineld replay --json`, volume_spike on all channels")
    print("config: window=5m, per_channel=false" + (f", {extra.replace(chr(10), ', ')}" if extra else
                                                    ", detector defaults"))
    print()
    print(f"{'file':6} {'mentions':>9} {'replay s':>8} {'alerts':>6} {'windows':>8} {'FP':>4} "
          f"{'raw std':>8} {'raw lowFP':>9}")
    per_profile: dict[str, list[FileScore]] = {name: [] for name in PROFILES}
    from_start: list[int] = []
    from_label: list[int] = []
    mentions = 0
    replay_seconds = 0.0
    for result in results:
        series = result["series"]
        scores = result["scores"]
        assert isinstance(series, Series) and isinstance(scores, dict)
        for name, score in scores.items():
            per_profile[name].append(score)
        standard = scores["standard"]
        low_fp = scores["reward_low_FP"]
        for start_delay, label_delay in standard.delays:
            from_start.append(start_delay)
            if label_delay is not None:
                from_label.append(label_delay)
        mentions += int(result["mentions"])  # type: ignore[arg-type]
        replay_seconds += float(result["seconds"])  # type: ignore[arg-type]
        print(f"{series.name:6} {result['mentions']:>9,} {result['seconds']:>8.1f} "
              f"{len(result['rows']):>6} {standard.detected:>4}/{standard.windows:<3} "  # type: ignore[arg-type]
              f"{standard.false_positives:>4} {standard.raw:>8.2f} {low_fp.raw:>9.2f}")
    print()
    for name in ("standard", "reward_low_FP", "reward_low_FN"):
        print(f"NAB score, {name:14}: {normalised(per_profile[name], PROFILES[name]):6.1f}")
    found = sum(score.detected for score in per_profile["standard"])
    windows = sum(score.windows for score in per_profile["standard"])
    false = sum(score.false_positives for score in per_profile["standard"])
    print(f"windows found: {found} of {windows}; false alarms: {false}")
    print()
    minutes = ROW_SECONDS / 60
    print("detection delay, median over detected windows: "
          f"{median_text(from_start, 'rows')} ({median_text([d * minutes for d in from_start], 'min')}) "
          f"after the window opens; {median_text(from_label, 'rows')} "
          f"({median_text([d * minutes for d in from_label], 'min')}) after the label")
    print()
    print("published on these five files (standard profile):")
    for name, value in PUBLISHED.items():
        print(f"  {name:20} {value:5.1f}")
    print()
    print("how far to trust the score (perturbed series, leave-one-file-out thresholds): "
          "bench/nab_robustness.py")
    print(f"{mentions:,} mentions replayed in {replay_seconds:.0f} s of replays "
          f"({mentions / replay_seconds:,.0f} mentions/s per replay); whole bench {elapsed:.0f} s "
          f"with {jobs} job(s)")


if __name__ == "__main__":
    raise SystemExit(main())
