"""Delivery rate through the outbox: notifications queued in a real SQLite store, delivered by a
DeliveryWorker through the signed webhook notifier to a local aiohttp receiver, beside bare
aiohttp POSTs of the same bodies to the same receiver, in one run.

    .venv/bin/python bench/outbox_delivery.py [--notifications 2000] [--runs 3]

Each outbox delivery is one store read, one signed POST and one committed store write (the
price of never losing or repeating a notification); the bare POST is the floor. Figures are
medians over ``--runs``; the ratio compares the two in this same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402
from aiohttp import ClientSession, web  # noqa: E402

from sentineld.model import alert_to_dict  # noqa: E402
from sentineld.outbox import DeliveryWorker  # noqa: E402
from sentineld.store import open_store  # noqa: E402
from sentineld.store.worker import StoreWorker  # noqa: E402
from sentineld.supervisor import Guard  # noqa: E402
from sentineld.testing import Harness, make_alert  # noqa: E402


async def receiver() -> tuple[web.AppRunner, str, list[int]]:
    seen: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        seen.append(1)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/in", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/in", seen


async def one_run(count: int, directory: Path) -> tuple[float, float]:
    runner, url, seen = await receiver()
    os.environ["BENCH_HOOK_SECRET"] = "bench"
    harness = Harness(directory).configure(
        notifiers={"hook": {"type": "webhook", "url": url, "secret": {"env": "BENCH_HOOK_SECRET"}}}
    )
    config = harness.config()
    store = StoreWorker(open_store(config.state_dir))
    bodies = []
    for _ in range(count):
        alert = make_alert()
        payload = msgspec.json.encode({"event": "opened", "alert": alert_to_dict(alert)})
        store.store.record_alert(alert, [("hook", f"{alert.id}:opened:hook", payload)])
        bodies.append(payload)
    guard = Guard(config.components["notifier"]["hook"], config)
    await guard.start()
    worker = DeliveryWorker(guard, store.call, config.section("outbox"))
    started = time.perf_counter()
    delivered = await worker.drain()
    outbox_rate = delivered / (time.perf_counter() - started)
    await guard.stop()
    store.close()

    async with ClientSession() as session:
        started = time.perf_counter()
        for body in bodies:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                await r.read()
        bare_rate = count / (time.perf_counter() - started)
    await runner.cleanup()
    assert delivered == count and len(seen) == 2 * count
    return outbox_rate, bare_rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    outbox, bare = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
            o, b = await one_run(args.notifications, Path(scratch))
        outbox.append(o)
        bare.append(b)
    o, b = statistics.median(outbox), statistics.median(bare)
    print(f"notifications per run: {args.notifications}, runs: {args.runs}")
    print(f"outbox → webhook notifier → local receiver: {o:,.0f} deliveries/s (median)")
    print(f"bare aiohttp POST of the same bodies:        {b:,.0f} requests/s (median)")
    print(f"outbox rate / bare rate: {o / b:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
