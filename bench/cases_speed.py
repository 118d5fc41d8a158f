"""Cost of the care steps per mention: the case step (one store transaction per batch, on a real
SQLite file) and the unanswered trigger, plus the trigger's memory per waiting mention.

    .venv/bin/python bench/cases_speed.py [--mentions 50000] [--runs 3] [--pending 100000]

The stream: one mention every 10 seconds of event time from 5,000 customers; a fifth of them
are addressed to the brand (an @-mention of its account, or an e-mail; ``--addressed``), and the
brand answers half of those (``--answered``) 10 minutes later, so a tenth of all mentions end in
an unanswered alert (a pessimistic stream); the rest is chatter that is not addressed to it.
Each figure is the median over ``--runs`` passes of µs per mention (all mentions), in batches of
256 as the pipeline hands them over.
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

from sentineld.alerting import AlertManager, TriggerAlertSink  # noqa: E402
from sentineld.cases import CaseStep, CasesOptions  # noqa: E402
from sentineld.components import ComponentContext  # noqa: E402
from sentineld.model import Author, Mention  # noqa: E402
from sentineld.store import open_store  # noqa: E402
from sentineld.store.worker import StoreWorker  # noqa: E402
from sentineld.watch import Matcher, WatchConfig  # noqa: E402
from sentineld_plugins.triggers.unanswered import Unanswered, UnansweredOptions  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=UTC)
WATCH = WatchConfig(brand=["acme", "@acme"], accounts=["acme", "care@acme.example"])
BATCH = 256


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


def batches(mentions: list[Mention]) -> list[list[tuple[int, Mention]]]:
    numbered = list(enumerate(mentions, start=1))
    return [numbered[i : i + BATCH] for i in range(0, len(numbered), BATCH)]


async def case_step_pass(mentions: list[Mention]) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        worker = StoreWorker(open_store(Path(scratch)))
        try:
            await worker.call("ingest", "bench", mentions, None)
            step = CaseStep(CasesOptions(), Matcher(WATCH), worker)
            await step.start()
            started = time.perf_counter()
            for batch in batches(mentions):
                await step.after_scoring(batch)
            return (time.perf_counter() - started) / len(mentions) * 1e6
        finally:
            worker.close()


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
    mentions = stream(args.mentions, args.addressed, args.answered)
    addressed = sum(1 for m in mentions if m.source == "email" or "@acme" in m.text)
    print(f"{len(mentions)} mentions, {addressed} addressed to the brand, batches of {BATCH}")
    steps, triggers = [], []
    for _ in range(args.runs):
        steps.append(await case_step_pass(mentions))
        triggers.append(await trigger_pass(mentions))
    print(f"case step (SQLite, one transaction per batch): {statistics.median(steps):.1f} µs/mention "
          f"(runs: {', '.join(f'{s:.1f}' for s in steps)})")
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
    parser.add_argument("--addressed", type=float, default=0.2, help="share of mentions addressed to the brand")
    parser.add_argument("--answered", type=float, default=0.5, help="share of those the brand answers")
    asyncio.run(main(parser.parse_args()))
