"""WAL checkpoints on a thread of their own, so that the store thread never waits for one.

In WAL mode every commit appends pages to ``sentineld.sqlite3-wal``; a checkpoint copies them
back into the database file and syncs it. SQLite's automatic checkpoint runs inside the commit
that crosses the threshold, on the connection that commits: on the store thread, which then
holds up ingest, scoring and alert writes for 30-40 ms each time the WAL reaches 40 MiB (every
few seconds under load; decision 0021). A PASSIVE checkpoint from a second connection runs
beside the writer instead: SQLite lets one connection append to the WAL while another copies
the frames already committed, and the writer starts the WAL over once they are all copied.

The writer keeps an automatic checkpoint as a backstop, at `BACKSTOP_FACTOR` times the
threshold, for when this thread falls behind or cannot run (a long reader, a full disk).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Final

from sentineld.logs import get_logger

__all__ = ["BACKSTOP_FACTOR", "WalCheckpointer"]

log = get_logger("sentineld.store")

#: The writer's own automatic checkpoint runs at this many times the background threshold.
BACKSTOP_FACTOR: Final = 4


class WalCheckpointer:
    """Checkpoints the WAL of the database at `path` whenever it holds more than `threshold`
    bytes, looking every `interval` seconds (or at once after `nudge`)."""

    def __init__(self, path: Path, threshold: int, *, interval: float = 0.5) -> None:
        self.path = Path(path)
        self.wal_path = self.path.with_name(self.path.name + "-wal")
        self.threshold = threshold
        self.interval = interval
        #: Checkpoints run, and how many of them copied every frame back.
        self.checkpoints = 0
        self.completed = 0
        self.failures = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="sentineld-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def nudge(self) -> None:
        """Look at the WAL now rather than at the next interval."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread (a checkpoint under way finishes first) and close its connection."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _wal_size(self) -> int:
        try:
            return self.wal_path.stat().st_size
        except OSError:
            return 0

    def _run(self) -> None:
        db = sqlite3.connect(str(self.path), isolation_level=None, timeout=1.0)
        try:
            db.execute("PRAGMA cache_size=-256")  # reads frames, not pages: no cache to speak of
            while True:
                self._wake.wait(self.interval)
                self._wake.clear()
                if self._stopping:
                    return
                if self._wal_size() > self.threshold:
                    self._checkpoint(db)
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            self.failures += 1
            if str(exc) != self.last_error:
                log.warning("background WAL checkpoint failed; the writer's own checkpoint "
                            "stays as a backstop", path=str(self.path), error=str(exc))
            self.last_error = str(exc)
            return
        self.checkpoints += 1
        if not busy and frames >= 0 and copied == frames:
            self.completed += 1
        if self.last_error is not None:
            log.info("background WAL checkpoints work again", path=str(self.path))
            self.last_error = None
