"""Runs store calls on one dedicated thread, so that SQLite never blocks the event loop and the
connection is only ever used from one thread. WAL checkpoints run on a second thread
(`sentineld.store.wal`), so that store calls do not wait for one."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sentineld.store.sqlite import WAL_CHECKPOINT_BYTES, SQLiteStore
from sentineld.store.wal import BACKSTOP_FACTOR, WalCheckpointer


class StoreWorker:
    """``await worker.call("ingest", ...)`` runs ``store.ingest(...)`` on the store thread."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentineld-store")
        self.checkpointer = WalCheckpointer(store.path, WAL_CHECKPOINT_BYTES)
        store.set_wal_autocheckpoint(WAL_CHECKPOINT_BYTES * BACKSTOP_FACTOR)
        self.checkpointer.start()

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        function = functools.partial(getattr(self.store, method), *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.checkpointer.stop()
        self.store.close()
