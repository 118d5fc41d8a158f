"""Scoring speed of the whole scoring stage, influence and virality included, on one core.

    .venv/bin/python bench/influence_speed.py [--mentions 30000] [--runs 5] [--batch 256]

The texts are the real tweets of ``../shared/data`` (as ``bench/scoring_speed.py`` reads them);
beyond the first use of a text its words are shuffled, so that repeats are not near-duplicates,
and 2 % of the mentions copy one of a few campaign texts (near-duplicates by different authors,
which the virality scorer clusters); 90 % name the brand, as in a brand's stream. Every mention has its own author (the registry's worst
case), 10 % are replies and 10 % reshares of earlier mentions, and the stream spans a day.

Each row is the median of ``--runs`` timed passes after an untimed warm-up, the contenders
taking turns, in CPU time of the process (so that other work on a shared machine does not
count); a stateful scorer is built afresh for each pass. Rows:

- the `[watch]` matcher; the influence scorer with its registry (facts, scores, records); the
  virality scorer with the default band index and with datasketch's ``MinHashLSH``;
- the sentiment scorer (default engine);
- the whole scoring stage as the pipeline runs it: matcher, sentiment, influence, virality;
- bare vaderSentiment on the same texts: the baseline of the ratios.

Then what the virality scorer finds on a fresh copy of the stream: how many campaign copies
(reshares aside) it puts in a cluster and how many other posts, and the size and CPU time of its
checkpoint at the end.

A last section times the tracking step against a real SQLite store (every author new, so every
batch looks its authors up and writes them).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import data_dir, tweet_texts  # noqa: E402
from scoring_speed import context, pin_to_one_cpu  # noqa: E402

from sentineld import Author, Mention, Metrics  # noqa: E402
from sentineld.watch import Matcher, WatchConfig  # noqa: E402

WATCH = WatchConfig(brand=["acmeair", "@acmeair", "acme"], competitors={"rivaljet": ["rivaljet"]})
CAMPAIGNS = (
    "I am done with @acmeair: three cancelled flights this month and still no refund, boycott",
    "Petition: @acmeair must refund every passenger of the cancelled Friday flights, sign and share",
    "@acmeair lost my wheelchair on the flight to Denver and nobody answers the phone",
)


def make_stream(texts: Sequence[str], count: int, seed: int = 7) -> list[Mention]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 24, tzinfo=UTC)
    step = 86400 / count
    mentions: list[Mention] = []
    for i in range(count):
        if rng.random() < 0.02:
            text = rng.choice(CAMPAIGNS)
        else:
            text = texts[i % len(texts)]
            if i >= len(texts):
                words = text.split()
                rng.shuffle(words)
                text = " ".join(words)
            if rng.random() < 0.9:
                text = "@acmeair " + text
        followers = int(10 ** rng.gauss(2.5, 0.8))
        author = Author(
            id=f"a{i}", handle=f"user{i}", followers=followers,
            following=int(followers * rng.uniform(0.2, 2.0)), posts=rng.randint(5, 20_000),
        )
        kind, parent = rng.random(), None
        if i and kind < 0.2:
            parent = f"bench:{rng.randrange(max(0, i - 500), i)}"
        mentions.append(
            Mention(
                id=f"bench:{i}", source="bench", created_at=start + timedelta(seconds=i * step),
                text=text, author=author,
                in_reply_to=parent if kind < 0.1 else None,
                reshare_of=parent if 0.1 <= kind < 0.2 else None,
                metrics=Metrics(likes=rng.randint(0, 5), reshares=rng.randint(0, 2), replies=rng.randint(0, 1)),
            )
        )
    return mentions


def median_rates(contenders: dict[str, Callable[[], None]], items: int, runs: int) -> list[tuple[str, float]]:
    """Items per CPU second of each contender: the median over `runs` timed calls, after one
    untimed call each; the contenders take turns. CPU time of the process (all its threads), so
    that other work on the machine does not count."""
    for run_once in contenders.values():
        run_once()
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, run_once in contenders.items():
            started = time.process_time()
            run_once()
            rates[name].append(items / (time.process_time() - started))
    return [(name, statistics.median(values)) for name, values in rates.items()]


def batches(mentions: list[Mention], size: int) -> list[list[Mention]]:
    return [mentions[i : i + size] for i in range(0, len(mentions), size)]


def stage_pass(parts: list[list[Mention]], build: Callable[[], list[object]], matcher: Matcher | None) -> Callable[[], None]:
    """One pass over the stream: `matcher` then each freshly built scorer, batch by batch."""
    loop = asyncio.new_event_loop()

    async def run() -> None:
        scorers = build()
        for part in parts:
            if matcher is not None:
                matcher.apply(part)
            for scorer in scorers:
                await scorer.score(part)  # type: ignore[attr-defined]

    return lambda: loop.run_until_complete(run())


def bench_stage(mentions: list[Mention], batch: int, runs: int) -> list[tuple[str, float]]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from sentineld_plugins.scorers.influence import InfluenceOptions, InfluenceScorer
    from sentineld_plugins.scorers.sentiment import SentimentOptions, SentimentScorer
    from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer

    parts = batches(mentions, batch)
    matcher = Matcher(WATCH)
    matcher.apply(mentions)
    sentiment = SentimentScorer(SentimentOptions(), context("mood", WATCH))

    def influence() -> InfluenceScorer:
        return InfluenceScorer(InfluenceOptions(), context("reach", WATCH))

    def virality(index: str = "bands") -> ViralityScorer:
        return ViralityScorer(ViralityOptions(index=index), context("spread", WATCH))  # type: ignore[arg-type]

    polarity = SentimentIntensityAnalyzer().polarity_scores
    texts = [m.text for m in mentions]

    def bare() -> None:
        for text in texts:
            polarity(text)

    contenders: dict[str, Callable[[], None]] = {
        "matcher ([watch] terms)": stage_pass(parts, list, matcher),
        "influence (with its registry)": stage_pass(parts, lambda: [influence()], None),
        "virality, band index (default)": stage_pass(parts, lambda: [virality()], None),
        "virality, datasketch MinHashLSH": stage_pass(parts, lambda: [virality("datasketch")], None),
        "sentiment (default engine)": stage_pass(parts, lambda: [sentiment], None),
        "whole stage: matcher+sentiment+influence+virality": stage_pass(
            parts, lambda: [sentiment, influence(), virality()], matcher
        ),
        "bare vaderSentiment polarity_scores": bare,
    }
    return median_rates(contenders, len(mentions), runs)


async def bench_tracking(mentions: list[Mention], batch: int) -> tuple[float, int]:
    """Seconds per mention of the tracking step with a real store, and the rows written."""
    from sentineld.registry import InfluencerRegistry, Tracking
    from sentineld.store import open_store
    from sentineld.store.worker import StoreWorker

    with tempfile.TemporaryDirectory() as scratch:
        worker = StoreWorker(open_store(Path(scratch)))
        try:
            stored = await worker.call("ingest", "bench", mentions, None)
            parts = [stored[i : i + batch] for i in range(0, len(stored), batch)]
            tracking = Tracking(InfluencerRegistry(matcher=Matcher(WATCH)), worker)
            await tracking.start()
            started = time.process_time()
            for number, part in enumerate(parts, start=1):
                await tracking.before_scoring(part)
                await tracking.after_scoring(part)
                if number % 20 == 0:  # a checkpoint barrier every 20 batches
                    await tracking.flush()
            await tracking.flush()
            elapsed = time.process_time() - started
            rows = await worker.call("count_authors")
        finally:
            worker.close()
    return elapsed / len(mentions), rows


def virality_findings(texts: Sequence[str], count: int, batch: int) -> str:
    """What the virality scorer finds in one pass over a fresh copy of the stream (its quality,
    to compare before and after a change), and what its checkpoint then costs."""
    from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer

    mentions = make_stream(texts, count)
    scorer = ViralityScorer(ViralityOptions(), context("spread", WATCH))  # type: ignore[arg-type]

    async def run() -> None:
        for part in batches(mentions, batch):
            await scorer.score(part)

    asyncio.run(run())
    copies = [m for m in mentions if m.text in CAMPAIGNS and m.reshare_of is None]
    others = [m for m in mentions if m.text not in CAMPAIGNS and m.reshare_of is None]
    started = time.process_time()
    state = scorer.snapshot()
    encoded = time.process_time() - started
    return (
        f"virality on this stream: {sum('cluster' in m.labels for m in copies)} of {len(copies)} campaign copies "
        f"(reshares aside) in a cluster, {sum('cluster' in m.labels for m in others)} of {len(others)} other posts; "
        f"{len(scorer._clusters)} clusters known at the end; its checkpoint {len(state) / 2**20:.1f} MiB "
        f"encoded in {encoded * 1e3:.0f} ms of CPU"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="default: $SENTINELD_DATA")
    parser.add_argument("--mentions", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)

    texts = tweet_texts(args.data or data_dir())
    mentions = make_stream(texts, args.mentions)
    mean_length = statistics.fmean(len(m.text) for m in mentions)
    print(
        f"{len(mentions)} mentions ({mean_length:.0f} characters on average, every author "
        f"distinct), batches of {args.batch}, median of {args.runs} runs, {pin_to_one_cpu()}\n"
    )
    rows = bench_stage(mentions, args.batch, args.runs)
    baseline = rows[-1][1]
    print(f"{'':52} {'mentions/s':>11} {'µs/mention':>11} {'× vaderSentiment':>17}")
    for name, rate in rows:
        print(f"{name:52} {rate:11,.0f} {1e6 / rate:11.1f} {rate / baseline:16.2f}x")

    print(f"\n{virality_findings(texts, args.mentions, args.batch)}")

    per_mention, written = asyncio.run(bench_tracking(mentions, args.batch))
    print(
        f"\ntracking step with a real SQLite store (load, observe, record, write): "
        f"{per_mention * 1e6:.1f} µs/mention of CPU, event loop and store thread together "
        f"({1 / per_mention:,.0f} mentions/s), {written} author rows written"
    )


if __name__ == "__main__":
    main()
