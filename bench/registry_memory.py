"""Memory of the scoring stage with the influencer registry: 1,000,000 distinct authors.

    .venv/bin/python bench/registry_memory.py [--authors 1000000] [--every 100000] [--batch 256]

Feeds a stream in which every mention has a new author (the registry's worst case: every one
misses the hot set, is looked up in the store and written back) through what the daemon's score
stage does for it: store the batch (as ingest does), the tracking step's look-up and facts, the
scorers (sentiment, influence, virality), the tracking step's records, scores saved every 4,096
mentions, and a checkpoint (registry written, scorer snapshots encoded) every 20 batches. 10 %
of the mentions reply to and 10 % reshare one of the 500 mentions before them. The SQLite store
is a real file in a temporary directory.

Prints the process's resident memory (VmRSS) every ``--every`` mentions: it must stay flat
and under 300 MB. The texts are the real tweets of ``../shared/data``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import data_dir, tweet_texts  # noqa: E402

import msgspec  # noqa: E402

from sentineld import Author, Mention, Metrics  # noqa: E402
from sentineld.components import ComponentContext  # noqa: E402
from sentineld.registry import InfluencerRegistry, Tracking  # noqa: E402
from sentineld.store import open_store  # noqa: E402
from sentineld.store.worker import StoreWorker  # noqa: E402
from sentineld.watch import Matcher, WatchConfig  # noqa: E402

WATCH = WatchConfig(brand=["acmeair", "@acmeair", "acme"], competitors={"rivaljet": ["rivaljet"]})


def rss_mb() -> float:
    """Resident set size now (Linux /proc), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream(texts: Sequence[str], count: int, batch: int, seed: int = 11):  # noqa: ANN201
    """Batches of mentions, each by a new author."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    step = 30 * 86400 / count  # a month of stream
    for first in range(0, count, batch):
        part = []
        for i in range(first, min(first + batch, count)):
            words = texts[i % len(texts)].split()
            if i >= len(texts):
                rng.shuffle(words)
            followers = int(10 ** rng.gauss(2.5, 0.8))
            kind, parent = rng.random(), f"bench:{rng.randrange(max(0, i - 500), i)}" if i else None
            part.append(
                Mention(
                    id=f"bench:{i}", source="bench", created_at=start + timedelta(seconds=i * step),
                    text="@acmeair " + " ".join(words),
                    author=Author(id=f"a{i}", handle=f"user{i}.example", followers=followers,
                                  following=int(followers * rng.uniform(0.2, 2.0)), posts=rng.randint(5, 20_000)),
                    in_reply_to=parent if kind < 0.1 else None,
                    reshare_of=parent if 0.1 <= kind < 0.2 else None,
                    metrics=Metrics(likes=rng.randint(0, 5), reshares=rng.randint(0, 2)),
                )
            )
        yield part


async def run(count: int, every: int, batch: int, texts: Sequence[str]) -> None:
    from sentineld_plugins.scorers.influence import InfluenceOptions, InfluenceScorer
    from sentineld_plugins.scorers.sentiment import SentimentOptions, SentimentScorer
    from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer

    matcher = Matcher(WATCH)
    registry = InfluencerRegistry(matcher=matcher)
    context = ComponentContext("bench", "scorer", WATCH, Path("."), influencers=registry)
    scorers = [
        SentimentScorer(SentimentOptions(), context),
        InfluenceScorer(InfluenceOptions(), context),
        ViralityScorer(ViralityOptions(), context),
    ]
    encode = msgspec.msgpack.Encoder().encode
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        worker = StoreWorker(open_store(Path(scratch)))
        tracking = Tracking(registry, worker)
        await tracking.start()
        started, fed, pending, snapshot_bytes = time.perf_counter(), 0, [], 0
        print(f"{'mentions':>10} {'authors stored':>15} {'in memory':>10} {'RSS MB':>8} {'seconds':>8}")
        print(f"{0:>10,} {0:>15,} {0:>10,} {rss_mb():8.1f} {0.0:8.1f}")
        for number, part in enumerate(stream(texts, count, batch), start=1):
            stored = await worker.call("ingest", "bench", part, None)
            mentions = [m for _, m in stored]
            matcher.apply(mentions)
            await tracking.before_scoring(stored)
            for scorer in scorers:
                await scorer.score(mentions)
            await tracking.after_scoring(stored)
            pending.extend(stored)
            if len(pending) >= 4096:
                await worker.call("save_scores", pending)
                pending = []
            if number % 20 == 0:  # a checkpoint barrier
                await tracking.flush()
                snapshot_bytes = len(encode({s.context.id: s.snapshot() for s in scorers}))
            before, fed = fed, fed + len(part)
            if fed // every > before // every:
                authors = await worker.call("count_authors")
                print(f"{fed:>10,} {authors:>15,} {len(registry):>10,} {rss_mb():8.1f} "
                      f"{time.perf_counter() - started:8.1f}")
        await tracking.flush()
        size = sum(f.stat().st_size for f in Path(scratch).iterdir()) / 1e6
        worker.close()
    print(f"\nlargest checkpoint of the scorers' state: {snapshot_bytes / 1e6:.1f} MB; "
          f"store on disk: {size:.0f} MB; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="default: $SENTINELD_DATA")
    parser.add_argument("--authors", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)
    asyncio.run(run(args.authors, args.every, args.batch, tweet_texts(args.data or data_dir())))


if __name__ == "__main__":
    main()
