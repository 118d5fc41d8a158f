"""Cost of the care steps per mention: the case step (one store transaction per batch, on a real
SQLite file) and the unanswered trigger, plus the trigger's memory per waiting mention.

    .venv/bin/python bench/cases_speed.py [--mentions 50000] [--runs 3] [--pending 100000]
        [--throughput 100000] [--batch 512]

Two streams go through the case step:

- *care*: one mention every 10 seconds of event time from 5,000 customers who come back; a fifth
  are addressed to the brand (an @-mention of its account, or an e-mail; ``--addressed``), and
  the brand answers half of those (``--answered``) 10 minutes later, so a tenth of all mentions
  end in an unanswered alert (a pessimistic stream); the rest is chatter not addressed to it.
- *throughput*: the stream of bench/throughput.py (``--throughput`` mentions, 200,000 possible
  authors, one in five @-mentions the brand's account, so nearly every case has a new customer).

The case step's cost is CPU time (`time.process_time`: the event loop and the store thread),
in µs per mention of the whole stream, in batches of ``--batch`` (what `replay` hands over).
Beside it, in the same pass, the store's `ingest` of the same batches: the ratio of the two is
the figure to compare between runs on a busy machine. Medians over ``--runs`` passes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sentineld.alerting import AlertManager, TriggerAlertSink  # noqa: E402
from sentineld.cases import CaseStep, CasesOptions  # noqa: E402
from sentineld.components import ComponentContext  # noqa: E402
from sentineld.model import Author, Mention, decode_mention  # noqa: E402
from sentineld.store import open_store  # noqa: E402
from sentineld.store.worker import StoreWorker  # noqa: E402
from sentineld.watch import Matcher, WatchConfig  # noqa: E402
from sentineld_plugins.triggers.unanswered import Unanswered, UnansweredOptions  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=UTC)
WATCH = WatchConfig(brand=["acme", "@acme"], accounts=["acme", "care@acme.example"])
#: The watch of bench/throughput.py's config.
THROUGHPUT_WATCH = WatchConfig(brand=["sentineld", "@sentineld", "#sentineld"], accounts=["sentineld"])
BATCH = 512


def stream(count: int, addressed: float, answered: float, seed: int = 1) -> list[Mention]:
    rng = random.Random(seed)
    mentions: list[Mention] = []
    for i in range(count):
        at = START + timedelta(seconds=10 * i)
        who = rng.randrange(5000)
        roll = rng.random()
        if roll < addressed / 2:
            mention = Mention(id=f"email:<{i}@x>", source="email", created_at=at, text=f"refund {i}?",
                              author=Author(id=f"c{who}@example.com", handle=f"c{who}@example.com"))
        elif roll < addressed:
            mention = Mention(id=f"bsky:{i}", source="bluesky", created_at=at, text=f"@acme where is bag {i}",
                              author=Author(id=f"did:plc:c{who}", handle=f"c{who}.bsky.social"))
        else:
            mention = Mention(id=f"bsky:{i}", source="bluesky", created_at=at, text=f"acme flight {i} was fine",
                              author=Author(id=f"did:plc:c{who}", handle=f"c{who}.bsky.social"))
        mentions.append(mention)
        if roll < addressed and rng.random() < answered:
            mentions.append(Mention(id=f"bsky:r{i}", source="bluesky", created_at=at + timedelta(minutes=10),
                                    text="on it", author=Author(id="did:plc:acme", handle="acme"),
                                    in_reply_to=mention.id))
    mentions.sort(key=lambda m: m.created_at)
    return mentions


def throughput_stream(count: int) -> list[Mention]:
    """The mentions bench/throughput.py replays (its `write_stream`, decoded as replay does)."""
    from throughput import write_stream

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "stream.jsonl"
        write_stream(path, count, authors=200_000)
        with path.open("rb") as lines:
            return [decode_mention(line) for line in lines]


def batches(mentions: list[Mention]) -> list[list[tuple[int, Mention]]]:
    numbered = list(enumerate(mentions, start=1))
    return [numbered[i : i + BATCH] for i in range(0, len(numbered), BATCH)]


async def case_step_pass(mentions: list[Mention], watch: WatchConfig) -> tuple[float, float]:
    """CPU µs per mention of the case step and of storing the same batches (`ingest`)."""
    fresh = [msgspec.structs.replace(m, labels={}) for m in mentions]
    with tempfile.TemporaryDirectory() as scratch:
        worker = StoreWorker(open_store(Path(scratch)))
        try:
            numbered = batches(fresh)
            started = time.process_time()
            for batch in numbered:
                await worker.call("ingest", "bench", [m for _, m in batch], None)
            ingest = time.process_time() - started
            step = CaseStep(CasesOptions(), Matcher(watch), worker)
            await step.start()
            started = time.process_time()
            for batch in numbered:
                await step.after_scoring(batch)
            cases = time.process_time() - started
            return cases / len(mentions) * 1e6, ingest / len(mentions) * 1e6
        finally:
            worker.close()


async def report_case_step(name: str, mentions: list[Mention], watch: WatchConfig, runs: int) -> None:
    steps, ingests = [], []
    for _ in range(runs):
        step, ingest = await case_step_pass(mentions, watch)
        steps.append(step)
        ingests.append(ingest)
    ratios = [s / i for s, i in zip(steps, ingests, strict=True)]
    print(f"case step, {name} stream (SQLite, one transaction per batch): "
          f"{statistics.median(steps):.1f} µs CPU/mention (runs: {', '.join(f'{s:.1f}' for s in steps)}); "
          f"ingest of the same batches {statistics.median(ingests):.1f} µs/mention; "
          f"case step / ingest {statistics.median(ratios):.2f}x")


def trigger() -> Unanswered:
    context = ComponentContext("waiting", "trigger", WATCH, Path("."))
    return Unanswered(UnansweredOptions(), context)


async def trigger_pass(mentions: list[Mention]) -> float:
    waiting, sink, manager = trigger(), TriggerAlertSink("waiting", "unanswered"), AlertManager()
    started = time.perf_counter()
    for batch in batches(mentions):
        chunk = [m for _, m in batch]
        await waiting.observe(chunk, sink)
        await waiting.tick(chunk[-1].created_at, sink)
        manager.apply(sink.take())
    return (time.perf_counter() - started) / len(mentions) * 1e6


async def pending_memory(count: int) -> tuple[float, int]:
    waiting, sink = trigger(), TriggerAlertSink("waiting", "unanswered")
    posts = [Mention(id=f"bsky:{i}", source="bluesky", created_at=START + timedelta(seconds=i),
                     text="@acme help", author=Author(id=f"did:plc:u{i}", handle=f"u{i}.bsky.social"))
             for i in range(count)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    await waiting.observe(posts, sink)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count, len(msgspec.msgpack.encode(waiting.snapshot()))


async def main(args: Any) -> None:
    global BATCH
    BATCH = args.batch
    if args.throughput:
        shaped = throughput_stream(args.throughput)
        addressed = sum(1 for m in shaped if "@sentineld" in m.text)
        print(f"throughput stream: {len(shaped)} mentions, {addressed} addressed to the brand, "
              f"{len({m.author_key for m in shaped})} authors, batches of {BATCH}")
        await report_case_step("throughput", shaped, THROUGHPUT_WATCH, args.runs)
        del shaped
    mentions = stream(args.mentions, args.addressed, args.answered)
    addressed = sum(1 for m in mentions if m.source == "email" or "@acme" in m.text)
    print(f"care stream: {len(mentions)} mentions, {addressed} addressed to the brand, batches of {BATCH}")
    await report_case_step("care", mentions, WATCH, args.runs)
    triggers = [await trigger_pass(mentions) for _ in range(args.runs)]
    print(f"unanswered trigger (observe + tick + alert manager): {statistics.median(triggers):.2f} µs/mention "
          f"(runs: {', '.join(f'{s:.2f}' for s in triggers)})")
    per_key, snapshot = await pending_memory(args.pending)
    print(f"unanswered trigger memory: {per_key:.0f} bytes per waiting mention; checkpoint "
          f"{snapshot / args.pending:.0f} bytes per waiting mention ({args.pending} waiting)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--throughput", type=int, default=100_000,
                        help="mentions of bench/throughput.py's stream (0: skip it)")
    parser.add_argument("--batch", type=int, default=BATCH, help="mentions per batch")
    parser.add_argument("--addressed", type=float, default=0.2, help="share of mentions addressed to the brand")
    parser.add_argument("--answered", type=float, default=0.5, help="share of those the brand answers")
    asyncio.run(main(parser.parse_args()))
