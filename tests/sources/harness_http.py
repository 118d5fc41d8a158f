"""Running a network source against a real SQLite store, the way the pipeline's ingest does it:
the cursor comes from the store, and each ``emit`` stores the mentions and the cursor in one
transaction (`SQLiteStore.ingest`). A "restart" is a new source instance on the same store.

Also a small `LocalServer` wrapper: an `aiohttp.web` application on 127.0.0.1 and a random port.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from sentineld.changes import MentionChange, check_change
from sentineld.components import ComponentContext, Source
from sentineld.model import Mention
from sentineld.options import convert_options
from sentineld.store import SQLiteStore, open_store
from sentineld.watch import WatchConfig

WATCH = {"brand": ["acme", "@acme", "#acme"], "accounts": ["acme"]}


class SourceRun:
    """One source id on one store; `start` builds a fresh instance (a restart)."""

    def __init__(self, state_dir: Path, source_cls: type[Source], source_id: str = "src") -> None:
        self.store: SQLiteStore = open_store(state_dir)
        self.state_dir = state_dir
        self.source_cls = source_cls
        self.source_id = source_id
        self.emits: list[tuple[int, str | None]] = []
        #: What the store did with the changes emitted (deleted, edited, unknown, repeated).
        self.changes: dict[str, int] = {}
        self.source: Source | None = None
        self.task: asyncio.Task[None] | None = None

    def build(self, options: dict[str, Any], watch: dict[str, Any] | None = None) -> Source:
        opts = convert_options(options, self.source_cls.Options, f"sources.{self.source_id}")
        context = ComponentContext(
            id=self.source_id,
            kind="source",
            watch=convert_options(watch if watch is not None else WATCH, WatchConfig, "watch"),
            state_dir=self.state_dir,
        )
        source = self.source_cls(opts, context)
        source.cursor = self.store.cursor(self.source_id)
        return source

    async def emit(
        self, mentions: Sequence[Mention], cursor: str | None = None, *, wait: bool = False,
        changes: Sequence[MentionChange] = (),
    ) -> int:
        if changes:
            checked = [check_change(change) for change in changes]
            [fresh], counts = self.store.ingest_changes([(self.source_id, mentions, cursor)], checked)
            for outcome, count in dataclasses.asdict(counts).items():
                self.changes[outcome] = self.changes.get(outcome, 0) + count
        else:
            fresh = self.store.ingest(self.source_id, mentions, cursor)
        self.emits.append((len(mentions), cursor))
        if cursor is not None and self.source is not None:
            self.source.cursor = cursor
        return len(fresh)

    def start(self, options: dict[str, Any], watch: dict[str, Any] | None = None) -> Source:
        self.source = self.build(options, watch)
        source = self.source

        async def host() -> None:
            await source.start()
            try:
                await source.run(self.emit)
            finally:
                await source.stop()

        self.task = asyncio.get_running_loop().create_task(host())
        return source

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait for `condition` (checked every 10 ms); fail with the source's state if not."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.task is not None and self.task.done():
                self.task.result()  # raises what the source raised
                raise AssertionError("the source returned before the condition held")
            if time.monotonic() > deadline:
                health = self.source.health if self.source else None
                raise AssertionError(f"timed out; stored={self.ids()}, health={health}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    def ids(self) -> list[str]:
        return [row[0] for row in self.store.db.execute("SELECT id FROM mentions ORDER BY seq")]

    def mentions(self) -> list[Mention]:
        return [self.store.mention(i) for i in self.ids()]  # type: ignore[misc]

    def cursor(self) -> str | None:
        return self.store.cursor(self.source_id)

    def close(self) -> None:
        self.store.close()


class LocalServer:
    """An aiohttp application served on 127.0.0.1 at a random port."""

    def __init__(self, app: web.Application) -> None:
        self.server = TestServer(app, host="127.0.0.1")

    async def __aenter__(self) -> LocalServer:
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    def url(self, path: str = "", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.server.port}{path}"


def closed_port_url(scheme: str = "http", path: str = "") -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"{scheme}://127.0.0.1:{port}{path}"


FAST = {"backoff_initial": "50ms", "backoff_max": "200ms"}
"""Reconnect quickly in tests (production defaults: 1s doubling to 5m)."""
