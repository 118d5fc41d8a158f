"""Mentions carry no index led by the author: queries by author scan the time index instead."""

from __future__ import annotations

from pathlib import Path

from sentineld.store import open_store
from sentineld.testing import make_mention


def test_mentions_by_author_newest_first_and_paged(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    mentions = [make_mention(id=f"t:{i}", author="jo" if i % 3 == 0 else f"other{i}", minutes=i) for i in range(30)]
    store.ingest("inbox", mentions, None)
    page = store.recent_mentions(author_key="test:jo", limit=4)
    assert [m.id for _, m in page] == ["t:27", "t:24", "t:21", "t:18"]
    older = store.recent_mentions(author_key="test:jo", limit=4, before_seq=page[-1][0])
    assert [m.id for _, m in older] == ["t:15", "t:12", "t:9", "t:6"]
    assert store.recent_mentions(author_key="test:nobody") == []
    assert [m.id for _, m in store.recent_mentions(author_key="test:jo", source="elsewhere")] == []
    store.close()


def test_no_index_leads_by_author(tmp_path: Path) -> None:
    """Each index on the mentions is a write per mention: only the id (deduplication) and the
    time (with the author key, which the queries by author scan) are kept."""
    store = open_store(tmp_path)
    indexes = {
        row[0]: [col[2] for col in store.db.execute(f"PRAGMA index_info({row[0]})")]
        for row in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mention_rows'")
    }
    assert sorted(indexes.values()) == [["created_us", "author_key"], ["id"]]
    plan = " ".join(row[3] for row in store.db.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM mention_rows INDEXED BY mentions_created_author WHERE author_key = ?",
        ("x",),
    ))
    assert "COVERING INDEX mentions_created_author" in plan
    store.close()
