"""Bluesky source: Jetstream events per second read, decoded and filtered against [watch], over
a real local websocket into a real SQLite store, beside the same decode-and-filter step alone
(no socket), in one run.

    .venv/bin/python bench/jetstream_filter.py [--events 50000] [--match-every 100] [--runs 3]

Events are Jetstream post commits whose texts are real tweets from ``../shared/data``; one in
`--match-every` names the brand. Profiles are off (no AppView here). Bluesky's public firehose
carries tens of posts per second on average, a few hundred at peaks; the figure says how much
headroom one source has. Medians over `--runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402
from datasets import tweet_texts  # noqa: E402

from sentineld.components import ComponentContext  # noqa: E402
from sentineld.options import convert_options  # noqa: E402
from sentineld.store import open_store  # noqa: E402
from sentineld.watch import WatchConfig  # noqa: E402
from sentineld_plugins.sources.bluesky import BlueskySource  # noqa: E402
from sentineld_plugins.sources.bluesky.source import _Pending  # noqa: E402

T0 = 1_732_439_700_000_000
WATCH = {"brand": ["acme", "@acme"], "accounts": ["acme"], "competitors": {"rival": ["rivaljet"]}}


def events(count: int, match_every: int) -> list[str]:
    texts = tweet_texts()
    out = []
    for n in range(count):
        text = texts[n % len(texts)]
        if n % match_every == 0:
            text = f"@acme {text}"
        out.append(json.dumps({
            "did": f"did:plc:{n % 5000:024d}", "time_us": T0 + n, "kind": "commit",
            "commit": {"rev": f"3l{n:011d}", "operation": "create",
                       "collection": "app.bsky.feed.post", "rkey": f"3k{n:011d}",
                       "cid": "bafyrei", "record": {"$type": "app.bsky.feed.post", "text": text,
                                                    "createdAt": "2024-11-24T09:15:00.000Z",
                                                    "langs": ["en"]}},
        }))
    return out


def build(url: str, state_dir: Path) -> BlueskySource:
    options = convert_options({"url": url, "api_url": "http://127.0.0.1:9", "profiles": False,
                               "batch_wait": "200ms"}, BlueskySource.Options, "bench")
    context = ComponentContext(id="bsky", kind="source",
                               watch=convert_options(WATCH, WatchConfig, "watch"),
                               state_dir=state_dir)
    return BlueskySource(options, context)


def filter_only(payload: list[str]) -> float:
    source = build("ws://unused", Path("."))
    pending = _Pending()
    started = time.perf_counter()
    for raw in payload:
        source._read(raw, pending, 0.0)
    return len(payload) / (time.perf_counter() - started)


async def end_to_end(payload: list[str], expected: int) -> float:
    async def subscribe(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for raw in payload:
            await ws.send_str(raw)
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/subscribe", subscribe)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        source = build(f"ws://127.0.0.1:{server.port}/subscribe", Path(tmp))
        last = str(T0 + len(payload) - 1)
        done = asyncio.Event()

        async def emit(mentions: Any, cursor: str | None = None, **_: Any) -> None:
            store.ingest("bsky", mentions, cursor)
            if cursor == last:
                done.set()

        started = time.perf_counter()
        task = asyncio.create_task(source.run(emit))
        await done.wait()
        elapsed = time.perf_counter() - started
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        stored = store.count_mentions()
        store.close()
    await server.close()
    if stored != expected:
        raise SystemExit(f"stored {stored} mentions, expected {expected}")
    return len(payload) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--match-every", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    payload = events(args.events, args.match_every)
    expected = len(range(0, args.events, args.match_every))
    alone = [filter_only(payload) for _ in range(args.runs)]
    wired = [asyncio.run(end_to_end(payload, expected)) for _ in range(args.runs)]
    print(f"events: {args.events}, kept: {expected} (1 in {args.match_every}), runs: {args.runs}")
    print(f"decode + filter alone:           {statistics.median(alone):>10,.0f} events/s")
    print(f"websocket -> filter -> SQLite:   {statistics.median(wired):>10,.0f} events/s")
    print(f"ratio end-to-end / filter alone: {statistics.median(wired) / statistics.median(alone):.2f}")


if __name__ == "__main__":
    main()
