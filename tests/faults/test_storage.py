"""storage trouble: a full disk, a locked database, a read-only state directory. Each gives a
clear error, corrupts nothing, and the daemon recovers once the cause is fixed."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from sentineld.config import load_config
from sentineld.pipeline import Pipeline
from sentineld.store import SQLiteStore, StoreError, open_store
from sentineld.store.worker import StoreWorker
from sentineld.testing import make_mention


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def test_disk_full_is_explained_and_nothing_half_written(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.ingest("s", [make_mention(id="t:0")], "c0")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    big = [make_mention("x" * 4000, id=f"t:{n}") for n in range(1, 50)]
    with pytest.raises(StoreError, match="disk holding .* is full"):
        store.ingest("s", big, "c1")
    assert store.cursor("s") == "c0" and store.mention("t:1") is None
    store.db.execute("PRAGMA max_page_count = 1073741823")
    assert len(store.ingest("s", big, "c1")) == 49
    store.close()
    assert integrity(tmp_path / "sentineld.sqlite3") == "ok"


async def test_pipeline_holds_mentions_while_the_disk_is_full_and_resumes(tmp_path: Path) -> None:
    config = load_config(text=f'[sentineld]\nstate_dir = "{tmp_path}"\n[watch]\nbrand = ["acme"]\n')
    store = open_store(tmp_path)
    worker = StoreWorker(store)
    pipeline = Pipeline(config, worker, live=False, notify=False, sources=[])
    await pipeline.start()
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    from sentineld.pipeline import _IngestBatch

    stored = asyncio.get_running_loop().create_future()
    batch = [make_mention("y" * 3000, id=f"t:{n}") for n in range(40)]
    await pipeline.ingest_queue.put(_IngestBatch("s", batch, "c", stored))
    await asyncio.sleep(1.2)
    assert not stored.done()  # held, not dropped
    store.db.execute("PRAGMA max_page_count = 1073741823")
    assert await asyncio.wait_for(stored, timeout=10) == 40
    await pipeline.stop()
    worker.close()
    assert integrity(tmp_path / "sentineld.sqlite3") == "ok"


def test_locked_database_is_explained_then_works(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    path = tmp_path / "sentineld.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    store = SQLiteStore(path, busy_timeout=0.2)
    with pytest.raises(StoreError, match="locked by another process"):
        store.ingest("s", [make_mention(id="t:1")], "c1")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    patient = SQLiteStore(path, busy_timeout=5)
    assert len(patient.ingest("s", [make_mention(id="t:1")], "c1")) == 1
    release.join()
    other.close()
    store.close()
    patient.close()
    assert integrity(path) == "ok"


def test_read_only_state_dir_gives_a_clear_error_then_recovers(tmp_path: Path, cli) -> None:
    """`chattr +i` makes the directory and the database read-only even for root."""
    state = tmp_path / "state"
    open_store(state).close()
    config = tmp_path / "sentineld.toml"
    config.write_text(f'[sentineld]\nstate_dir = "{state}"\n')
    frozen = [state, *state.iterdir()]
    if subprocess.run(["chattr", "+i", *map(str, frozen)], capture_output=True).returncode != 0:
        pytest.fail("chattr +i is needed to make a directory read-only for root (e2fsprogs, ext4)")
    try:
        failed = cli("alerts", "-c", str(config))
        assert failed.returncode == 1
        assert "read-only" in failed.stderr and "state directory" in failed.stderr
        assert "Traceback" not in failed.stderr
    finally:
        subprocess.run(["chattr", "-i", *map(str, frozen)], check=True)
    ok = cli("alerts", "-c", str(config))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "no alerts"
    assert integrity(state / "sentineld.sqlite3") == "ok"
