"""Trigger cost per mention and state memory per key, for influencer_mention, viral_post and
new_term (volume_spike beside them for scale), plus the alert manager's tick.

    .venv/bin/python bench/triggers_speed.py [--mentions 100000] [--runs 5] [--keys 100000]

Speed: the real tweets of ``../shared/data`` (about 6,300, repeated), one every 2 seconds of
event time, carrying the scores the scoring stage gives (influence, sentiment label, velocities
on a fifth, a cluster on a twentieth), about 70 % matching the brand. Each trigger observes them
in batches of 256 through the real `TriggerAlertSink`, and the alert manager applies what it
signals; the figure is the median over ``--runs`` passes of µs per mention (all mentions, as the
budget of 10 µs per mention is stated).

Memory: each trigger is fed ``--keys`` distinct keys (authors ranting, posts spreading, new
terms) with tracemalloc on; the figure is the growth of traced memory per key, and the size and
encoding time of the checkpoint snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import tweet_texts  # noqa: E402

from sentineld.alerting import AlertManager, TriggerAlertSink  # noqa: E402
from sentineld.components import ComponentContext  # noqa: E402
from sentineld.model import Author, Mention  # noqa: E402
from sentineld.plugin_manager import build_plugin_manager, load_registry  # noqa: E402
from sentineld.watch import Matcher, WatchConfig  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=UTC)
WATCH = WatchConfig(brand=["acme", "@acme"], accounts=["acme"])
#: (label, trigger type, options): the contenders, taken in turns.
CONTENDERS = (
    ("(no trigger)", None, {}),
    ("volume_spike", "volume_spike", {}),
    ("influencer_mention", "influencer_mention", {}),
    ("viral_post", "viral_post", {}),
    ("new_term", "new_term", {}),
    ("new_term, words too", "new_term", {"terms": ["hashtag", "word"]}),
)


class NoTrigger:
    """The harness alone: ticks and the alert manager, no trigger work."""

    type_name = "none"

    async def observe(self, mentions: Any, alerts: Any) -> None:
        return None

    async def tick(self, now: Any, alerts: Any) -> None:
        return None


def build(type_name: str, registry: Any, **options: Any) -> Any:
    cls = registry.get("trigger", type_name).cls
    opts = msgspec.convert(options, cls.Options, dec_hook=_duration)
    return cls(opts, ComponentContext(type_name, "trigger", WATCH, Path(".")))


def _duration(kind: type, value: Any) -> Any:
    from sentineld.options import parse_duration

    return parse_duration(value)


def stream(count: int, seed: int = 11) -> list[Mention]:
    rng = random.Random(seed)
    texts = tweet_texts()
    matcher = Matcher(WATCH)
    mentions = []
    for index in range(count):
        text = texts[index % len(texts)]
        scores = {"connector": rng.random() ** 3, "maven": rng.random() ** 3,
                  "influence": rng.random() ** 3, "sentiment": rng.uniform(-1, 1)}
        labels = {"sentiment": rng.choice(("negative", "neutral", "positive"))}
        reshare_of = None
        if rng.random() < 0.2:
            scores["reshare_velocity"] = rng.lognormvariate(1.5, 1.2)
            scores["reply_velocity"] = rng.lognormvariate(0.5, 1.0)
            reshare_of = f"bluesky:post{rng.randrange(5000)}"
        if rng.random() < 0.05:
            labels["cluster"] = f"c{rng.randrange(500)}"
            scores["cluster_size"] = rng.randrange(1, 40)
            scores["cluster_growth"] = rng.lognormvariate(1.0, 1.0)
        mention = Mention(
            id=f"bluesky:{index}", source=rng.choice(("bluesky", "reddit", "email")),
            created_at=START + timedelta(seconds=2 * index), text=text,
            author=Author(id=f"a{rng.randrange(50_000)}", handle=f"h{index % 50_000}"),
            reshare_of=reshare_of, scores=scores, labels=labels,
        )
        mention.matches = matcher.match(text) or (["brand"] if rng.random() < 0.7 else [])
        mentions.append(mention)
    return mentions


async def time_trigger(trigger: Any, mentions: list[Mention], batch: int = 256) -> tuple[float, int]:
    """Seconds for one pass (observe + ticks every 5 s of event time + alert manager)."""
    sink = TriggerAlertSink(trigger.type_name, trigger.type_name)
    manager = AlertManager()
    signals = 0
    next_tick = mentions[0].timestamp + 5
    started = time.perf_counter()
    for offset in range(0, len(mentions), batch):
        chunk = mentions[offset:offset + batch]
        await trigger.observe(chunk, sink)
        taken = sink.take()
        signals += len(taken)
        manager.apply(taken)
        last = chunk[-1].timestamp
        while next_tick <= last:
            moment = datetime.fromtimestamp(next_tick, UTC)
            await trigger.tick(moment, sink)
            taken = sink.take()
            signals += len(taken)
            manager.apply(taken)
            manager.tick(next_tick)
            next_tick += 5
    return time.perf_counter() - started, signals


async def speed(args: argparse.Namespace, registry: Any) -> None:
    mentions = stream(args.mentions)
    print(f"speed: {len(mentions):,} mentions, {args.runs} passes; median µs per mention of "
          f"observe + ticks + alert manager, and what the trigger adds to the harness alone")
    results: dict[str, list[float]] = {label: [] for label, _, _ in CONTENDERS}
    signals: dict[str, int] = {}
    for _ in range(args.runs):
        for label, type_name, options in CONTENDERS:  # in turns: load changes hit all alike
            trigger = build(type_name, registry, **options) if type_name else NoTrigger()
            seconds, count = await time_trigger(trigger, mentions)
            results[label].append(seconds)
            signals[label] = count
    base = statistics.median(results["(no trigger)"]) / len(mentions) * 1e6
    added_default = 0.0
    for label, type_name, _ in CONTENDERS:
        per = statistics.median(results[label]) / len(mentions) * 1e6
        if type_name is None:
            print(f"  {label:<22} {per:6.2f} µs/mention")
            continue
        if label != "new_term, words too":
            added_default += per - base
        print(f"  {label:<22} {per:6.2f} µs/mention, adds {per - base:5.2f}   "
              f"({signals[label]:,} fire/clear signals per pass)")
    print(f"  the four with their defaults add {added_default:.2f} µs/mention together")


def measure(feed: Any) -> tuple[float, Any]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = feed()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, kept


def memory(args: argparse.Namespace, registry: Any) -> None:
    keys = args.keys
    print(f"memory: {keys:,} distinct keys per trigger (tracemalloc growth; snapshot as msgpack)")
    rng = random.Random(5)

    def mention(index: int, text: str, **fields: Any) -> Mention:
        m = Mention(id=f"b:{index}", source="bluesky", created_at=START + timedelta(seconds=index),
                    text=text, author=Author(id=f"a{index}"), **fields)
        m.matches = ["brand"]
        m.timestamp  # the store's ingest reads (and caches) it before any trigger: not trigger memory
        return m

    cases = {
        "influencer_mention": (
            dict(max_open=keys),
            [mention(i, "@acme awful", scores={"maven": 0.95}, labels={"sentiment": "negative"})
             for i in range(keys)],
        ),
        "viral_post": (
            dict(max_tracked=keys),
            [mention(i, "@acme", scores={"reshare_velocity": rng.uniform(1, 50)},
                     reshare_of=f"bluesky:p{i}") for i in range(keys)],
        ),
        "new_term": (
            dict(max_terms=keys),
            [mention(i, f"@acme #tag{i}x") for i in range(keys)],
        ),
    }
    for name, (options, mentions) in cases.items():
        trigger = build(name, registry, **options)
        sink = TriggerAlertSink(name, name)

        def feed(trigger: Any = trigger, mentions: list[Mention] = mentions) -> None:
            for offset in range(0, len(mentions), 1000):
                asyncio.run(trigger.observe(mentions[offset:offset + 1000], sink))
                sink.take()

        grown, _ = measure(feed)
        started = time.perf_counter()
        blob = msgspec.msgpack.encode(trigger.snapshot())
        encoded = time.perf_counter() - started
        print(f"  {name:<20} {grown / keys:7.0f} bytes/key  ({grown / 2**20:6.1f} MiB)   "
              f"snapshot {len(blob) / 2**20:5.1f} MiB in {encoded * 1000:5.0f} ms")


def manager_ticks() -> None:
    print("alert manager: median µs per tick with N open alerts, half of them silenced")
    from sentineld.alerting import Signal
    from sentineld.alertrules import AlertingOptions, Silence
    from sentineld.options import Duration

    for count in (100, 10_000):
        for renotify, what in ((Duration(4 * 3600), "nothing due"), (Duration(5), "re-notify due")):
            manager = AlertManager(AlertingOptions(renotify=renotify))
            manager.set_silences([Silence(
                id="s", matchers=["channel=reddit"], starts_at=START, ends_at=START + timedelta(days=1),
                reason="bench", created_by="bench", created_at=START)])
            manager.apply([
                Signal(True, "t", "k", f"brand/author:{i}", ("bluesky", "reddit")[i % 2], START, "s", "high")
                for i in range(count)])
            times = []
            for step in range(1, 21):
                started = time.perf_counter()
                manager.tick(START.timestamp() + 5 * step)
                times.append(time.perf_counter() - started)
            print(f"  {count:>6} open alerts, {what:<13}: {statistics.median(times) * 1e6:9.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    pm, infos = build_plugin_manager(None, [], entry_points=False)
    registry = load_registry(pm, infos)
    asyncio.run(speed(args, registry))
    memory(args, registry)
    manager_ticks()


if __name__ == "__main__":
    main()
