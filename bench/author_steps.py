"""The registry's steps one by one over the first mentions of a stream: thread CPU per mention.

    .venv/bin/python bench/author_steps.py [--mentions 300000] [--every 60] STREAM

Stores the first ``--mentions`` mentions of ``STREAM`` (JSON Lines, such as the throughput
bench's stream) in a real store, then takes them through what the pipeline does for authors, in
batches of 512, all on this thread so that each step's CPU is its own: the tracking step's
``missing`` (which also makes each mention's ``author_key``, done by ingest in the pipeline),
the store's ``load_authors``, ``admit``, ``observe_batch``, the influence scorer, ``record_batch``,
``trim``; every ``--every`` batches a checkpoint's share: ``take_dirty``, ``save_authors`` and
``stored`` (a replay checkpoints every 5 s of wall time, about 60 batches on a quiet machine).
The stored keys are taken as read (``stored_keys_complete``), as they are once a replay has
read them. Prints each step's CPU µs per mention, the main thread's and the store's total, and
the keys looked up, rows loaded and rows written per mention.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from author_path import BATCH, _watch  # noqa: E402

STORE_STEPS = ("store load", "store save")


async def steps(lines: list[bytes], every: int) -> tuple[dict[str, float], Counter[str]]:
    """Thread CPU seconds of each step, and counts of keys, rows loaded and rows written."""
    from sentineld.components import ComponentContext
    from sentineld.model import decode_mention
    from sentineld.registry import InfluencerRegistry
    from sentineld.store import open_store
    from sentineld.watch import Matcher
    from sentineld_plugins.scorers.influence import InfluenceOptions, InfluenceScorer

    watch = _watch()
    matcher = Matcher(watch)
    spent: defaultdict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    clock = time.thread_time
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        store = open_store(Path(scratch))
        store.set_wal_autocheckpoint(0)  # the daemon's WAL thread copies the WAL back
        try:
            stored = []
            for start in range(0, len(lines), 20_000):
                stored += store.ingest("bench", [decode_mention(line) for line in lines[start : start + 20_000]], None)
            fresh = [decode_mention(line) for line in lines]  # Mentions no component has read yet
            matcher.apply(fresh)
            batches = [
                [(seq, mention) for (seq, _), mention in zip(stored[i : i + BATCH], fresh[i : i + BATCH], strict=True)]
                for i in range(0, len(fresh), BATCH)
            ]
            registry = InfluencerRegistry(matcher=matcher)
            registry.stored_keys_complete = True
            context = ComponentContext("reach", "scorer", watch, Path(scratch), influencers=registry)
            scorer = InfluenceScorer(InfluenceOptions(), context)
            for number, batch in enumerate(batches, start=1):
                mentions = [mention for _, mention in batch]
                started = clock()
                keys, posts = registry.missing(mentions)
                spent["missing"] += clock() - started
                if keys or posts:
                    started = clock()
                    rows, post_authors = store.load_authors(keys, posts)
                    spent["store load"] += clock() - started
                    counts["keys"] += len(keys)
                    counts["rows loaded"] += len(rows)
                    started = clock()
                    registry.admit(rows, post_authors)
                    spent["admit"] += clock() - started
                started = clock()
                registry.observe_batch(batch)
                spent["observe"] += clock() - started
                started = clock()
                await scorer.score(mentions)
                spent["influence"] += clock() - started
                started = clock()
                registry.record_batch(batch)
                spent["record"] += clock() - started
                started = clock()
                registry.trim()
                spent["trim"] += clock() - started
                if number % every == 0 or number == len(batches):
                    started = clock()
                    written = registry.take_dirty()
                    spent["take_dirty"] += clock() - started
                    counts["rows written"] += len(written)
                    started = clock()
                    store.save_authors(written, batch[-1][0], registry.state())
                    spent["store save"] += clock() - started
                    started = clock()
                    registry.stored(written)
                    spent["stored"] += clock() - started
                    store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            store.close()
    return dict(spent), counts


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=300_000)
    parser.add_argument("--every", type=int, default=60, help="batches between two checkpoints")
    parser.add_argument("stream", type=Path)
    args = parser.parse_args(argv)
    from sentineld.cli.common import STREAMING_GC_THRESHOLDS

    gc.set_threshold(*STREAMING_GC_THRESHOLDS)  # as `replay` and `run` do
    lines: list[bytes] = []
    with args.stream.open("rb") as stream:
        for line in stream:
            if len(lines) == args.mentions:
                break
            lines.append(line)
    spent, counts = asyncio.run(steps(lines, args.every))
    mentions = len(lines)
    per_mention = {step: seconds / mentions * 1e6 for step, seconds in spent.items()}
    main_thread = sum(value for step, value in per_mention.items() if step not in STORE_STEPS)
    store_thread = sum(value for step, value in per_mention.items() if step in STORE_STEPS)
    print(f"{mentions} mentions of {args.stream.name}, µs of thread CPU per mention:")
    print("  " + "  ".join(f"{step} {value:.2f}" for step, value in per_mention.items()))
    print(f"  main thread {main_thread:.2f}  store {store_thread:.2f}  all {main_thread + store_thread:.2f}")
    print("  per mention: " + "  ".join(f"{name} {count / mentions:.3f}" for name, count in counts.items()))


if __name__ == "__main__":
    main()
