"""The case step does not look up identity keys the store cannot hold (`HeldKeys`, the project's
Bloom filter of keys kept between batches, docs/decisions/0422): it must never say no to a key a row has, whoever
wrote the row, and must change nothing in the tables or the labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sentineld.store import crm, open_store
from sentineld.store.crm import CrmStoreMixin, HeldKeys
from tests.care.helpers import bluesky, email
from tests.care.test_case_batches import apply_in_batches, book, mixed_stream


def _without_filter(self: CrmStoreMixin, db: Any, *, read: bool) -> None:
    return None


@pytest.mark.parametrize("size", [1, 7, 64])
def test_the_filter_changes_no_row_and_no_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    stream = mixed_stream()
    filtered = apply_in_batches(tmp_path / "filtered", stream, size)
    with monkeypatch.context() as patch:
        patch.setattr(CrmStoreMixin, "_current_held_keys", _without_filter)
        looked_up = apply_in_batches(tmp_path / "looked-up", stream, size)
    assert filtered == looked_up
    assert len(filtered[1]["identities"]) > 20


def test_every_stored_key_is_held_and_few_others(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        folded = [(f"bluesky:did:plc:f{n}", "cu-1") for n in range(3000)]
        staged = [(f"bluesky:@s{n}.bsky.social", "cu-2") for n in range(3000)]
        for table, rows in (("identity_rows", folded), ("identities_recent", staged)):
            store.db.executemany(f"INSERT INTO {table} VALUES (?, ?, NULL, 'seen', 1)", rows)
        held = HeldKeys.read(store.db)
        stored = [key for key, _ in folded + staged]
        assert held.maybe_held(stored) == stored
        others = [f"mastodon:@o{n}.example" for n in range(20000)]
        assert len(held.maybe_held(others)) < len(others) * 0.02
        # What is held is looked up, what is not is known to be nobody's without a query.
        tables = crm.CrmTables(store.db, held)
        assert tables.customers_of([stored[0], stored[-1], others[0]]) == {stored[0]: "cu-1", stored[-1]: "cu-2"}
    finally:
        store.close()


def test_the_filter_is_read_once_and_grows_with_the_keys_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(HeldKeys, "LEAST_CAPACITY", 512)
    store = open_store(tmp_path)
    the_book = book()
    try:
        mentions = [
            bluesky(f"did:plc:g{who}", f"g{who}.bsky.social", "@acme.bsky.social hi", minutes=who)
            for who in range(400)
        ]
        store.ingest("test", mentions[:1], None)
        store.crm_apply(the_book, mentions[:1])
        held = store._held_keys
        assert held is not None
        first_size = held.filter.size
        for start in range(1, len(mentions), 50):
            batch = mentions[start : start + 50]
            store.ingest("test", batch, None)
            store.crm_apply(the_book, batch)
            assert store._held_keys is held  # brought up to date, never read again
        # Two keys per new customer: 800 keys, past the first layer's 512.
        assert held.filter.size > first_size
        written = [f"bluesky:did:plc:g{n}" for n in range(400)] + [f"bluesky:@g{n}.bsky.social" for n in range(400)]
        assert held.maybe_held(written) == written
    finally:
        store.close()


def _customer_of(store: Any, the_book: Any, mention: Any) -> str:
    """Store `mention`, run the case step on it, and return the customer it was given."""
    store.ingest("test", [mention], None)
    customer: str = store.crm_apply(the_book, [mention])[0]["customer"]
    return customer


def test_a_key_linked_by_another_process_is_looked_up(tmp_path: Path) -> None:
    """`sentineld link` writes from a connection of its own: the daemon's filter, read before,
    does not have the key, and is brought up to date because another connection committed."""
    daemon = open_store(tmp_path)
    the_book = book()
    try:
        customer = _customer_of(daemon, the_book, bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social where is my bag", minutes=0))
        cli = open_store(tmp_path)
        try:
            assert cli.crm_link(the_book, ["bluesky:@jo.bsky.social", "email:jo@example.com"], "cli") == customer
        finally:
            cli.close()
        assert _customer_of(daemon, the_book, email("jo@example.com", "Still waiting for the bag", minutes=1)) == customer
    finally:
        daemon.close()


def test_a_key_another_process_folded_is_looked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other process's link folds its staged keys into `identity_rows`: the daemon's filter
    adds the rows beyond the largest rowid it had seen, not only the staged ones."""
    daemon = open_store(tmp_path)
    the_book = book()
    try:
        customer = _customer_of(daemon, the_book, bluesky("did:plc:kim", "kim.bsky.social", "@acme.bsky.social my refund", minutes=0))
        cli = open_store(tmp_path)
        try:
            with monkeypatch.context() as patch:  # a fold at the link's flush
                patch.setattr(crm, "_FOLD_LEAST", 1)
                patch.setattr(crm, "_FOLD_FACTOR", 0)
                cli.crm_link(the_book, ["bluesky:@kim.bsky.social", "email:kim@example.com"], "cli")
            assert cli.db.execute("SELECT count(*) FROM identities_recent").fetchone()[0] == 0
        finally:
            cli.close()
        assert _customer_of(daemon, the_book, email("kim@example.com", "Any news on the refund?", minutes=1)) == customer
    finally:
        daemon.close()


def test_a_key_linked_by_the_daemon_itself_is_looked_up(tmp_path: Path) -> None:
    """A link on the daemon's own connection (the config's links) does not change what
    ``PRAGMA data_version`` says there: the key goes into the filter as it is written."""
    store = open_store(tmp_path)
    the_book = book()
    try:
        customer = _customer_of(store, the_book, bluesky("did:plc:al", "al.bsky.social", "@acme.bsky.social my seat", minutes=0))
        assert store.crm_link(the_book, ["bluesky:@al.bsky.social", "email:al@example.com"], "api") == customer
        assert _customer_of(store, the_book, email("al@example.com", "About my seat", minutes=1)) == customer
    finally:
        store.close()
