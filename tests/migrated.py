"""Stores as an earlier version left them: for the tests that a migration keeps what was stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sentineld.store.migrations import MIGRATIONS
from sentineld.store.sqlite import DB_NAME


def store_before(directory: Path, migration: str) -> sqlite3.Connection:
    """A store in `directory` with every migration before `migration` applied (and recorded as
    applied), open for the test to fill; opening it with `SQLiteStore` then applies the rest."""
    db = sqlite3.connect(directory / DB_NAME, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    names = [name for name, _ in MIGRATIONS]
    for name, sql in MIGRATIONS[: names.index(migration)]:
        db.executescript(sql)
        db.execute("INSERT INTO migrations VALUES (?, 0)", (name,))
    return db
