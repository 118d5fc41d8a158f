"""Webhook ingest: mentions/s and the latency of a `202` (which means "durably stored"), beside
the same mentions appended to a file the jsonl source follows, through the same pipeline, in
one run.

    .venv/bin/python bench/webhook_ingest.py [--mentions 20000] [--batch 100] [--concurrency 4] [--runs 3]

A real pipeline with a real SQLite store in a temporary directory, sources only (no scorers or
triggers: this measures ingest). The webhook source listens on 127.0.0.1; a client POSTs JSON
arrays of `--batch` mentions (real tweet texts of ``../shared/data``), `--concurrency` requests
at a time, bearer-authenticated. Each run uses fresh mention ids. Figures are medians over
`--runs`; the ratio compares webhook ingest with the jsonl source in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import tweet_texts  # noqa: E402

TOKEN = "bench-token"


def mentions(count: int, run: int, prefix: str) -> list[dict[str, Any]]:
    texts = tweet_texts()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        {
            "id": f"{prefix}:{run}:{i}",
            "source": "bench",
            "created_at": (start + timedelta(milliseconds=50 * i)).isoformat().replace("+00:00", "Z"),
            "text": "@sentineld " + texts[i % len(texts)],
            "author": {"id": f"a{i % 5000}", "handle": f"user{i % 5000}"},
        }
        for i in range(count)
    ]


def config_text(state: Path, sources: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps({
        "sentineld": {"state_dir": str(state), "log_level": "warning"},
        "watch": {"brand": ["sentineld", "@sentineld"]},
        "sources": sources,
    })


async def running_pipeline(text: str) -> tuple[Any, Any]:
    from sentineld.config import load_config
    from sentineld.logs import configure_logging
    from sentineld.pipeline import Pipeline
    from sentineld.store import open_store
    from sentineld.store.worker import StoreWorker

    config = load_config(text=text, entry_points=False)
    configure_logging("warning", "console")
    worker = StoreWorker(open_store(config.state_dir))
    pipeline = Pipeline(config, worker, live=True, notify=False)
    await pipeline.start()
    return pipeline, worker


async def webhook_run(count: int, batch: int, concurrency: int, run: int) -> tuple[float, list[float]]:
    import aiohttp

    os.environ["BENCH_WEBHOOK_TOKEN"] = TOKEN
    with tempfile.TemporaryDirectory() as scratch:
        text = config_text(Path(scratch), {"hook": {
            "type": "webhook", "listen": "127.0.0.1:0", "token": {"env": "BENCH_WEBHOOK_TOKEN"},
            "max_body": 16 << 20}})
        pipeline, worker = await running_pipeline(text)
        try:
            source = pipeline.sources[0].component
            while not source.addresses:
                await asyncio.sleep(0.01)
            url = f"http://{source.addresses[0]}/ingest"
            items = mentions(count, run, "hook")
            bodies = [json.dumps(items[i : i + batch]).encode() for i in range(0, count, batch)]
            latencies: list[float] = []
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            for body in bodies:
                queue.put_nowait(body)
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

            async def client(session: aiohttp.ClientSession) -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    sent = time.perf_counter()
                    async with session.post(url, data=body, headers=headers) as response:
                        assert response.status == 202, await response.text()
                    latencies.append(time.perf_counter() - sent)

            started = time.perf_counter()
            async with aiohttp.ClientSession() as session:
                await asyncio.gather(*(client(session) for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
            assert pipeline.stats.stored == count, pipeline.stats.stored
            return count / elapsed, latencies
        finally:
            await pipeline.stop()
            worker.close()


async def jsonl_run(count: int, run: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "mentions.jsonl"
        path.write_text("")
        lines = "".join(json.dumps(m) + "\n" for m in mentions(count, run, "file"))
        text = config_text(Path(scratch) / "state", {"file": {
            "type": "jsonl", "path": str(path), "poll_interval": "10ms"}})
        pipeline, worker = await running_pipeline(text)
        try:
            await asyncio.sleep(0.2)  # started and following the empty file, like the webhook
            started = time.perf_counter()
            with path.open("a") as handle:
                handle.write(lines)
            while pipeline.stats.stored < count:
                await asyncio.sleep(0.005)
            return count / (time.perf_counter() - started)
        finally:
            await pipeline.stop()
            worker.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    hook_rates, file_rates, medians, p95s = [], [], [], []
    for run in range(args.runs):
        rate, latencies = await webhook_run(args.mentions, args.batch, args.concurrency, run)
        hook_rates.append(rate)
        latencies.sort()
        medians.append(statistics.median(latencies))
        p95s.append(latencies[int(0.95 * (len(latencies) - 1))])
        file_rates.append(await jsonl_run(args.mentions, run))
    hook, file = statistics.median(hook_rates), statistics.median(file_rates)
    print(f"{args.mentions} mentions, arrays of {args.batch}, {args.concurrency} requests at a time, "
          f"median of {args.runs} runs")
    print(f"webhook ingest:      {hook:10,.0f} mentions/s   202 latency median "
          f"{statistics.median(medians) * 1000:.1f} ms, p95 {statistics.median(p95s) * 1000:.1f} ms")
    print(f"jsonl source:        {file:10,.0f} mentions/s")
    print(f"webhook / jsonl:     {hook / file:10.2f}")


if __name__ == "__main__":
    asyncio.run(main())
