"""watchdog: WATCHDOG=1 goes out while the pipeline makes progress or has nothing to do, and is
withheld while it holds work it does not move (here: a trigger that hangs), so that systemd
restarts a wedged daemon. Real daemon, real pipeline, real notify socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentineld import AlertSink, Mention, Trigger, hookimpl
from sentineld.config import load_config
from sentineld.daemon import Daemon
from sentineld.systemd import SystemdNotifier
from tests.running import NotifyListener, append_lines, chatter

RELEASE = asyncio.Event()


class HangingTrigger(Trigger):
    """Blocks in observe until the test releases it (its timeout is an hour)."""

    type_name = "hang_until_released"

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        await RELEASE.wait()


class HangPlugin:
    @hookimpl
    def register_triggers(self, register: Any) -> None:
        register(HangingTrigger)


CONFIG = """
[sentineld]
state_dir = "state"
queue_batches = 2
checkpoint_interval = "200ms"
tick = "1h"

[watch]
brand = ["acme", "@acme"]

[sources.inbox]
type = "jsonl"
path = "{inbox}"
poll_interval = "50ms"
batch_size = 1

[triggers.stuck]
type = "hang_until_released"
timeout = "1h"
"""


async def _messages(listener: NotifyListener, seconds: float) -> list[dict[str, str]]:
    """Everything the daemon sends during `seconds` (received off the event loop)."""
    got: list[dict[str, str]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        message = await asyncio.to_thread(listener.receive, min(left, 0.2))
        if message is not None:
            got.append(message)
    return got


@pytest.mark.slow
async def test_watchdog_withheld_while_a_stage_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    RELEASE.clear()
    inbox = tmp_path / "inbox.jsonl"
    inbox.touch()
    config_path = tmp_path / "sentineld.toml"
    config_path.write_text(CONFIG.format(inbox=inbox))
    config = load_config(config_path, extra_plugins=(HangPlugin(),))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # pings every 0.2 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    listener = NotifyListener()
    daemon = Daemon(config, notifier=SystemdNotifier(listener.address))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop=stop))
    try:
        idle = await _messages(listener, 1.5)
        assert any(m.get("READY") == "1" for m in idle)
        assert sum(m.get("WATCHDOG") == "1" for m in idle) >= 3, idle  # idle counts as healthy

        start = datetime(2026, 11, 24, 9, tzinfo=UTC)
        append_lines(inbox, chatter(start, minutes=10, per_minute=6))  # 60 one-mention batches
        await _messages(listener, 1.5)  # the queues fill up behind the hung trigger
        assert sum(daemon.pipeline.queue_depths().values()) > 0
        wedged = await _messages(listener, 1.5)
        assert wedged, "STATUS keeps coming while the watchdog is withheld"
        assert not any("WATCHDOG" in m for m in wedged), wedged
        assert all("STATUS" in m for m in wedged)

        RELEASE.set()
        recovered = await _messages(listener, 1.5)
        assert sum(m.get("WATCHDOG") == "1" for m in recovered) >= 2, recovered
        assert daemon.pipeline.stats.stored == 60
    finally:
        RELEASE.set()
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
        tail = await _messages(listener, 0.3)
        listener.close()
    assert any(m.get("STOPPING") == "1" for m in tail), tail


def test_probe_counts_empty_queues_as_healthy_and_stillness_with_work_as_wedged() -> None:
    from sentineld.pipeline import PipelineStats
    from sentineld.systemd import ProgressProbe

    class View:
        def __init__(self) -> None:
            self.stats = PipelineStats()
            self.depths = {"ingest": 0, "score": 0, "trigger": 0, "commit": 0}

        def queue_depths(self) -> dict[str, int]:
            return self.depths

    probe, view = ProgressProbe(), View()
    assert probe.healthy(view)  # first look
    assert probe.healthy(view)  # nothing moved, nothing queued: idle
    view.depths["score"] = 3
    assert not probe.healthy(view)  # work queued, nothing moved
    view.stats.last_progress += 1
    assert probe.healthy(view)  # it moved
    assert not probe.healthy(view)
    view.depths["score"] = 0
    assert probe.healthy(view)
