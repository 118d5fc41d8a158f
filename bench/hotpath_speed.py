"""CPU per mention of the scoring and trigger hot paths, one component at a time.

    .venv/bin/python bench/hotpath_speed.py [--mentions 100000] [--authors 200000] [--runs 3]
                                            [--baseline DIR]

The stream is the one ``bench/throughput.py`` replays, decoded a chunk at a time as the ``jsonl``
source decodes it (1M mentions do not fit in memory at once). Each pass runs, batch by batch
(512 mentions), what the pipeline runs for these components with the shipped config: the
``[watch]`` matcher (not timed), the influencer registry's ``observe``, the influence scorer,
the virality scorer, the registry's ``record`` and ``trim``, viral_post through the real
`TriggerAlertSink` and `AlertManager`, and every 20 batches the registry's rows
(``take_dirty``). There is no store: a record evicted from the hot set comes back as a new one,
so loading stored records is not timed here (``bench/author_path.py`` times it); nor is there a
sentiment scorer, so ``record`` finds no sentiment to keep. Each mention's
``author_key`` and ``timestamp`` are read before the clock runs, as the store's ingest reads them
first in the pipeline.

Figures are CPU time (``process_time``) per mention, the median of ``--runs`` passes, each pass in
a fresh process. ``--baseline DIR`` runs the same passes importing sentineld from another checkout
(for instance ``git archive <rev> | tar -x -C DIR``), the two taking turns, and prints both with
their ratio.
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
from collections.abc import Iterator, Sequence
from itertools import count, islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import CONFIG, write_stream  # noqa: E402
from turns import importable, in_turns, run_child  # noqa: E402

BATCH = 512
FLUSH_EVERY = 20
CHUNK = 10_240
PARTS = ("registry observe", "influence", "virality", "registry record", "registry trim",
         "viral_post", "registry rows")


def mentions_of(stream: Path) -> Iterator[object]:
    from sentineld.model import decode_mention_lines

    with stream.open("rb") as lines:
        while chunk := list(islice(lines, CHUNK)):
            decoded = decode_mention_lines(b"".join(chunk), len(chunk))
            assert decoded is not None, "the bench stream is valid JSON Lines"
            yield from decoded


async def one_pass(stream: Path) -> dict[str, float]:
    from sentineld.alerting import AlertManager, TriggerAlertSink
    from sentineld.components import ComponentContext
    from sentineld.config import load_config
    from sentineld.registry import InfluencerRegistry
    from sentineld.watch import Matcher
    from sentineld_plugins.scorers.influence import InfluenceOptions, InfluenceScorer
    from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer
    from sentineld_plugins.triggers.viral_post import ViralPost, ViralPostOptions

    watch = load_config(text=CONFIG).watch
    matcher = Matcher(watch)
    registry = InfluencerRegistry(matcher=matcher, persistent=True)

    def context(name: str, kind: str) -> ComponentContext:
        return ComponentContext(name, kind, watch, Path("."), influencers=registry)

    influence = InfluenceScorer(InfluenceOptions(), context("reach", "scorer"))
    virality = ViralityScorer(ViralityOptions(), context("spread", "scorer"))
    await virality.start()
    viral = ViralPost(ViralPostOptions(), context("viral", "trigger"))
    sink, manager = TriggerAlertSink("viral", "viral"), AlertManager()
    spent = dict.fromkeys(PARTS, 0.0)
    clock = time.process_time
    seen = 0
    mentions = mentions_of(stream)
    for number in count():
        batch = list(islice(mentions, BATCH))
        if not batch:
            break
        seen += len(batch)
        matcher.apply(batch)
        for mention in batch:  # the store's ingest reads (and caches) both first
            mention.author_key, mention.timestamp  # noqa: B018
        started = clock()
        for mention in batch:
            registry.observe(mention)
        observed = clock()
        await influence.score(batch)
        influenced = clock()
        await virality.score(batch)
        scored = clock()
        for mention in batch:
            registry.record(mention)
        recorded = clock()
        registry.trim()
        trimmed = clock()
        await viral.observe(batch, sink)
        manager.apply(sink.take())
        triggered = clock()
        if number % FLUSH_EVERY == FLUSH_EVERY - 1:
            registry.take_dirty()
        written = clock()
        marks = (started, observed, influenced, scored, recorded, trimmed, triggered, written)
        for part, begin, end in zip(PARTS, marks[:-1], marks[1:], strict=True):
            spent[part] += end - begin
    spent["all of them"] = sum(spent.values())
    return {part: seconds / seen * 1e6 for part, seconds in spent.items()}


def measure(stream: Path) -> dict[str, float]:
    from sentineld.cli.common import STREAMING_GC_THRESHOLDS

    gc.set_threshold(*STREAMING_GC_THRESHOLDS)  # as `replay` and `run` do
    return asyncio.run(one_pass(stream))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--stream", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stream is not None:  # a measuring subprocess
        print(json.dumps(measure(args.stream)))
        return
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        stream = Path(scratch) / "stream.jsonl"
        write_stream(stream, args.mentions, args.authors)
        trees: dict[str, Path | None] = {"this checkout": None}
        if args.baseline is not None:
            trees = {"baseline": importable(args.baseline, Path(scratch) / "baseline"), **trees}
        results = in_turns(trees, args.runs, lambda code: run_child(__file__, ["--stream", str(stream)], code))
    print(f"{args.mentions:,} mentions from up to {args.authors:,} authors, batches of {BATCH}, "
          f"median of {args.runs} runs, CPU µs per mention\n")
    names = list(results)
    print(f"{'':<24}" + "".join(f"{name:>16}" for name in names) + ("     ratio" if len(names) > 1 else ""))
    for part in (*PARTS, "all of them"):
        values = [statistics.median(run[part] for run in results[name]) for name in names]
        ratio = f"{values[-1] / values[0]:9.2f}x" if len(values) > 1 and values[0] else ""
        print(f"{part:<24}" + "".join(f"{value:16.2f}" for value in values) + ratio)


if __name__ == "__main__":
    main()
