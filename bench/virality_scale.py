"""CPU per mention of the virality scorer alone, window by window over a long stream.

    .venv/bin/python bench/virality_scale.py [--mentions 500000] [--window 100000] [--runs 3]
                                             [--batch 512] [--stream FILE] [--distinct]
                                             [--sections] [--baseline DIR]

The stream is the one ``bench/throughput.py`` replays (its 6,300 real tweets cycled, so every
post is a near-duplicate of earlier ones: the scorer's stress case), written afresh unless
``--stream`` names a JSON Lines file. ``--distinct`` shuffles each text's words beyond its first
use (as ``bench/influence_speed.py`` does), so that posts are mostly distinct: what a real
stream of mostly original posts sees. Mentions are decoded a chunk at a time, run through the
``[watch]`` matcher and have their ``author_key`` and ``timestamp`` read before the clock runs
(as the pipeline's ingest does), then the scorer scores them ``--batch`` at a time; a negative
``--batch -N`` hands them over as the ``jsonl`` source does in ``sentineld replay`` (batches of
N and what is left of each 256 KiB read: 351 on average for N = 512 on the throughput stream;
decisions 0040 and 0150). The garbage collector's thresholds and glibc's malloc are set as
``replay`` sets them (decisions 0014 and 0151: a temporary of 1 MiB or more is a fresh mapping).

Printed: CPU time (``process_time``) per mention in each window of ``--window`` mentions, the
median of ``--runs`` passes, each pass in a fresh process; with ``--sections``, the scorer's
parts (inclusive of what they call, so nested rows overlap; the wrappers add about 0.3 µs per
call). ``--baseline DIR`` runs the same passes importing sentineld from another checkout, the
two taking turns, and prints both with their ratio, and a digest of every mention's virality
scores and cluster label per tree (identical outputs give one and the same digest).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import random
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import islice, repeat
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import CONFIG, write_stream  # noqa: E402
from turns import importable, in_turns, run_child  # noqa: E402

CHUNK = 10_240
_SCORES = ("reshare_velocity", "reply_velocity", "cluster_size", "cluster_growth", "virality")


def mentions_of(stream: Path, distinct: bool) -> Iterator[Any]:
    from sentineld.model import decode_mention_lines

    seen: set[str] = set()
    shuffler = random.Random(5)
    with stream.open("rb") as lines:
        while chunk := list(islice(lines, CHUNK)):
            decoded = decode_mention_lines(b"".join(chunk), len(chunk))
            assert decoded is not None, "the bench stream is valid JSON Lines"
            for mention in decoded:
                if distinct:
                    if mention.text in seen:
                        words = mention.text.split()
                        shuffler.shuffle(words)
                        mention.text = " ".join(words)
                    else:
                        seen.add(mention.text)
                yield mention


def source_batches(stream: Path, size: int) -> Iterator[int]:
    """The batch sizes the ``jsonl`` source hands over reading `stream`: each read of ``CHUNK``
    bytes gives batches of `size` and what is left of its complete lines."""
    from sentineld_plugins.sources.jsonl import CHUNK as READ

    pending = 0
    with stream.open("rb") as data:
        while chunk := data.read(READ):
            lines = chunk.count(b"\n")
            if pending and lines == 0:
                continue
            for _ in range(lines // size):
                yield size
            if lines % size:
                yield lines % size


def _timed(spent: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    clock = time.process_time

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += clock() - started

    return timed


class _Timed:
    """A native object (whose methods cannot be replaced) with some of its methods timed."""

    def __init__(self, wrapped: Any, spent: dict[str, float], methods: dict[str, str]) -> None:
        self._wrapped = wrapped
        for label, method in methods.items():
            spent[label] = 0.0
            setattr(self, method, _timed(spent, label, getattr(wrapped, method)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def _instrument(scorer: Any, spent: dict[str, float]) -> None:
    """Wrap the scorer's parts in timers (patched where the scorer looks them up)."""
    from sentineld_plugins.scorers.virality import signatures

    for name in ("contents", "shingles"):
        spent[name] = 0.0
        setattr(signatures, name, _timed(spent, name, getattr(signatures, name)))
    scorer._rates = _Timed(scorer._rates, spent, {"velocities": "velocities"})
    parts = {
        "sign": (scorer._signer, "sign"),
        "_cluster": (scorer, "_cluster"),
        "_index_posts": (scorer, "_index_posts"),
        "  index.add": (scorer._index, "add"),
        "    _walk": (scorer._index, "_walk"),
        "_in_each_window": (scorer, "_in_each_window"),
        "_join_all": (scorer, "_join_all"),
        "_expire_posts": (scorer, "_expire_posts"),
        "_virality": (scorer, "_virality"),
    }
    for label, (owner, attribute) in parts.items():
        spent[label] = 0.0
        setattr(owner, attribute, _timed(spent, label, getattr(owner, attribute)))
    scorer._joins = _Timed(scorer._joins, spent, {"  join_groups": "join_groups", "  let_go": "let_go"})


async def one_pass(stream: Path, mentions: int, window: int, batch: int, distinct: bool, sections: bool) -> dict[str, Any]:
    from sentineld.components import ComponentContext
    from sentineld.config import load_config
    from sentineld.registry import InfluencerRegistry
    from sentineld.watch import Matcher
    from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer

    watch = load_config(text=CONFIG).watch
    matcher = Matcher(watch)
    registry = InfluencerRegistry(matcher=matcher, persistent=True)
    scorer = ViralityScorer(ViralityOptions(), ComponentContext("spread", "scorer", watch, Path("."), influencers=registry))
    await scorer.start()
    spent: dict[str, float] = {}
    if sections:
        _instrument(scorer, spent)
    clock = time.process_time
    windows: list[float] = []
    in_window = total = 0.0
    digest = hashlib.blake2b(digest_size=12)
    seen = clustered = 0
    source = islice(mentions_of(stream, distinct), mentions)
    sizes = source_batches(stream, -batch) if batch < 0 else repeat(batch)
    batches = 0
    for size in sizes:
        batch = list(islice(source, size))
        if not batch:
            break
        batches += 1
        matcher.apply(batch)
        for mention in batch:
            mention.author_key, mention.timestamp  # noqa: B018
        started = clock()
        await scorer.score(batch)
        in_window += clock() - started
        total += clock() - started
        clustered += sum("cluster" in m.labels for m in batch)
        for mention in batch:
            scores = mention.scores
            digest.update(f"{mention.id} {mention.labels.get('cluster')}".encode())
            digest.update(b"".join(struct.pack("<d", scores.get(name, -1.0)) for name in _SCORES))
        seen += len(batch)
        if seen % window < len(batch):
            windows.append(in_window / (window if seen >= window else seen) * 1e6)
            in_window = 0.0
    return {
        "windows": windows,
        "all": total / max(seen, 1) * 1e6,
        "clustered": clustered / max(seen, 1),
        "batch": seen / max(batches, 1),
        "digest": digest.hexdigest(),
        "sections": {name: seconds / seen * 1e6 for name, seconds in spent.items()},
    }


def measure(stream: Path, *args: Any) -> dict[str, Any]:
    from sentineld.allocator import tune_allocator
    from sentineld.cli.common import STREAMING_GC_THRESHOLDS

    gc.set_threshold(*STREAMING_GC_THRESHOLDS)  # as `replay` and `run` do
    tune_allocator()  # as they do too: a temporary of 1 MiB or more is then mapped afresh each time
    return asyncio.run(one_pass(stream, *args))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=500_000)
    parser.add_argument("--authors", type=int, default=200_000, help="authors of a written stream")
    parser.add_argument("--window", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=512,
                        help="mentions per batch; -N: batches of N cut at each 256 KiB read")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stream", type=Path, default=None, help="a JSON Lines stream to read")
    parser.add_argument("--distinct", action="store_true", help="shuffle repeated texts' words")
    parser.add_argument("--sections", action="store_true", help="time the scorer's parts")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = [str(args.mentions), str(args.window), str(args.batch), str(args.distinct), str(args.sections)]

    if args.child:
        mentions, window, batch = (int(v) for v in settings[:3])
        print(json.dumps(measure(args.stream, mentions, window, batch, args.distinct, args.sections)))
        return
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        stream = args.stream
        if stream is None:
            stream = Path(scratch) / "stream.jsonl"
            write_stream(stream, args.mentions, args.authors)
        trees: dict[str, Path | None] = {"this checkout": None}
        if args.baseline is not None:
            trees = {"baseline": importable(args.baseline, Path(scratch) / "baseline"), **trees}
        child = ["--child", "--stream", str(stream), "--mentions", settings[0], "--window", settings[1],
                 "--batch", settings[2], *(["--distinct"] if args.distinct else []),
                 *(["--sections"] if args.sections else [])]
        results = in_turns(trees, args.runs, lambda code: run_child(__file__, child, code))
    names = list(results)
    print(f"{args.mentions:,} mentions{' (repeated texts shuffled)' if args.distinct else ''}, batches of "
          f"{results[names[0]][0]['batch']:.0f} on average, median of {args.runs} runs, CPU µs per mention of the virality scorer; "
          f"clustered: {', '.join(format(results[n][0]['clustered'], '.1%') for n in names)}\n")
    print(f"{'':<24}" + "".join(f"{name:>16}" for name in names) + ("     ratio" if len(names) > 1 else ""))

    def row(label: str, pick: Callable[[dict[str, Any]], float]) -> None:
        values = [statistics.median(pick(run) for run in results[name]) for name in names]
        ratio = f"{values[-1] / values[0]:9.2f}x" if len(values) > 1 and values[0] else ""
        print(f"{label:<24}" + "".join(f"{value:16.2f}" for value in values) + ratio)

    for number in range(len(results[names[0]][0]["windows"])):
        row(f"mentions {number * args.window // 1000}k-{(number + 1) * args.window // 1000}k",
            lambda run, n=number: run["windows"][n])
    row("all", lambda run: run["all"])
    digests = {name: {run["digest"] for run in results[name]} for name in names}
    print(f"\nscores and labels digest: {digests}")
    if args.sections:
        print()
        for section in results[names[-1]][0]["sections"]:
            row(section, lambda run, s=section: run["sections"].get(s, float("nan")))


if __name__ == "__main__":
    main()
