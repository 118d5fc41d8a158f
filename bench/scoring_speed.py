"""Scoring speed: mentions per second through each scorer's batch API, on one core.

    .venv/bin/python bench/scoring_speed.py [--mentions 60000] [--runs 7] [--batch 500]

The texts are the real tweets of ``../shared/data`` (VADER ground truth, TweetEval, customer
support sample: about 6,300 tweets, 89 characters on average), repeated to ``--mentions``.
Each figure is the median of ``--runs`` timed passes after one untimed warm-up pass; the
contenders take turns batch by batch, so that a change in the machine's load hits them alike. The process is
pinned to one CPU where the OS allows it.

One function per scorer (``bench_<scorer>``, listed in `BENCHES`) returns its `Section`, so
that other scorers are added beside sentiment and measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import data_dir, tweet_texts  # noqa: E402

from sentineld import Mention, Scorer  # noqa: E402
from sentineld.components import ComponentContext  # noqa: E402
from sentineld.watch import WatchConfig  # noqa: E402

Row = tuple[str, float]


@dataclass
class Section:
    """One scorer's figures: (name, mentions/s) rows, and the row the ratios are taken to."""

    title: str
    rows: list[Row]
    baseline: str | None = None

    def print(self) -> None:
        base = dict(self.rows).get(self.baseline) if self.baseline else None
        ratio_header = f"× {self.baseline.split()[0]}" if base else ""
        print(f"{self.title:44} {'mentions/s':>12} {ratio_header:>22}")
        for name, rate in self.rows:
            ratio = f"{rate / base:21.2f}x" if base else ""
            print(f"  {name:42} {rate:12,.0f} {ratio}")
        print()


def pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def make_mentions(texts: Sequence[str], count: int) -> list[Mention]:
    now = datetime.now(UTC)
    return [
        Mention(id=f"bench:{i}", source="bench", created_at=now, text=texts[i % len(texts)])
        for i in range(count)
    ]


def context(component_id: str, watch: WatchConfig | None = None) -> ComponentContext:
    return ComponentContext(
        id=component_id, kind="scorer", watch=watch or WatchConfig(), state_dir=Path(".")
    )


#: A contender is a list of steps, one per batch of the same mentions for every contender.
Steps = list[Callable[[], None]]


def median_rates(
    contenders: dict[str, Steps],
    items: int,
    runs: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Row]:
    """Items per second of each contender: the median over `runs` timed passes.

    Each contender makes one untimed pass first. Then, batch by batch, the contenders take
    turns on the same batch, each timing its own steps by `clock` (wall time by default;
    `time.thread_time` counts only this thread's CPU time): a change in the machine's load
    (other processes on a shared core) hits all of them alike, so their ratio holds even when
    the absolute figures move.
    """
    for steps in contenders.values():
        for step in steps:
            step()
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        spent = dict.fromkeys(contenders, 0.0)
        for batch_steps in zip(*contenders.values(), strict=True):
            for name, step in zip(contenders, batch_steps, strict=True):
                started = clock()
                step()
                spent[name] += clock() - started
        for name, seconds in spent.items():
            rates[name].append(items / seconds)
    return [(name, statistics.median(values)) for name, values in rates.items()]


def scorer_steps(scorer: Scorer, batches: list[list[Mention]]) -> Steps:
    """One ``await scorer.score(batch)`` per batch, as the pipeline's score stage calls it."""
    loop = asyncio.new_event_loop()

    def step(batch: list[Mention]) -> Callable[[], None]:
        return lambda: loop.run_until_complete(scorer.score(batch))

    return [step(batch) for batch in batches]


def bench_sentiment(mentions: list[Mention], batch: int, runs: int) -> Section:
    """The sentiment scorer's engines, and bare vaderSentiment on the same texts."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from sentineld_plugins.scorers.sentiment import SentimentOptions, SentimentScorer

    watch = WatchConfig(brand=["acmeair", "@acmeair"], competitors={"rivaljet": ["rivaljet"]})
    batches = [mentions[i : i + batch] for i in range(0, len(mentions), batch)]
    contenders: dict[str, Steps] = {}
    for engine in ("social", "vader"):
        scorer = SentimentScorer(SentimentOptions(engine=engine), context("mood", watch))
        contenders[f"sentiment scorer, engine={engine}"] = scorer_steps(scorer, batches)

    polarity = SentimentIntensityAnalyzer().polarity_scores

    def bare(texts: list[str]) -> None:
        for text in texts:
            polarity(text)

    contenders["vaderSentiment polarity_scores (bare)"] = [
        functools.partial(bare, [mention.text for mention in part]) for part in batches
    ]
    return Section(
        "sentiment",
        median_rates(contenders, len(mentions), runs),
        baseline="vaderSentiment polarity_scores (bare)",
    )


#: Every scorer measured, in order; each returns its own `Section`.
BENCHES: list[Callable[[list[Mention], int, int], Section]] = [bench_sentiment]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="default: $SENTINELD_DATA")
    parser.add_argument("--mentions", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)

    texts = tweet_texts(args.data or data_dir())
    mentions = make_mentions(texts, args.mentions)
    mean_length = statistics.fmean(len(text) for text in texts)
    print(
        f"{len(mentions)} mentions from {len(texts)} distinct tweets "
        f"({mean_length:.0f} characters on average), batches of {args.batch}, "
        f"median of {args.runs} runs, {pin_to_one_cpu()}\n"
    )
    for bench in BENCHES:
        bench(mentions, args.batch, args.runs).print()


if __name__ == "__main__":
    main()
