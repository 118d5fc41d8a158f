"""`sentineld run`: the long-running daemon."""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack

import structlog

from sentineld.config import Config
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker

log = structlog.get_logger("sentineld")


async def run_daemon(config: Config, *, stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set), then drain, checkpoint and return 0."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        worker = StoreWorker(open_store(config.state_dir))
        stack.callback(worker.close)
        pipeline = Pipeline(config, worker, live=True, notify=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
            stack.callback(loop.remove_signal_handler, signum)
        await pipeline.start()
        log.info(
            "sentineld running",
            config=str(config.path or "<embedded>"),
            state_dir=str(config.state_dir),
            sources=[g.id for g in pipeline.sources],
            triggers=[g.id for g in pipeline.triggers],
            notifiers=[g.id for g in pipeline.notifiers],
        )
        await stop.wait()
        log.info("stopping: draining queues")
        await pipeline.stop()
        log.info(
            "stopped",
            stored=pipeline.stats.stored,
            alerts_opened=pipeline.stats.alerts_opened,
            checkpoints=pipeline.stats.checkpoints,
        )
    return 0
