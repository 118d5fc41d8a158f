"""Cost of the count triggers (volume_spike, negativity_spike, competitor_surge) per mention, per
tick, and their memory per key.

    .venv/bin/python bench/trigger_speed.py [--mentions 200000] [--runs 5] [--keys 100000]

Per mention: a constructed stream, one mention every half second of event time for about a day
(after a warm-up day, so baselines are warm and thresholds are computed), 70 % about the brand
and 30 % about a competitor, a fifth negative, over 5 channels ("dense": each key sees many
mentions per window) and over 10,000 channels ("sparse": most keys see one mention now and
then, so windows roll and baselines learn on nearly every mention). Each trigger observes the
stream in batches of 256 through the real `TriggerAlertSink`, with the event-time clock ticking
every 5 s between mentions as the pipeline does; the figure is the median over ``--runs`` passes
of µs per mention (all mentions, the budget being 10 µs per mention on average).

Per tick: ``--keys`` idle keys, one open alert; µs per tick (a tick must not walk all keys).

Memory: ``--keys`` keys (one channel each) with tracemalloc on: bytes per key, and the size and
msgpack encoding time of the checkpoint snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import msgspec

from sentineld.alerting import TriggerAlertSink
from sentineld.components import ComponentContext, Trigger
from sentineld.model import Mention
from sentineld.options import convert_options
from sentineld.watch import WatchConfig
from sentineld_plugins.triggers.competitor_surge import CompetitorSurge
from sentineld_plugins.triggers.negativity_spike import NegativitySpike
from sentineld_plugins.triggers.volume_spike import VolumeSpike

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


def stream(count: int, channels: int, seed: int = 1, start: float = START) -> list[Mention]:
    rng = random.Random(seed)
    out = []
    for index in range(count):
        rival = rng.random() < 0.3
        mention = Mention(
            id=f"s{seed}:{index}", source=f"site{rng.randrange(channels)}",
            created_at=datetime.fromtimestamp(start + index * 0.5, UTC),
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


async def one_pass(cls: type[Trigger], warm: list[Mention], measured: list[Mention]) -> float:
    trigger = build(cls)
    await feed(trigger, warm)
    gc.collect()
    started = time.perf_counter()
    await feed(trigger, measured)
    return (time.perf_counter() - started) / len(measured) * 1e6


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


async def memory(cls: type[Trigger], keys: int) -> tuple[float, int, float, float]:
    trigger = build(cls)
    sink = TriggerAlertSink("t", trigger.type_name)
    batch = stream(keys, channels=keys, seed=3)
    for index, mention in enumerate(batch):
        mention.source = f"site{index}"
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for start in range(0, keys, 256):
        await trigger.observe(batch[start:start + 256], sink)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    series = len(trigger.series)  # type: ignore[attr-defined]
    started = time.perf_counter()
    blob = msgspec.msgpack.encode(trigger.snapshot())
    encode = time.perf_counter() - started
    # Ticks with all those keys idle and one alert open: the heap holds one deadline.
    trigger.series[next(iter(trigger.series))].open = True  # type: ignore[attr-defined]
    trigger._schedule(next(iter(trigger.series.values())))  # type: ignore[attr-defined]
    moment = batch[-1].timestamp
    ticks = 2000
    started = time.perf_counter()
    for index in range(ticks):
        await trigger.tick(datetime.fromtimestamp(moment + index * 5, UTC), sink)
    tick_us = (time.perf_counter() - started) / ticks * 1e6
    return (after - before) / series, len(blob), encode * 1000, tick_us


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    day = int(86400 / 0.5)
    print(f"µs per mention (median of {args.runs} runs, {args.mentions:,} mentions after a "
          "warm-up day, ticks every 5 s of event time):")
    for label, channels in (("dense", 5), ("sparse", 10_000)):
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
    print(f"memory and ticks with {args.keys:,} keys (one channel each; per_channel doubles keys):")
    for name, cls in TRIGGERS.items():
        per_key, size, encode_ms, tick_us = await memory(cls, args.keys)
        print(f"  {name:17} {per_key:6.0f} bytes/key  snapshot {size / 1e6:5.1f} MB "
              f"built and encoded in {encode_ms:5.0f} ms  tick {tick_us:5.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())
