"""Sentiment speed: CPU µs per mention of the sentiment scorer alone, beside bare vaderSentiment
and beside the engine it replaced, on the same texts, in one run.

    .venv/bin/python bench/sentiment_speed.py [--mentions 50000] [--runs 7] [--batch 500]

The texts are those of `bench/throughput.py`'s stream: the real tweets of ``../shared/data``,
each prefixed with the watched brand's name ("@sentineld" one time in five, else
"sentineld"), scored with the same ``[watch]`` section, so the scorer does the work it does
in the pipeline (the brand is a neutral term). Two more sets are timed: the same tweets
without the prefix, and the data sets' tweets that contain a non-ASCII character (emoji,
curly quotes, accents; rare in these data sets, common in live streams).

Contenders, taking turns batch by batch (`scoring_speed.median_rates`), CPU time of this
thread, median of ``--runs`` passes, cyclic garbage collected as `sentineld replay` collects it:

- the scorer, through ``Scorer.score`` (batches of ``--batch`` mentions, as the pipeline
  calls it; default engine "social");
- the engine's ``compound`` alone, and the engine it replaced (kept in
  ``tests/scorers/sentiment_reference`` as the tests' oracle), both "social": before/after;
- the "vader" engine, and vaderSentiment's ``polarity_scores``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from datasets import data_dir, tweet_texts  # noqa: E402
from scoring_speed import Steps, context, make_mentions, median_rates, pin_to_one_cpu  # noqa: E402
from throughput import CONFIG  # noqa: E402

from sentineld import Mention  # noqa: E402
from sentineld.cli.common import tune_gc_for_streaming  # noqa: E402
from sentineld.config import load_config  # noqa: E402
from sentineld_plugins.scorers.sentiment import (  # noqa: E402
    SentimentOptions,
    SentimentScorer,
    _watch_terms,
)
from sentineld_plugins.scorers.sentiment.engine import VaderEngine  # noqa: E402
from tests.scorers.sentiment_reference import VaderEngine as PreviousEngine  # noqa: E402

BARE = "vaderSentiment polarity_scores (bare)"
SCORER = "scorer, engine=social (Scorer.score)"
AFTER = "engine=social, compound()"
BEFORE = "previous engine=social, compound()"


def stream_texts(tweets: Sequence[str], count: int) -> list[str]:
    """The texts of `bench/throughput.py`'s stream (its `write_stream`)."""
    return [
        f"{'@sentineld' if i % 5 == 0 else 'sentineld'} {tweets[i % len(tweets)]}"
        for i in range(count)
    ]


def compound_steps(compound: Callable[[str], object], batches: list[list[str]]) -> Steps:
    def run(texts: list[str]) -> None:
        for text in texts:
            compound(text)

    return [functools.partial(run, batch) for batch in batches]


def measure(texts: list[str], batch: int, runs: int) -> dict[str, float]:
    """CPU µs per text of each contender on `texts`."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    watch = load_config(text=CONFIG).watch
    terms = _watch_terms(watch)
    scorer = SentimentScorer(SentimentOptions(), context("mood", watch))
    loop = asyncio.new_event_loop()
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    polarity = SentimentIntensityAnalyzer().polarity_scores

    def score(mentions: list[Mention]) -> None:
        loop.run_until_complete(scorer.score(mentions))

    contenders: dict[str, Steps] = {
        SCORER: [functools.partial(score, make_mentions(part, len(part))) for part in batches]
    }
    contenders[AFTER] = compound_steps(VaderEngine(neutral_terms=terms).compound, batches)
    contenders[BEFORE] = compound_steps(PreviousEngine(neutral_terms=terms).compound, batches)
    contenders["engine=vader, compound()"] = compound_steps(
        VaderEngine(social=False).compound, batches
    )
    contenders[BARE] = compound_steps(polarity, batches)
    rates = median_rates(contenders, len(texts), runs, clock=time.thread_time)
    return {name: 1e6 / rate for name, rate in rates}


def report(title: str, micros: dict[str, float]) -> None:
    print(f"{title:44} {'µs/mention':>11} {'× bare VADER':>13}")
    for name, value in micros.items():
        print(f"  {name:42} {value:11.2f} {micros[BARE] / value:12.2f}x")
    print(f"  {'after / before (compound)':42} {micros[AFTER] / micros[BEFORE]:11.2f}\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="default: $SENTINELD_DATA")
    parser.add_argument("--mentions", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)

    tune_gc_for_streaming()
    tweets = tweet_texts(args.data or data_dir())
    non_ascii = [text for text in tweets if not text.isascii()]
    sets = {
        "throughput stream (brand-prefixed tweets)": stream_texts(tweets, args.mentions),
        "plain tweets": [tweets[i % len(tweets)] for i in range(args.mentions)],
        f"the {len(non_ascii)} tweets with non-ASCII characters": non_ascii
        * max(1, args.mentions // (5 * len(non_ascii))),
    }
    print(
        f"{len(tweets)} distinct tweets ({statistics.fmean(map(len, tweets)):.0f} characters "
        f"on average); CPU time, median of {args.runs} runs; {pin_to_one_cpu()}\n"
    )
    for title, texts in sets.items():
        report(f"{title}, {len(texts):,} texts", measure(texts, args.batch, args.runs))


if __name__ == "__main__":
    main()
