"""WAL checkpoints run on a thread of their own, beside the store thread's commits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sentineld.store import open_store
from sentineld.store.sqlite import DB_NAME, PAGE_SIZE, WAL_CHECKPOINT_BYTES
from sentineld.store.wal import BACKSTOP_FACTOR, WalCheckpointer
from sentineld.store.worker import StoreWorker
from sentineld.testing import make_mention

THRESHOLD = 256 * 1024


def write_round(store, round_number: int, count: int = 300) -> None:
    mentions = [
        make_mention(id=f"t:{round_number}:{n}", text=f"round {round_number} mention {n} " * 8)
        for n in range(count)
    ]
    store.ingest("inbox", mentions, f"c{round_number}")


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_background_checkpoints_keep_the_wal_bounded_without_the_writer(tmp_path: Path) -> None:
    """The writer never checkpoints (autocheckpoint off): only the background thread copies
    frames back, and once it has copied them all the writer starts the WAL over."""
    store = open_store(tmp_path)
    store.set_wal_autocheckpoint(0)
    checkpointer = WalCheckpointer(store.path, THRESHOLD, interval=60)
    checkpointer.start()
    database = tmp_path / DB_NAME
    wal = checkpointer.wal_path
    try:
        sizes = []
        for round_number in range(12):
            write_round(store, round_number)
            sizes.append(wal.stat().st_size)
            done = checkpointer.completed
            checkpointer.nudge()
            assert wait_for(lambda: checkpointer.completed > done), checkpointer.last_error
        assert database.stat().st_size > 10 * PAGE_SIZE  # the pages reached the database file
        # Each later round fits in the WAL the first one left: it was started over each time
        # (without the thread it grows round after round: the next test).
        assert max(sizes) == sizes[0]
        assert store.mention("t:11:299") is not None
        assert checkpointer.failures == 0
    finally:
        checkpointer.stop()
        store.close()


def test_without_the_background_thread_the_wal_grows(tmp_path: Path) -> None:
    """The control for the test above: the same rounds, nobody checkpointing."""
    store = open_store(tmp_path)
    store.set_wal_autocheckpoint(0)
    wal = tmp_path / (DB_NAME + "-wal")
    sizes = []
    for round_number in range(12):
        write_round(store, round_number)
        sizes.append(wal.stat().st_size)
    assert sizes[-1] > 2 * sizes[0]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    store.close()


def test_small_wal_is_left_alone(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.set_wal_autocheckpoint(0)
    checkpointer = WalCheckpointer(store.path, 64 * 1024 * 1024, interval=60)
    checkpointer.start()
    try:
        write_round(store, 0, count=20)
        checkpointer.nudge()
        time.sleep(0.2)
        assert checkpointer.checkpoints == 0
    finally:
        checkpointer.stop()
        store.close()


def test_store_worker_checkpoints_in_the_background_and_stops_its_thread(tmp_path: Path) -> None:
    worker = StoreWorker(open_store(tmp_path))
    page_size = worker.store.db.execute("PRAGMA page_size").fetchone()[0]
    backstop = worker.store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] * page_size
    assert backstop == BACKSTOP_FACTOR * WAL_CHECKPOINT_BYTES
    assert worker.checkpointer.threshold == WAL_CHECKPOINT_BYTES
    assert any(t.name == "sentineld-wal-checkpoint" for t in threading.enumerate())
    worker.close()
    assert not any(t.name == "sentineld-wal-checkpoint" for t in threading.enumerate())
    # The last connection to close checkpointed and removed the WAL: a clean shutdown.
    assert not (tmp_path / (DB_NAME + "-wal")).exists()
