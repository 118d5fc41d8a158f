"""Scores live in a table of their own, appended; `mentions` reads as the table it replaced."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import msgspec
from sentineld.store import open_store
from sentineld.store import sqlite as store_sqlite
from sentineld.store.migrations import MIGRATIONS
from sentineld.testing import make_mention

SCORES_MIGRATION = "0010_mention_scores_appended"


def scored(mention_id: str, sentiment: float, label: str = "positive"):
    mention = make_mention(id=mention_id)
    mention.scores = {"sentiment": sentiment}
    mention.labels = {"sentiment": label}
    mention.matches = ["brand"]
    return mention


def test_scores_are_read_back_through_every_reader(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    fresh = store.ingest("inbox", [scored("t:1", 0.5), scored("t:2", -0.5, "negative")], None)
    store.save_scores(fresh)
    assert store.mention("t:2").scores == {"sentiment": -0.5}
    assert [m.labels for _, m in store.mentions_after(0, 10)] == [{"sentiment": "positive"}, {"sentiment": "negative"}]
    assert [m.matches for _, m in store.recent_mentions(limit=10)] == [["brand"], ["brand"]]
    # The rows themselves are appended once each, not written into the mentions' rows.
    assert store.db.execute("SELECT count(*) FROM mention_scores").fetchone()[0] == 2
    assert store.db.execute("SELECT count(*) FROM mention_rows WHERE scored IS NOT NULL").fetchone()[0] == 0
    store.close()


def test_plain_sql_on_mentions_reads_as_before(tmp_path: Path) -> None:
    """Anyone's SQL against the `mentions` table (tests, ad-hoc queries) keeps working."""
    store = open_store(tmp_path)
    fresh = store.ingest("inbox", [scored("t:1", 0.25), make_mention(id="t:2")], None)
    store.save_scores(fresh[:1])
    store.close()
    db = sqlite3.connect(tmp_path / store_sqlite.DB_NAME)
    rows = db.execute("SELECT seq, id, source_id, scored FROM mentions ORDER BY seq").fetchall()
    assert [(seq, ident, source) for seq, ident, source, _ in rows] == [(1, "t:1", "inbox"), (2, "t:2", "inbox")]
    assert json.loads(rows[0][3])["scores"] == {"sentiment": 0.25}
    assert rows[1][3] is None
    assert db.execute("SELECT count(*) FROM mentions WHERE scored IS NULL").fetchone()[0] == 1
    db.close()


def test_scores_saved_again_replace_the_first(tmp_path: Path) -> None:
    """After a restart the re-fed mentions are scored and saved again: the last one stands."""
    store = open_store(tmp_path)
    fresh = store.ingest("inbox", [scored("t:1", 0.5)], None)
    store.save_scores(fresh)
    fresh[0][1].scores = {"sentiment": 0.75}
    store.save_scores(fresh)
    assert store.mention("t:1").scores == {"sentiment": 0.75}
    assert store.db.execute("SELECT count(*) FROM mention_scores").fetchone()[0] == 1
    store.close()


def old_store(path: Path) -> sqlite3.Connection:
    """A store file as the version before the scores table left it."""
    db = sqlite3.connect(path / store_sqlite.DB_NAME, isolation_level=None)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, sql in MIGRATIONS:
        if name == SCORES_MIGRATION:
            break
        for statement in store_sqlite._statements(sql):
            db.execute(statement)
        db.execute("INSERT INTO migrations VALUES (?, 0)", (name,))
    return db


def test_scores_stored_before_the_upgrade_stay_readable(tmp_path: Path) -> None:
    """A store written by the previous version (scores in the mention's row) is upgraded in
    place: old scores read as they were, new ones go to the new table, and a re-scored old
    mention reads its new scores."""
    old = old_store(tmp_path)
    old.execute("INSERT INTO mentions VALUES (1, 't:1', 'test', 'inbox', 0, 'test:jo', ?, ?)", (
        msgspec.json.encode(make_mention(id="t:1")),
        msgspec.json.encode({"scores": {"sentiment": 0.5}, "labels": {"sentiment": "positive"}, "matches": ["brand"]}),
    ))
    old.close()

    store = open_store(tmp_path)
    assert SCORES_MIGRATION in {row[0] for row in store.db.execute("SELECT name FROM migrations")}
    assert store.mention("t:1").scores == {"sentiment": 0.5}
    fresh = store.ingest("inbox", [scored("t:2", -0.5)], None)
    assert [seq for seq, _ in fresh] == [2]
    store.save_scores(fresh)
    assert [m.scores for _, m in store.mentions_after(0, 10)] == [{"sentiment": 0.5}, {"sentiment": -0.5}]
    rescored = store.mentions_after(0, 1)
    rescored[0][1].scores = {"sentiment": 0.9}
    store.save_scores(rescored)
    assert store.mention("t:1").scores == {"sentiment": 0.9}
    assert store.count_mentions() == 2 and store.last_seq() == 2
    assert [m.id for _, m in store.recent_mentions(author_key="test:jo")] == ["t:2", "t:1"]
    store.close()
