"""The HTTP side's own read connection to the store.

SQLite in WAL mode lets readers run beside the writer, so the API and the dashboard read through
a second connection on a thread of their own: a slow query never queues behind ingest, and
ingest never waits for a page of the API.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sentineld.store import SQLiteStore, open_store

T = TypeVar("T")


class StoreReader:
    """``await reader.call("alerts", limit=10)`` or ``await reader.run(function, ...)`` (called
    with the store first), on the reader's own thread."""

    def __init__(self, state_dir: Path) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentineld-http-read")
        self.store: SQLiteStore = self._executor.submit(open_store, state_dir).result()

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        function = functools.partial(getattr(self.store, method), *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(function, self.store, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def has(self, method: str) -> bool:
        return callable(getattr(self.store, method, None))

    def close(self) -> None:
        self._executor.submit(self.store.close).result()
        self._executor.shutdown(wait=True)
