"""`insert_rows` (many rows per INSERT statement) leaves the tables as `executemany` (one row per
statement) does: the same rows, rowids, upserts and conflicts, whatever the number of rows
against a statement's capacity."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sentineld.store import open_store
from sentineld.store.sql import MAX_VARIABLES, _many_rows, insert_rows
from sentineld.testing import make_mention

SCHEMA = """
CREATE TABLE t (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, n INTEGER, body BLOB);
CREATE INDEX t_n ON t (n);
"""
UPSERT = "INSERT INTO t (key, n, body) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET n = excluded.n + t.n"
PER = MAX_VARIABLES // 3


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    return db


def _rows(count: int) -> list[tuple[object, ...]]:
    # Keys repeat (an upsert of a row inserted earlier in the same statement) and values vary in type.
    return [(f"k{n % (count // 2 + 1)}", n if n % 5 else None, bytearray(b"x" * (n % 7)) if n % 3 else "text")
            for n in range(count)]


@pytest.mark.parametrize("count", [0, 1, PER - 1, PER, PER + 1, 3 * PER + 5])
def test_the_same_table_as_executemany(count: int) -> None:
    old, new = _db(), _db()
    rows = _rows(count)
    old.executemany(UPSERT, rows)
    insert_rows(new, UPSERT, rows)
    dump = "SELECT seq, key, n, typeof(n), body, typeof(body) FROM t ORDER BY seq"
    assert list(new.execute(dump)) == list(old.execute(dump))
    assert list(new.execute("SELECT n, seq FROM t INDEXED BY t_n ORDER BY n, seq")) == list(
        old.execute("SELECT n, seq FROM t INDEXED BY t_n ORDER BY n, seq"))


def test_a_conflict_is_refused_as_by_executemany() -> None:
    db = _db()
    plain = "INSERT INTO t (key, n) VALUES (?, ?)"
    rows = [(f"k{n}", n) for n in range(2 * PER)]
    rows[10] = ("k3", 0)  # refused within the first statement of many rows
    db.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError):
        insert_rows(db, plain, rows)
    db.execute("ROLLBACK")
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_a_refused_row_leaves_the_rows_before_it_as_executemany_does() -> None:
    """Inside a transaction that goes on: the rows before the refused one stay, those after it
    are not inserted, whichever statement of many rows the refused one is in."""
    plain = "INSERT INTO t (key, n) VALUES (?, ?)"
    for refused in (10, PER + 10):
        old, new = _db(), _db()
        rows = [(f"k{n}", n) for n in range(2 * PER + 5)]
        rows[refused] = ("k3", 0)
        for db, insert in ((old, old.executemany), (new, lambda sql, rows, db=new: insert_rows(db, sql, rows))):
            db.execute("BEGIN")
            with pytest.raises(sqlite3.IntegrityError):
                insert(plain, rows)
            db.execute("COMMIT")
        dump = "SELECT seq, key, n FROM t ORDER BY seq"
        assert list(new.execute(dump)) == list(old.execute(dump))
        assert new.execute("SELECT count(*) FROM t").fetchone() == (refused,)


@pytest.mark.skipif(not Path("/proc/thread-self/io").exists(), reason="needs Linux's per-thread I/O counters")
def test_many_rows_are_inserted_without_a_statement_journal(tmp_path: Path) -> None:
    """A plain insert of many rows writes nothing before the commit: no copy of the pages it
    changes goes to a statement journal (a temporary file past 64 KiB)."""
    db = sqlite3.connect(tmp_path / "t.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA cache_size=-65536")
    db.executescript(SCHEMA)
    insert = "INSERT INTO t (key, n, body) VALUES (?, ?, ?)"
    insert_rows(db, insert, [(f"k{n}", n * 7919 % 20_000, None) for n in range(20_000)])
    db.execute("BEGIN IMMEDIATE")
    before = _bytes_written()
    insert_rows(db, insert, [(f"j{n}", n * 104_729 % 20_000, b"x" * 100) for n in range(3 * PER)])
    during = _bytes_written() - before
    db.execute("COMMIT")
    assert during < 4096
    assert _bytes_written() - before > 3 * PER * 100  # the commit writes the rows


def _bytes_written() -> int:
    with open("/proc/thread-self/io", "rb") as counters:
        return next(int(line.split()[1]) for line in counters if line.startswith(b"wchar:"))


def test_only_an_insert_of_one_row_of_values_is_rewritten() -> None:
    many, per = _many_rows(UPSERT)
    assert per == PER and many.count("(?, ?, ?)") == PER and many.endswith("DO UPDATE SET n = excluded.n + t.n")
    assert many.startswith("INSERT OR FAIL INTO t ")
    replace = "INSERT OR REPLACE INTO t (key, n) VALUES (?, ?)"
    assert _many_rows(replace)[0].startswith("INSERT OR REPLACE INTO t ")
    update = "UPDATE t SET n = ? WHERE key = ?"
    assert _many_rows(update) == (update, 1)
    db = _db()
    insert_rows(db, "INSERT INTO t (key, n) VALUES (?, ?)", [("a", 1), ("b", 2)])
    insert_rows(db, update, [(5, "a"), (6, "b")])
    assert list(db.execute("SELECT key, n FROM t ORDER BY key")) == [("a", 5), ("b", 6)]


def test_a_group_with_a_stored_mention_is_numbered_again(tmp_path: Path) -> None:
    """The ingest's insert of a whole group fails on a mention stored before (in a statement of
    many rows) and the group is inserted again without it, as with one row per statement."""
    store = open_store(tmp_path)
    store.ingest("inbox", [make_mention(id="m:150")], None)
    fresh = store.ingest("inbox", [make_mention(id=f"m:{n}") for n in range(400)], "c")
    assert [m.id for _, m in fresh] == [f"m:{n}" for n in range(400) if n != 150]
    assert [seq for seq, _ in fresh] == list(range(2, 401))
    assert store.count_mentions() == 400


def test_a_row_too_wide_for_two_per_statement_is_inserted_one_by_one() -> None:
    columns = MAX_VARIABLES // 2 + 1
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute(f"CREATE TABLE wide ({', '.join(f'c{n}' for n in range(columns))})")
    sql = f"INSERT INTO wide VALUES ({', '.join('?' * columns)})"
    assert _many_rows(sql) == (sql, 1)
    insert_rows(db, sql, [tuple(range(row, row + columns)) for row in range(3)])
    assert [row[0] for row in db.execute("SELECT c0 FROM wide ORDER BY rowid")] == [0, 1, 2]
