"""Cost of the count triggers (volume_spike, negativity_spike, competitor_surge) per mention, per
tick, and their memory per key.

    .venv/bin/python bench/trigger_speed.py [--mentions 200000] [--runs 5] [--keys 100000]
        [--baseline DIR [--no-memory]]

Per mention: a constructed stream, one mention every half second of event time for about a day
(after a warm-up day, so baselines are warm and thresholds are computed), 70 % about the brand
and 30 % about a competitor, a fifth negative, over 5 channels ("dense": each key sees many
mentions per window) and over 10,000 channels ("sparse": most keys see one mention now and
then, so windows roll and baselines learn on nearly every mention). Each trigger observes the
stream in batches of 256 through the real `TriggerAlertSink`, with the event-time clock ticking
every 5 s between mentions as the pipeline does; the figure is the median over ``--runs`` passes
of µs per mention (all mentions, the budget being 10 µs per mention on average).

``--baseline DIR`` takes a checkout of another revision (e.g. ``git archive REV | tar -x -C
DIR``) and measures the per-mention figures of both trees in turns, each pass in a fresh process
importing that tree (bench/turns.py), as CPU time of the process rather than wall time (the
machine is shared): medians and the ratio this tree / baseline, from one run.

Per tick: ``--keys`` idle keys, one open alert; µs per tick (a tick must not walk all keys).

Memory: ``--keys`` keys (one channel each) with tracemalloc on, quiet (each key has seen one
mention) and busy (each key has learnt a daily profile and a dispersion: clones of a key fed two
days of mentions): bytes per key, the size of the checkpoint snapshot, the time to build and
encode it (as the pipeline does at each barrier, by default every 5 s) and to restore it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from turns import importable, in_turns, run_child  # noqa: E402

from sentineld.alerting import TriggerAlertSink  # noqa: E402
from sentineld.components import ComponentContext, Trigger  # noqa: E402
from sentineld.model import Mention  # noqa: E402
from sentineld.options import convert_options  # noqa: E402
from sentineld.watch import WatchConfig  # noqa: E402
from sentineld_plugins.triggers.competitor_surge import CompetitorSurge  # noqa: E402
from sentineld_plugins.triggers.negativity_spike import NegativitySpike  # noqa: E402
from sentineld_plugins.triggers.volume_spike import VolumeSpike  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: Per-mention cases: label → channels.
CASES = {"dense": 5, "sparse": 10_000}

WATCH = WatchConfig(brand=["acme"], competitors={"rivaljet": ["rivaljet"]})
START = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
TRIGGERS: dict[str, type[Trigger]] = {
    "volume_spike": VolumeSpike,
    "negativity_spike": NegativitySpike,
    "competitor_surge": CompetitorSurge,
}
OPTIONS = {"window": "5m", "warmup": "1d"}


def build(cls: type[Trigger], **options: Any) -> Trigger:
    context = ComponentContext(cls.type_name, "trigger", WATCH, None)  # type: ignore[arg-type]
    return cls(convert_options({**OPTIONS, **options}, cls.Options, cls.type_name), context)


def stream(count: int, channels: int, seed: int = 1, start: float = START,
           spacing: float = 0.5) -> list[Mention]:
    rng = random.Random(seed)
    out = []
    for index in range(count):
        rival = rng.random() < 0.3
        mention = Mention(
            id=f"s{seed}:{index}", source=f"site{rng.randrange(channels)}",
            created_at=datetime.fromtimestamp(start + index * spacing, UTC),
            text="rivaljet" if rival else "acme",
        )
        mention.matches = ["competitor:rivaljet"] if rival else ["brand"]
        if rng.random() < 0.2:
            mention.labels = {"sentiment": "negative"}
        out.append(mention)
    return out


async def feed(trigger: Trigger, mentions: list[Mention], tick: float = 5.0) -> None:
    sink = TriggerAlertSink("t", trigger.type_name)
    next_tick = (mentions[0].timestamp // tick + 1) * tick
    chunk: list[Mention] = []
    for mention in mentions:
        if mention.timestamp >= next_tick:
            if chunk:
                await trigger.observe(chunk, sink)
                chunk = []
            while mention.timestamp >= next_tick:
                await trigger.tick(datetime.fromtimestamp(next_tick, UTC), sink)
                next_tick += tick
            sink.take()
        chunk.append(mention)
        if len(chunk) >= 256:
            await trigger.observe(chunk, sink)
            chunk = []
            sink.take()
    if chunk:
        await trigger.observe(chunk, sink)


async def one_pass(cls: type[Trigger], warm: list[Mention], measured: list[Mention],
                   clock: Any = time.perf_counter) -> float:
    trigger = build(cls)
    await feed(trigger, warm)
    gc.collect()
    started = clock()
    await feed(trigger, measured)
    return (clock() - started) / len(measured) * 1e6


async def child_pass(mentions: int) -> dict[str, dict[str, float]]:
    """One pass of every trigger on both cases, in CPU time of this process (`--child`)."""
    from sentineld.detect import count_sf

    count_sf(5, 1.0, 0.5)  # trees before decision 0610 import scipy here: not in a measured pass
    day = int(86400 / 0.5)
    out: dict[str, dict[str, float]] = {}
    for label, channels in CASES.items():
        warm = stream(day, channels, seed=1)
        measured = stream(mentions, channels, seed=2, start=START + day * 0.5)
        out[label] = {name: await one_pass(cls, warm, measured, time.process_time)
                      for name, cls in TRIGGERS.items()}
    return out


def compare(baseline: Path, mentions: int, runs: int) -> None:
    """This tree and `baseline` in turns, a fresh process per pass (see the module docstring)."""
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"baseline": importable(baseline, Path(scratch) / "baseline"),
                 "this tree": importable(REPO, Path(scratch) / "this")}
        results = in_turns(trees, runs, lambda code: run_child(
            __file__, ["--child", "--mentions", str(mentions)], code))
    print(f"µs of CPU per mention (median of {runs} passes in turns, {mentions:,} mentions after a "
          "warm-up day; the feeding loop included):")
    for label in CASES:
        for name in TRIGGERS:
            medians = {tree: statistics.median(r[label][name] for r in passes)
                       for tree, passes in results.items()}
            print(f"  {label:6} {name:17} baseline {medians['baseline']:6.2f}  this tree "
                  f"{medians['this tree']:6.2f}  ratio {medians['this tree'] / medians['baseline']:.2f}")


async def baseline_loop(measured: list[Mention], runs: int) -> float:
    """The same feeding loop with a trigger that does nothing: the harness's own cost."""

    class Idle(Trigger):
        type_name = "idle"

        async def observe(self, mentions: Any, alerts: Any) -> None:
            return None

    samples = []
    for _ in range(runs):
        trigger = Idle(None, ComponentContext("idle", "trigger", WATCH, None))  # type: ignore[arg-type]
        started = time.perf_counter()
        await feed(trigger, measured)
        samples.append((time.perf_counter() - started) / len(measured) * 1e6)
    return statistics.median(samples)


async def memory(cls: type[Trigger], keys: int, busy: bool) -> dict[str, float]:
    """Memory per key, checkpoint size and cost with `keys` keys, each quiet (one mention) or
    busy (a clone of a key that has learnt two days of a few mentions per window)."""
    from sentineld.detect import Series
    from sentineld.detect.records import SeriesRecord, decode_arrays, encode_arrays

    trigger = build(cls)
    sink = TriggerAlertSink("t", trigger.type_name)
    names = [f"site{index}" for index in range(keys)]
    if busy:
        model = build(cls)
        # One mention every 5 s (two days): every key, negative ones too, is busy.
        for mention in stream(int(2 * 86400 / 5), channels=1, seed=4, spacing=5.0):
            await model.observe([mention], sink)
        template = next(series for key, series in model.series.items()  # type: ignore[attr-defined]
                        if key[1] != "*")
        assert template.counts.busy, "the template key should have learnt a profile"
        template.recent.clear()  # ids are checkpointed, but only for unusual windows
        blob = msgspec.msgpack.encode(template.row(), enc_hook=encode_arrays)
        decoder = msgspec.msgpack.Decoder(SeriesRecord, dec_hook=decode_arrays)

        def decode(data: bytes) -> Series:
            return Series.from_record(decoder.decode(data))
    else:
        batch = stream(keys, channels=keys, seed=3)
        for index, mention in enumerate(batch):
            mention.source = names[index]
            # Read here, not counted as the trigger's: a mention keeps its timestamp once read
            # (the pipeline reads it first anyway).
            mention.timestamp  # noqa: B018
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    if busy:
        for name in names:
            series = decode(blob)
            series.channel = name
            trigger.series[("brand", name)] = series  # type: ignore[attr-defined]
    else:
        for start in range(0, keys, 256):
            await trigger.observe(batch[start:start + 256], sink)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    count = len(trigger.series)  # type: ignore[attr-defined]
    encode_ms, restore_ms = [], []
    for _ in range(3):
        started = time.perf_counter()
        state = msgspec.msgpack.encode(trigger.snapshot())
        encode_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        build(cls).restore(msgspec.msgpack.decode(state))
        restore_ms.append((time.perf_counter() - started) * 1000)
    # Ticks with all those keys idle and one alert open: the heap holds one deadline.
    first = next(iter(trigger.series.values()))  # type: ignore[attr-defined]
    first.open = True
    trigger.keys.schedule(first)  # type: ignore[attr-defined]
    moment = START + 10 * 86400
    ticks = 2000
    started = time.perf_counter()
    for index in range(ticks):
        await trigger.tick(datetime.fromtimestamp(moment + index * 5, UTC), sink)
    tick_us = (time.perf_counter() - started) / ticks * 1e6
    return {"per_key": (after - before) / count, "total_mb": (after - before) / 1e6,
            "snapshot_mb": len(state) / 1e6, "encode_ms": min(encode_ms),
            "restore_ms": min(restore_ms), "tick_us": tick_us}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--baseline", type=Path, help="a checkout of another revision, run in turns")
    parser.add_argument("--no-memory", action="store_true", help="only the per-mention figures")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(await child_pass(args.mentions)))
        return
    if args.baseline is not None:
        compare(args.baseline, args.mentions, args.runs)
        if args.no_memory:
            return
    day = int(86400 / 0.5)
    print(f"µs per mention (median of {args.runs} runs, {args.mentions:,} mentions after a "
          "warm-up day, ticks every 5 s of event time):")
    for label, channels in CASES.items():
        warm = stream(day, channels, seed=1)
        measured = stream(args.mentions, channels, seed=2, start=START + day * 0.5)
        # Passes interleaved (each run measures every trigger once), so that a change in the
        # machine's load hits all of them alike; medians over the runs.
        samples: dict[str, list[float]] = {name: [] for name in TRIGGERS}
        for _ in range(args.runs):
            for name, cls in TRIGGERS.items():
                samples[name].append(await one_pass(cls, warm, measured))
        loop = await baseline_loop(measured, args.runs)
        costs = {name: statistics.median(values) for name, values in samples.items()}
        row = "  ".join(f"{name} {cost - loop:5.2f}" for name, cost in costs.items())
        total = sum(costs.values()) - len(costs) * loop
        print(f"  {label:6} ({channels:>5} channels): {row}  | all three {total:5.2f} "
              f"(feeding loop alone {loop:.2f}, subtracted)")
    print()
    print(f"memory, checkpoint and ticks with {args.keys:,} keys (one channel each; per_channel "
          "doubles the keys); quiet = one mention each, busy = a learnt daily profile each:")
    for name, cls in TRIGGERS.items():
        for busy in (False, True):
            figures = await memory(cls, args.keys, busy)
            print(f"  {name:17} {'busy' if busy else 'quiet':5} {figures['per_key']:5.0f} bytes/key "
                  f"({figures['total_mb']:5.1f} MB)  snapshot {figures['snapshot_mb']:5.1f} MB, "
                  f"built and encoded in {figures['encode_ms']:4.0f} ms, restored in "
                  f"{figures['restore_ms']:4.0f} ms  tick {figures['tick_us']:4.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())
