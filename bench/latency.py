"""Latency under load: from an influencer's negative mention arriving at the webhook ingest to
its notification arriving at a local webhook receiver, while the daemon ingests a steady
background load through the same endpoint.

    .venv/bin/python bench/latency.py [--rate 5000] [--seconds 30] [--probes-per-second 10]

A real `sentineld run` subprocess is started with a webhook source, the shipped scorers, the
`influencer_mention` trigger (watchlisted authors) and the signed `webhook` notifier pointing at
a receiver in this process. Background mentions (neutral, from ordinary authors) are POSTed in
arrays at `--rate` mentions/s; probes (a negative mention from a different watchlisted author
each time, so each opens its own alert) are POSTed one by one. The latency of a probe is the time
from just before its POST to the arrival of the notification naming it. Everything is loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import msgspec
from aiohttp import web

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def config_text(ingest_port: int, receiver_port: int, vips: int) -> str:
    watchlist = ", ".join(f'"vip{n}.example"' for n in range(vips))
    return f"""
[sentineld]
log_level = "warning"

[watch]
brand = ["acme", "@acme"]
watchlist = [{watchlist}]

[sources.hook]
type = "webhook"
token = {{ env = "BENCH_WEBHOOK_TOKEN" }}
listen = "127.0.0.1:{ingest_port}"

[scorers.mood]
type = "sentiment"

[scorers.reach]
type = "influence"

[triggers.vip]
type = "influencer_mention"
sentiment = "negative"

[alerting]
## One notification group per influencer (the subject names the author), so that each probe is
## notified at once instead of joining the previous one's group.
group_by = ["kind", "subject"]

[notifiers.receiver]
type = "webhook"
url = "http://127.0.0.1:{receiver_port}/hook"
"""


def mention(index: int, text: str, author: str) -> dict:
    return {
        "id": f"bench:{index}", "source": "webhook",
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "text": text, "author": {"id": author, "handle": author, "followers": 120},
    }


async def wait_ready(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the daemon's webhook listener did not come up")


async def run(args: argparse.Namespace) -> None:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    receiver_port, ingest_port = free_port(), free_port()

    async def receive(request: web.Request) -> web.Response:
        body = msgspec.json.decode(await request.read())
        arrived = time.perf_counter()
        alert = body.get("alert") or {}
        if body.get("event") == "opened":
            for mention_id in alert.get("mentions", []):
                if mention_id in sent:
                    latencies.append(arrived - sent.pop(mention_id))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver_port).start()

    probes = int(args.seconds * args.probes_per_second) + 10
    with tempfile.TemporaryDirectory(prefix="sentineld-latency-") as scratch:
        folder = Path(scratch)
        (folder / "sentineld.toml").write_text(config_text(ingest_port, receiver_port, probes))
        env = {**os.environ, "BENCH_WEBHOOK_TOKEN": TOKEN, "STATE_DIRECTORY": str(folder / "state")}
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sentineld", "run", "-c", str(folder / "sentineld.toml"),
            cwd=folder, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=open(folder / "log", "wb"),
        )
        try:
            await wait_ready(ingest_port, time.monotonic() + 30)
            url = f"http://127.0.0.1:{ingest_port}/ingest"
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            counter = itertools.count()
            connector = aiohttp.TCPConnector(limit=16)
            async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
                background_sent = 0

                async def background() -> None:
                    nonlocal background_sent
                    batch, interval = 50, 50 / args.rate
                    next_at = time.perf_counter()
                    end = next_at + args.seconds
                    while next_at < end:
                        body = [mention(next(counter), "flying with @acme today, all fine", f"u{n % 5000}")
                                for n in range(batch)]
                        asyncio.get_running_loop().create_task(post(session, url, body))
                        background_sent += batch
                        next_at += interval
                        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

                async def probe_loop() -> None:
                    await asyncio.sleep(2.0)  # let the background load settle first
                    for n in range(int((args.seconds - 3) * args.probes_per_second)):
                        item = mention(next(counter), "@acme lost my bag again, worst service ever", f"vip{n}.example")
                        sent[item["id"]] = time.perf_counter()
                        await post(session, url, [item])
                        await asyncio.sleep(1 / args.probes_per_second)

                started = time.perf_counter()
                await asyncio.gather(background(), probe_loop())
                elapsed = time.perf_counter() - started
                await asyncio.sleep(2.0)  # the last notifications
        finally:
            daemon.send_signal(signal.SIGTERM)
            await daemon.wait()
            await runner.cleanup()

    if not latencies:
        raise SystemExit("no probe was notified: see the daemon's log")
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"background load: {background_sent / elapsed:,.0f} mentions/s offered for {elapsed:.0f}s "
          f"through the webhook ingest")
    print(f"probes notified: {len(latencies)} of {len(latencies) + len(sent)}")
    print(f"ingest → notification latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1] * 1000:.1f} ms "
          f"(target p99 < 100 ms)")


async def post(session: aiohttp.ClientSession, url: str, body: list[dict]) -> None:
    async with session.post(url, data=msgspec.json.encode(body)) as response:
        if response.status != 202:
            raise RuntimeError(f"ingest answered {response.status}: {await response.text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=5000.0, help="background mentions per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--probes-per-second", type=float, default=10.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
