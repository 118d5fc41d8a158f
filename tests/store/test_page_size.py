"""A new store is made with 16 KiB pages; a store made with other pages keeps them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sentineld.store import open_store
from sentineld.store.sqlite import DB_NAME, PAGE_SIZE, WAL_CHECKPOINT_BYTES
from sentineld.testing import make_mention


def pragma(store, name: str) -> int:
    return store.db.execute(f"PRAGMA {name}").fetchone()[0]


def test_new_store_has_large_pages_and_checkpoints_by_bytes(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert pragma(store, "page_size") == PAGE_SIZE == 16384
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "wal_autocheckpoint") * PAGE_SIZE == WAL_CHECKPOINT_BYTES
    store.close()


def test_existing_store_keeps_its_pages(tmp_path: Path) -> None:
    """A store made by an earlier version (4 KiB pages, already in WAL mode) opens as it is:
    SQLite cannot change the page size of a WAL database, and nothing is rewritten."""
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA page_size=4096")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE early (x)")
    db.close()
    store = open_store(tmp_path)
    assert pragma(store, "page_size") == 4096
    assert pragma(store, "wal_autocheckpoint") * 4096 == WAL_CHECKPOINT_BYTES
    store.ingest("inbox", [make_mention(id="t:1")], "c1")
    store.close()
    again = open_store(tmp_path)
    assert again.mention("t:1") is not None and again.cursor("inbox") == "c1"
    again.close()
