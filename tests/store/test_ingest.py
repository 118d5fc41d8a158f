"""Ingest of a group of batches: inserted at once, looked up only when an id is stored already."""

from __future__ import annotations

from pathlib import Path

from sentineld.store import open_store
from sentineld.testing import make_mention


def test_group_with_a_stored_mention_is_numbered_without_it(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.ingest("a", [make_mention(id="t:1"), make_mention(id="t:2")], "a1")
    per_batch = store.ingest_many([
        ("a", [make_mention(id="t:3"), make_mention(id="t:2")], "a2"),
        ("b", [make_mention(id="t:3"), make_mention(id="t:4")], "b1"),
    ])
    assert [[(seq, m.id) for seq, m in fresh] for fresh in per_batch] == [[(3, "t:3")], [(4, "t:4")]]
    assert (store.cursor("a"), store.cursor("b")) == ("a2", "b1")
    assert [m.id for _, m in store.mentions_after(0, 10)] == ["t:1", "t:2", "t:3", "t:4"]
    # Numbering goes on from the stored mentions, not from the refused first attempt.
    assert store.ingest("a", [make_mention(id="t:5")], None) == [(5, store.mention("t:5"))]
    store.close()


def test_group_of_new_mentions_keeps_the_last_cursor_of_each_source(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    per_batch = store.ingest_many([
        ("a", [make_mention(id="t:1")], "a1"),
        ("a", [make_mention(id="t:2"), make_mention(id="t:2")], "a2"),
        ("a", [], None),
    ])
    assert [[seq for seq, _ in fresh] for fresh in per_batch] == [[1], [2], []]
    assert store.cursor("a") == "a2"
    store.close()
