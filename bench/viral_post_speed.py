"""CPU per mention of viral_post alone, on mentions scored as the pipeline scores them.

    .venv/bin/python bench/viral_post_speed.py [--stream FILE | --mentions 500000 --authors 200000]
                                               [--runs 3] [--baseline DIR] [--options JSON]

The stream is ``bench/throughput.py``'s (written afresh, or ``--stream``, a file in its form).
It is scored once beforehand with what the shipped config puts before viral_post: the
``[watch]`` matcher and the virality scorer (its defaults), in batches of 512. The scored
mentions go to a scratch file, and each pass decodes them a chunk at a time (not timed) and
times, with ``process_time``, only ``ViralPost.observe`` (the shipped options, through the
real `TriggerAlertSink`) and, every 50,000 mentions, a checkpoint of its state in parts
(``snapshot_parts``, each chunk encoded, as the pipeline does about every 5 s of a replay).
It also checks that every run gave the same alert signals and the same final checkpoint.

The stream cycles a few thousand tweet texts, so most posts join a near-duplicate cluster and
viral_post follows the cluster as well as the post. ``--distinct`` drops the cluster scores and
labels after scoring: what viral_post would be given on a stream of distinct texts (the posts'
rates come from their reshares and replies, not their texts).

Each pass runs in a fresh process; the figure is the median of ``--runs`` passes.
``--baseline DIR`` runs the same passes importing sentineld from another checkout (its
compiled modules built there), the two taking turns, and prints both with their ratio. Both
read the same scored file, so they see the same scores.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from itertools import count, islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import CONFIG, write_stream  # noqa: E402
from turns import importable, in_turns, print_medians, run_child  # noqa: E402

BATCH = 512
CHUNK = 10_240
CHECKPOINT_EVERY = 50_000
CLUSTER_SCORES = ("cluster_size", "cluster_growth")


def mentions_of(stream: Path, limit: int | None = None) -> Iterator[object]:
    from sentineld.model import decode_mention_lines

    with stream.open("rb") as lines:
        source = lines if limit is None else islice(lines, limit)
        while chunk := list(islice(source, CHUNK)):
            decoded = decode_mention_lines(b"".join(chunk), len(chunk))
            assert decoded is not None, "the bench stream is valid JSON Lines"
            yield from decoded


async def score(stream: Path, limit: int | None, scored: Path, distinct: bool = False) -> int:
    """Write `stream`'s mentions with the matches, scores and labels viral_post reads (without
    the clusters' when `distinct`)."""
    from sentineld.components import ComponentContext
    from sentineld.config import load_config
    from sentineld.model import encode_mention
    from sentineld.watch import Matcher
    from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer

    watch = load_config(text=CONFIG).watch
    matcher = Matcher(watch)
    virality = ViralityScorer(ViralityOptions(), ComponentContext("spread", "scorer", watch, Path(".")))
    await virality.start()
    written = 0
    mentions = mentions_of(stream, limit)
    with scored.open("wb") as out:
        while batch := list(islice(mentions, BATCH)):
            matcher.apply(batch)
            await virality.score(batch)
            if distinct:
                for mention in batch:
                    for name in CLUSTER_SCORES:
                        mention.scores.pop(name, None)
                    mention.labels.pop("cluster", None)
            out.write(b"".join(encode_mention(m, scored=True) + b"\n" for m in batch))
            written += len(batch)
    return written


async def one_pass(scored: Path, options: dict[str, object]) -> dict[str, object]:
    import msgspec

    from sentineld.alerting import TriggerAlertSink
    from sentineld.components import ComponentContext
    from sentineld.config import load_config
    from sentineld_plugins.triggers.viral_post import ViralPost, ViralPostOptions

    watch = load_config(text=CONFIG).watch
    viral = ViralPost(msgspec.convert(options, ViralPostOptions), ComponentContext("viral", "trigger", watch, Path(".")))
    sink = TriggerAlertSink("viral", "viral")
    clock = time.process_time
    observing = checkpointing = 0.0
    seen = signals = 0
    digest = hashlib.sha256()
    mentions = mentions_of(scored)
    for _ in count():
        batch = list(islice(mentions, BATCH))
        if not batch:
            break
        for mention in batch:  # the store's ingest reads (and caches) it first
            mention.timestamp  # noqa: B018
        started = clock()
        await viral.observe(batch, sink)
        observing += clock() - started
        taken = sink.take()
        signals += len(taken)
        digest.update(b"".join(msgspec.json.encode(signal) for signal in taken))
        if (seen + len(batch)) // CHECKPOINT_EVERY > seen // CHECKPOINT_EVERY:
            started = clock()
            parts = viral.snapshot_parts(complete=False)
            checkpointing += clock() - started
            assert parts is not None
        seen += len(batch)
    digest.update(viral.snapshot())
    return {"observe": observing / seen * 1e6, "checkpoints": checkpointing / seen * 1e6,
            "both": (observing + checkpointing) / seen * 1e6, "signals": signals, "digest": digest.hexdigest()}


def measure(scored: Path, options: dict[str, object]) -> dict[str, object]:
    from sentineld.cli.common import STREAMING_GC_THRESHOLDS

    gc.set_threshold(*STREAMING_GC_THRESHOLDS)  # as `replay` and `run` do
    return asyncio.run(one_pass(scored, options))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stream", type=Path, default=None, help="a stream in bench/throughput.py's form")
    parser.add_argument("--mentions", type=int, default=500_000, help="at most this many (all of --stream if 0)")
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--options", default="{}", help='viral_post\'s options as JSON (default: the shipped '
                        'ones), e.g. \'{"velocity": 20, "cluster_growth": 20}\' to make it fire often')
    parser.add_argument("--distinct", action="store_true",
                        help="drop the cluster scores and labels: what a stream of distinct texts would be scored")
    parser.add_argument("--scored", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.scored is not None:  # a measuring subprocess
        print(json.dumps(measure(args.scored, json.loads(args.options))))
        return
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        stream = args.stream
        if stream is None:
            stream = Path(scratch) / "stream.jsonl"
            write_stream(stream, args.mentions, args.authors)
        scored = Path(scratch) / "scored.jsonl"
        total = asyncio.run(score(stream, args.mentions or None, scored, args.distinct))
        trees: dict[str, Path | None] = {"this checkout": None}
        if args.baseline is not None:
            trees = {"baseline": importable(args.baseline, Path(scratch) / "baseline"), **trees}
        results = in_turns(trees, args.runs, lambda code: run_child(
            __file__, ["--scored", str(scored), "--options", args.options], code))
    print(f"viral_post alone over {total:,} scored mentions, batches of {BATCH}, a checkpoint every "
          f"{CHECKPOINT_EVERY:,}; median of {args.runs} runs, CPU µs per mention\n")
    print_medians({name: [{k: v for k, v in run.items() if k not in ("signals", "digest")} for run in runs]
                   for name, runs in results.items()}, label_width=14, digits=3)
    outcomes = {(run["signals"], run["digest"]) for runs in results.values() for run in runs}
    signals = ", ".join(f"{name}: {runs[0]['signals']:,}" for name, runs in results.items())
    print(f"\nalert signals ({signals}) and the final checkpoint's bytes: "
          + ("the same in every run" if len(outcomes) == 1 else "NOT THE SAME"))


if __name__ == "__main__":
    main()
