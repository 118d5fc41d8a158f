"""CPU per mention of the author path and of reading JSON Lines, and the registry's memory.

    .venv/bin/python bench/author_path.py [--mentions 100000] [--authors 80000] [--runs 3]
                                          [--baseline DIR]

The stream is the one ``bench/throughput.py`` replays (real tweets naming the brand, authors
drawn from ``--authors``), written to a temporary file. Each figure is the median of ``--runs``
passes, in CPU time of the process (all its threads, the store's included), so that other work on
a shared machine counts little. Rows:

- **read + decode**: the ``jsonl`` source reading the file as ``replay`` does (batches of 512
  handed to an ``emit`` that drops them): line splitting, JSON decoding into Mentions, cursors.
- **author path**: what the pipeline does for authors, on freshly decoded Mentions already
  stored in a real SQLite store: the tracking step before the scorers (look-up of unknown
  authors, the batch's facts), the influence scorer, the reads of ``Mention.author_key`` by the
  other components of the shipped config (ingest, virality and the case step's own-account
  check: three more per mention), the tracking step after the scorers, and the registry written
  at a checkpoint barrier every 20 batches (``save_authors`` on the store's thread).
- **registry memory**: traced Python memory of a registry holding ``hot_authors`` (50,000)
  records made from the stream, per record (its key, profile strings, map entries included).

``--baseline DIR`` also runs the same passes in a subprocess importing sentineld from another
checkout ``DIR`` (for instance a ``git worktree`` of the commit before a change), the two taking
turns, and prints both with their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import CONFIG, write_stream  # noqa: E402
from turns import importable, in_turns, print_medians, run_child  # noqa: E402

if TYPE_CHECKING:
    from sentineld.watch import WatchConfig

BATCH = 512
FLUSH_EVERY = 20
OTHER_AUTHOR_KEY_READS = 3


async def read_and_decode(stream: Path) -> float:
    """CPU seconds of the jsonl source reading `stream` to its end."""
    from sentineld.components import ComponentContext
    from sentineld.watch import WatchConfig
    from sentineld_plugins.sources.jsonl import JsonlOptions, JsonlSource

    source = JsonlSource(
        JsonlOptions(path=str(stream), follow=False),
        ComponentContext("bench", "source", WatchConfig(), Path(".")),
    )
    source.finite = True
    count = 0

    async def emit(mentions: Sequence[object], cursor: str | None, **_: object) -> None:
        nonlocal count
        count += len(mentions)

    started = time.process_time()
    await source.run(emit)  # type: ignore[arg-type]
    elapsed = time.process_time() - started
    assert count and not source.malformed, (count, source.malformed)
    return elapsed / count


async def author_path(lines: list[bytes]) -> tuple[float, float]:
    """CPU seconds per mention of the author path (see the module docstring): the whole
    process's, and the event loop thread's alone (the rest is the store's thread)."""
    from sentineld.components import ComponentContext
    from sentineld.model import decode_mention
    from sentineld.registry import InfluencerRegistry, Tracking
    from sentineld.store import open_store
    from sentineld.store.worker import StoreWorker
    from sentineld.watch import Matcher
    from sentineld_plugins.scorers.influence import InfluenceOptions, InfluenceScorer

    watch = _watch()
    matcher = Matcher(watch)
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        worker = StoreWorker(open_store(Path(scratch)))
        try:
            stored = await worker.call("ingest", "bench", [decode_mention(line) for line in lines], None)
            fresh = [decode_mention(line) for line in lines]  # Mentions no component has read yet
            matcher.apply(fresh)
            parts = [
                [(seq, mention) for (seq, _), mention in zip(stored[i : i + BATCH], fresh[i : i + BATCH])]
                for i in range(0, len(fresh), BATCH)
            ]
            registry = InfluencerRegistry(matcher=matcher)
            context = ComponentContext("reach", "scorer", watch, Path(scratch), influencers=registry)
            scorer = InfluenceScorer(InfluenceOptions(), context)
            tracking = Tracking(registry, worker)
            await tracking.start()
            started, started_here = time.process_time(), time.thread_time()
            for number, part in enumerate(parts, start=1):
                mentions = [m for _, m in part]
                await tracking.before_scoring(part)
                await scorer.score(mentions)
                for mention in mentions:
                    for _ in range(OTHER_AUTHOR_KEY_READS):
                        mention.author_key  # noqa: B018
                await tracking.after_scoring(part)
                if number % FLUSH_EVERY == 0:
                    await tracking.flush()
            await tracking.flush()
            elapsed, here = time.process_time() - started, time.thread_time() - started_here
        finally:
            worker.close()
    return elapsed / len(lines), here / len(lines)


def _watch() -> WatchConfig:
    """The `[watch]` table of the config `bench/throughput.py` replays with."""
    import tomllib

    import msgspec

    from sentineld.watch import WatchConfig

    return msgspec.convert(tomllib.loads(CONFIG)["watch"], WatchConfig)


def registry_memory(lines: list[bytes], records: int = 50_000) -> float:
    """Traced bytes per record of a registry holding `records` authors."""
    from sentineld.model import decode_mention
    from sentineld.registry import InfluencerOptions, InfluencerRegistry
    from sentineld.watch import Matcher

    matcher = Matcher(_watch())
    tracemalloc.start()
    registry = InfluencerRegistry(InfluencerOptions(hot_authors=records), matcher, persistent=False)
    before = tracemalloc.get_traced_memory()[0]
    for line in lines:
        mention = decode_mention(line)
        matcher.apply([mention])
        registry.observe(mention)
        if len(registry) >= records:
            break
    # What the scorers add to a record (floats of its own, as they compute them): the audience
    # position, sentiment, the last scores.
    for number, record in enumerate(list(registry._hot.values())):
        record.reach, record.audience_mass = number / 1e4 + 0.5, record.maven_mass
        record.sentiment_sum = number / 1e5 - 0.25
        record.connector, record.maven = number / 2e5, number / 3e5
        record.influence = record.connector
    held = len(registry)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / held


def measure(stream: Path, runs: int) -> dict[str, float]:
    from sentineld.cli.common import STREAMING_GC_THRESHOLDS

    gc.set_threshold(*STREAMING_GC_THRESHOLDS)  # as `replay` and `run` do
    lines = stream.read_bytes().splitlines()
    decode, path, loop = [], [], []
    for _ in range(runs):
        decode.append(asyncio.run(read_and_decode(stream)))
        whole, here = asyncio.run(author_path(lines))
        path.append(whole)
        loop.append(here)
    return {
        "read+decode µs/mention": statistics.median(decode) * 1e6,
        "author path µs/mention": statistics.median(path) * 1e6,
        "  of which event loop": statistics.median(loop) * 1e6,
        "registry bytes/record": registry_memory(lines),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--authors", type=int, default=80_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--stream", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stream is not None:  # a measuring subprocess
        print(json.dumps(measure(args.stream, args.runs)))
        return
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        stream = Path(scratch) / "stream.jsonl"
        write_stream(stream, args.mentions, args.authors)
        trees: dict[str, Path | None] = {"this checkout": None}
        if args.baseline is not None:
            trees = {"baseline": importable(args.baseline, Path(scratch) / "baseline"), **trees}
        results = in_turns(trees, args.runs, lambda code: run_child(__file__, ["--stream", str(stream), "--runs", "1"], code))
    print(f"{args.mentions:,} mentions from up to {args.authors:,} authors, batches of {BATCH}, "
          f"median of {args.runs} runs, CPU time\n")
    print_medians(results, label_width=28, digits=1)


if __name__ == "__main__":
    main()
