"""An in-process daemon with its HTTP side on a free port, for the API tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sentineld.config import load_config
from sentineld.daemon import Daemon
from tests.running import append_lines

TOKEN = "api-test-token"

CONFIG = """
[sentineld]
state_dir = "state"
checkpoint_interval = "100ms"
tick = "1h"

[watch]
brand = ["acme", "@acme"]
accounts = ["acme"]
competitors.rivaljet = ["rivaljet"]

[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "20ms"

[scorers.mood]
type = "sentiment"

[scorers.reach]
type = "influence"

[triggers.buzz]
type = "volume_spike"
window = "1m"
warmup = "10m"
## A short test stream: a lenient tail probability so that its burst is unusual enough.
alpha = 1e-4
min_count = 8

[notifiers.out]
type = "file"
path = "alerts.jsonl"

[http]
enabled = true
port = 0
token = { env = "SENTINELD_API_TEST_TOKEN" }
"""


@dataclass
class Running:
    daemon: Daemon
    url: str
    path: Path
    session: aiohttp.ClientSession
    stop: asyncio.Event
    task: asyncio.Task[int]
    auth: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {TOKEN}"})

    def feed(self, lines: list[str]) -> None:
        append_lines(self.path / "inbox.jsonl", lines)

    async def get(self, path: str, *, token: bool = True, **kwargs: Any) -> tuple[int, Any]:
        headers = self.auth if token else {}
        async with self.session.get(self.url + path, headers=headers, **kwargs) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def until(self, check: Callable[[], Any], timeout: float = 15.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = await check() if asyncio.iscoroutinefunction(check) else check()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.05)

    async def stored(self, count: int) -> None:
        await self.until(lambda: self.daemon.pipeline and self.daemon.pipeline.stats.scored >= count)


async def start_daemon(path: Path, config: str = CONFIG, extra_plugins: tuple[object, ...] = ()) -> tuple[Daemon, asyncio.Event, asyncio.Task[int]]:
    (path / "sentineld.toml").write_text(config)
    (path / "inbox.jsonl").touch()
    daemon = Daemon(load_config(path / "sentineld.toml", extra_plugins=extra_plugins))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop=stop))
    for _ in range(400):
        if daemon.state == "running" or task.done():
            break
        await asyncio.sleep(0.025)
    if task.done():
        task.result()
    assert daemon.http is not None
    return daemon, stop, task


@pytest.fixture
async def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    monkeypatch.setenv("SENTINELD_API_TEST_TOKEN", TOKEN)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.chdir(tmp_path)  # the jsonl source's path is relative to the working directory
    daemon, stop, task = await start_daemon(tmp_path)
    async with aiohttp.ClientSession() as session:
        yield Running(daemon, daemon.http.url.rstrip("/"), tmp_path, session, stop, task)
    stop.set()
    assert await asyncio.wait_for(task, 30) == 0
