"""A case stored before is brought up to date without moving its index entries when its indexed
columns (customer, state, SLA due time) stay as they were (docs/decisions/0420): the rows, the
indexes and what the listings read must be those of rewriting the whole row."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentineld.store import open_store
from sentineld.store.crm import CrmTables
from tests.care.helpers import bluesky
from tests.care.test_case_batches import apply_in_batches, book, mixed_stream


def _rewrite_every_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """The way before 0420: every changed case through the full upsert."""
    flush = CrmTables._flush_cases

    def forgetting(self: CrmTables) -> None:
        self._stored.clear()
        flush(self)

    monkeypatch.setattr(CrmTables, "_flush_cases", forgetting)


@pytest.mark.parametrize("size", [1, 7, 64])
def test_cases_kept_in_place_are_the_rows_of_a_full_rewrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    stream = mixed_stream()
    in_place = apply_in_batches(tmp_path / "in_place", stream, size)
    with monkeypatch.context() as patch:
        _rewrite_every_case(patch)
        rewritten = apply_in_batches(tmp_path / "rewritten", stream, size)
    assert in_place == rewritten
    store = open_store(tmp_path / "in_place")
    try:
        assert store.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        by_state = {state: [c.id for c in store.cases(state=state)] for state in ("open", "all", "new", "responded")}
        customers = {row[0] for row in store.db.execute("SELECT customer FROM cases")}
        by_customer = {c: [case.id for case in store.cases(state="all", customer=c)] for c in customers}
    finally:
        store.close()
    store = open_store(tmp_path / "rewritten")
    try:
        assert by_state == {state: [c.id for c in store.cases(state=state)] for state in by_state}
        assert by_customer == {c: [case.id for case in store.cases(state="all", customer=c)] for c in customers}
    finally:
        store.close()


def test_a_case_whose_indexed_columns_stay_is_updated_without_them(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    the_book = book()
    statements: list[str] = []
    try:
        first = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social one", minutes=0)
        store.ingest("test", [first], None)
        store.crm_apply(the_book, [first])
        store.db.set_trace_callback(statements.append)
        other = bluesky("did:plc:al", "al.bsky.social", "@acme.bsky.social hi", minutes=1)
        store.ingest("test", [other], None)
        store.crm_apply(the_book, [other])
        opened = [s for s in statements if s.startswith(("UPDATE cases", "INSERT INTO cases"))]
        statements.clear()
        again = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social two", minutes=3)
        store.ingest("test", [again], None)
        store.crm_apply(the_book, [again])
        kept = [s for s in statements if s.startswith(("UPDATE cases", "INSERT INTO cases"))]
        statements.clear()
        answer = bluesky("did:plc:acme", "acme.bsky.social", "on it", minutes=9, reply_to=again.id)
        store.ingest("test", [answer], None)
        store.crm_apply(the_book, [answer])
        moved = [s for s in statements if s.startswith(("UPDATE cases", "INSERT INTO cases"))]
        store.db.set_trace_callback(None)
        [case] = store.cases(state="responded")
        assert [c.customer_name for c in store.cases(state="new")] == ["al.bsky.social"]
        assert store.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        store.close()
    assert len(kept) == 1 and kept[0].startswith("UPDATE cases SET severity")
    # Found by the rowid read with it, not through the index of case ids (docs/decisions/0423).
    assert " WHERE rowid = " in kept[0]
    # A new case is inserted without the upsert's update (docs/decisions/0025) ...
    assert len(opened) == 1 and opened[0].startswith("INSERT INTO cases") and opened[0].endswith("DO NOTHING")
    # ... and one whose state changed is rewritten in full, also by its rowid.
    assert len(moved) == 1 and moved[0].startswith("UPDATE cases SET customer")
    assert " WHERE rowid = " in moved[0]
    assert case.updated_at == answer.timestamp and case.first_response_at == answer.timestamp
    assert case.mentions == 3
