"""The SQLite store: WAL, migrations, idempotent ingest with the cursor in the same transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sentineld.store import StoreError, open_store
from sentineld.store.migrations import MIGRATIONS
from sentineld.testing import make_alert, make_mention


def test_wal_and_migrations_applied_once(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [row[0] for row in store.db.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == sorted(name for name, _ in MIGRATIONS)
    store.close()
    again = open_store(tmp_path)
    assert again.migrate() == []
    again.close()


def test_ingest_is_idempotent_by_id_and_stores_cursor(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    first = [make_mention(id="t:1"), make_mention(id="t:2")]
    fresh = store.ingest("inbox", first, "cursor-2")
    assert [seq for seq, _ in fresh] == [1, 2]
    again = store.ingest("inbox", [make_mention(id="t:2"), make_mention(id="t:3"), make_mention(id="t:3")], "cursor-3")
    assert [(seq, m.id) for seq, m in again] == [(3, "t:3")]
    assert store.cursor("inbox") == "cursor-3"
    assert store.count_mentions() == 3
    store.close()
    reopened = open_store(tmp_path)
    assert [m.id for _, m in reopened.mentions_after(1, 10)] == ["t:2", "t:3"]
    assert reopened.ingest("inbox", [make_mention(id="t:4")], None)[0][0] == 4
    reopened.close()


def test_failed_transaction_stores_neither_mentions_nor_cursor(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.ingest("inbox", [make_mention(id="t:1")], "c1")
    store.db.execute("CREATE TRIGGER boom BEFORE INSERT ON cursors BEGIN SELECT RAISE(ABORT, 'boom'); END")
    store.db.execute("CREATE TRIGGER boom2 BEFORE UPDATE ON cursors BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(StoreError, match="boom"):
        store.ingest("inbox", [make_mention(id="t:2")], "c2")
    assert store.cursor("inbox") == "c1"
    assert store.mention("t:2") is None
    store.close()


def test_alert_and_its_deliveries_in_one_transaction(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    alert = make_alert(id="a1")
    store.record_alert(alert, [("screen", "a1:opened:screen", b"{}")])
    store.record_alert(alert, [("screen", "a1:opened:screen", b"{}")])  # re-derived after a crash
    assert [item.key for item in store.outbox()] == ["a1:opened:screen"]
    assert [a.id for a in store.alerts(open_only=True)] == ["a1"]
    item = store.outbox_next("screen")
    store.outbox_failed(item.seq, "down", 0.0, dead=True)
    assert store.outbox_next("screen") is None
    assert store.outbox_retry(item.seq) and store.outbox_next("screen").seq == item.seq
    store.close()


def test_read_only_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.close()
    path = tmp_path / "sentineld.sqlite3"
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    ro.close()
    (tmp_path / "blocked").write_text("a file where a directory is expected")
    with pytest.raises(StoreError, match="cannot create state directory"):
        open_store(tmp_path / "blocked" / "state")


def test_a_lock_file_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    from sentineld.store.sqlite import LOCK_NAME, lock_state_dir

    (tmp_path / LOCK_NAME).mkdir()  # something in the lock file's place
    with pytest.raises(StoreError, match=f"cannot use state directory {tmp_path}: its lock file {LOCK_NAME}: Is a directory"):
        lock_state_dir(tmp_path)


def test_a_new_state_directory_is_private(tmp_path: Path) -> None:
    """It was made with the umask (0755 here), and the store in it 0644: what customers wrote,
    their e-mail addresses and handles, readable by every local user outside systemd."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        open_store(tmp_path / "state").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
