"""New identities are staged in a small table and folded into the large one in key order
(docs/decisions/0421): where an identity sits must not change the rows the `identities` view
gives, the cases and labels the case step makes, or what a link from another process sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sentineld.store import crm, open_store
from sentineld.store.sqlite import DB_NAME, SQLiteStore
from tests.care.helpers import bluesky
from tests.care.test_case_batches import apply_in_batches, book, mixed_stream
from tests.migrated import store_before

STAGED = "0015_identities_staged"


def _fold(patch: pytest.MonkeyPatch, *, always: bool) -> None:
    """Fold at every flush that added an identity, or never."""
    patch.setattr(crm, "_FOLD_LEAST", 1 if always else 10**9)
    patch.setattr(crm, "_FOLD_FACTOR", 0)


def _placed(directory: Path) -> tuple[int, int]:
    store = open_store(directory)
    try:
        return tuple(store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                     for t in ("identity_rows", "identities_recent"))
    finally:
        store.close()


def _reads(directory: Path) -> dict[str, Any]:
    """What the CLI and the API read of each customer."""
    store = open_store(directory)
    try:
        keys = [row[0] for row in store.db.execute("SELECT key FROM identities")]
        customers = sorted({row[0] for row in store.db.execute("SELECT customer FROM identities")})
        return {
            "of": {key: store.customer_of(key) for key in keys},
            "identities": {c: store.customer_identities(c) for c in customers},
            "history": {c: [m.id for m in store.customer_history(c)] for c in customers},
        }
    finally:
        store.close()


@pytest.mark.parametrize("size", [1, 7, 64])
def test_folded_and_staged_identities_make_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    stream = mixed_stream()
    with monkeypatch.context() as patch:
        _fold(patch, always=True)
        folded = apply_in_batches(tmp_path / "folded", stream, size)
    with monkeypatch.context() as patch:
        _fold(patch, always=False)
        staged = apply_in_batches(tmp_path / "staged", stream, size)
    assert folded == staged
    rows = len(folded[1]["identities"])
    assert rows > 20
    assert _placed(tmp_path / "folded") == (rows, 0)
    assert _placed(tmp_path / "staged") == (0, rows)
    assert _reads(tmp_path / "folded") == _reads(tmp_path / "staged")


def test_a_fold_waits_for_enough_identities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crm, "_FOLD_LEAST", 4)
    monkeypatch.setattr(crm, "_FOLD_FACTOR", 0)
    store = open_store(tmp_path)
    the_book = book()
    try:
        for who in range(3):
            mention = bluesky(f"did:plc:f{who}", f"f{who}.bsky.social", "@acme.bsky.social hi", minutes=who)
            store.ingest("test", [mention], None)
            store.crm_apply(the_book, [mention])
            # Two identities (the DID and the handle) per new customer: 2, then 4 folded, then 2.
            placed = [store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("identity_rows", "identities_recent")]
            assert placed == [[0, 2], [4, 0], [4, 2]][who]
    finally:
        store.close()


def test_a_link_from_another_process_sees_and_merges_staged_identities(tmp_path: Path) -> None:
    daemon = open_store(tmp_path)
    the_book = book()
    try:
        first = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social one", minutes=0)
        second = bluesky("did:plc:jo2", "jo2.bsky.social", "@acme.bsky.social two", minutes=1)
        daemon.ingest("test", [first, second], None)
        labels = daemon.crm_apply(the_book, [first, second])
        assert labels[0]["customer"] != labels[1]["customer"]
        cli = open_store(tmp_path)  # `sentineld link` opens its own connection
        try:
            assert cli.customer_of("bluesky:@jo2.bsky.social") == labels[1]["customer"]
            customer = cli.crm_link(the_book, ["bluesky:@jo.bsky.social", "bluesky:@jo2.bsky.social"], "cli")
        finally:
            cli.close()
        assert customer == labels[0]["customer"]  # the older customer survives
        third = bluesky("did:plc:jo2", "jo2.bsky.social", "@acme.bsky.social three", minutes=2)
        daemon.ingest("test", [third], None)
        assert daemon.crm_apply(the_book, [third])[0]["customer"] == customer
        assert {row[0] for row in daemon.db.execute("SELECT customer FROM identities")} == {customer}
    finally:
        daemon.close()


def test_a_store_made_before_the_staging_keeps_its_identities(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    db = store_before(tmp_path, STAGED)
    before = [
        ("bluesky:@jo.bsky.social", "cu-1", None, "seen", 2),
        ("bluesky:did:plc:jo", "cu-1", "bluesky:did:plc:jo", "seen", 1),
        ("email:jo@example.com", "cu-1", None, "cli", 3),
    ]
    db.executemany("INSERT INTO customers VALUES (?, ?, ?)", [("cu-1", "Jo", 1)])
    db.executemany("INSERT INTO identities VALUES (?, ?, ?, ?, ?)", before)
    db.close()

    store = SQLiteStore(path)
    try:
        assert store.db.execute("SELECT * FROM identities ORDER BY key").fetchall() == before
        assert store.customer_identities("cu-1") == [(k, o) for k, _, _, o, _ in sorted(before, key=lambda r: r[4])]
        assert store.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # The old rows are found by the case step: Jo's DID joins customer cu-1.
        mention = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social hi", minutes=0)
        store.ingest("test", [mention], None)
        assert store.crm_apply(book(), [mention])[0]["customer"] == "cu-1"
    finally:
        store.close()


def test_a_batch_finds_its_keys_in_either_table(tmp_path: Path) -> None:
    """Both tables are probed with the batch's keys, also for a key SQLite's JSON cannot carry."""
    store = open_store(tmp_path)
    try:
        folded, staged = [("a\x00b", "cu-1"), ("x", "cu-3")], [("c", "cu-2"), ("d\x00", "cu-4")]
        for table, rows in (("identity_rows", folded), ("identities_recent", staged)):
            store.db.executemany(f"INSERT INTO {table} VALUES (?, ?, NULL, 'seen', 1)", rows)
        for keys in (["a\x00b", "c", "zz", "d\x00", "x"], ["x", "c", "zz"]):
            tables = crm.CrmTables(store.db)
            assert tables.customers_of(keys) == {k: c for k, c in folded + staged if k in keys}
    finally:
        store.close()
