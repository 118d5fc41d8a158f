"""Throughput of the whole pipeline: `sentineld replay` with the shipped config's scorers and
triggers and the SQLite store, beside bare vaderSentiment on the same texts, in one run.

    .venv/bin/python bench/throughput.py [--mentions 1000000] [--authors 200000] [--runs 3]

The mentions are the real tweets of ``../shared/data`` (repeated, each prefixed with the brand's
name so that matching and the triggers have work; one in five addresses the brand's account,
which opens a case and an SLA timer), from ``--authors`` distinct authors, one every 50 ms of
event time. The replay is a real subprocess (`python -m sentineld
replay`); its CPU time (user + system, from the kernel) gives mentions/s per core, its wall time
mentions/s. vaderSentiment's rate is measured on a sample of the same texts in this process.
Figures are medians over ``--runs``; the ratio compares the two in this same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import tweet_texts  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

CONFIG = """
[sentineld]
log_level = "warning"

[watch]
brand = ["sentineld", "@sentineld", "#sentineld"]
accounts = ["sentineld"]
competitors.rivald = ["rivald", "@rivald"]
"""


def shipped_components(path: Path = REPO / "sentineld.toml") -> str:
    """The [scorers.*] and [triggers.*] tables of a config (default: the shipped sentineld.toml)."""
    import tomllib

    import tomli_w

    shipped = tomllib.loads(path.read_text())
    return tomli_w.dumps({k: shipped[k] for k in ("scorers", "triggers") if k in shipped})


def write_stream(path: Path, count: int, authors: int, seed: int = 1) -> list[str]:
    texts = tweet_texts()
    rng = random.Random(seed)
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    step = timedelta(milliseconds=50)
    used: list[str] = []
    with path.open("w") as handle:
        for index in range(count):
            moment += step
            # One mention in five addresses the brand's account (a case, an SLA timer); the
            # others name it in passing, as most public mentions of a brand do.
            name = "@sentineld" if index % 5 == 0 else "sentineld"
            text = f"{name} {texts[index % len(texts)]}"
            author = rng.randrange(authors)
            handle.write(json.dumps({
                "id": f"bench:{index}", "source": "bluesky" if index % 3 else "mastodon",
                "created_at": moment.isoformat().replace("+00:00", "Z"), "text": text,
                "author": {"id": f"did:plc:{author}", "handle": f"user{author}.example",
                           "followers": int(rng.lognormvariate(5, 2)), "following": rng.randrange(2000),
                           "posts": rng.randrange(20000)},
                "metrics": {"likes": rng.randrange(20), "reshares": rng.randrange(5), "replies": rng.randrange(5)},
            }) + "\n")
            if index < 50_000:
                used.append(text)
    return used


def replay_once(config: Path, stream: Path) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sentineld", "replay", "-c", str(config), str(stream)],
        capture_output=True, text=True, check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stderr.strip().splitlines()[-1]


def vader_rate(texts: list[str], runs: int) -> float:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    rates = []
    for _ in range(runs):
        started = time.process_time()
        for text in texts:
            analyzer.polarity_scores(text)
        rates.append(len(texts) / (time.process_time() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--components", type=Path, default=REPO / "sentineld.toml",
                        help="take the scorers and triggers of this config (default: the shipped one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        folder = Path(scratch)
        config = folder / "sentineld.toml"
        config.write_text(CONFIG + shipped_components(args.components))
        stream = folder / "stream.jsonl"
        print(f"writing {args.mentions:,} mentions from {args.authors:,} authors …", flush=True)
        sample = write_stream(stream, args.mentions, args.authors)
        walls, cpus = [], []
        for run in range(args.runs):
            wall, cpu, summary = replay_once(config, stream)
            walls.append(wall)
            cpus.append(cpu)
            print(f"  replay run {run + 1}: wall {wall:.1f}s, cpu {cpu:.1f}s — {summary}", flush=True)
        vader = vader_rate(sample[:20_000], args.runs)

    wall, cpu = statistics.median(walls), statistics.median(cpus)
    per_core = args.mentions / cpu
    print()
    print(f"machine: {os.cpu_count()} cores; components: the scorers and triggers of {args.components.name}")
    print(f"pipeline (sentineld replay, SQLite store): {args.mentions / wall:>10,.0f} mentions/s wall, "
          f"{per_core:,.0f} mentions/s per core (CPU time {cpu:.1f}s for {args.mentions:,})")
    print(f"bare vaderSentiment polarity_scores:       {vader:>10,.0f} texts/s on one core")
    print(f"ratio pipeline per core / bare VADER:      {per_core / vader:>10.2f}x")


if __name__ == "__main__":
    main()
