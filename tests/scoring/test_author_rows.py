"""Stored author rows leave out what the row implies; the `authors` view gives every value back,
as the table did before migration 0014 (docs/decisions/0133-narrower-author-rows.md)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sentineld.authors import NO_MASS, RECORD_FIELDS, AuthorRecord, micros
from sentineld.store import SQLiteStore, open_store
from sentineld.store.sqlite import DB_NAME, AUTHOR_COLUMNS
from tests.migrated import store_before

NARROW = "0014_authors_narrower_rows"


def records() -> list[AuthorRecord]:
    """Authors covering every value that may or may not be left out of a stored row."""

    def make(key: str, source: str, **fields: Any) -> AuthorRecord:
        return AuthorRecord(key, source, fields.pop("first", 1_700_000_000.25), fields.pop("last", 1_700_000_500.5),
                            **fields)

    return [
        # the source in the key; last seen after first; audience = maven mass; influence = max
        make("bluesky:did:plc:7", "bluesky", handle="seven.example", name="Seven", followers=1200, following=340,
             posts=5600, created=1_600_000_000.75, mentions=9, on_topic=7, engaged=4, sentiment_sum=-1.5,
             sentiment_n=3, maven_mass=12.5, reach=3.25, audience_mass=12.5, connector=0.8, maven=0.6,
             influence=0.8, watchlist=True),
        # seen once; the audience counted an older mass; influence from another scorer
        make("mastodon:1", "mastodon", first=5.0, last=5.0, maven_mass=13.0, audience_mass=12.0, connector=0.25,
             maven=0.5, influence=0.1),
        # a source that is not the key's prefix, one with a colon, a key without one
        make("other:9", "feed", maven_mass=1.0, audience_mass=None, own=True),
        make("a:b:c", "a:b", mentions=2),
        make("nocolon", "", mentions=1),
        make("x:é:ü", "x", first=7.0, last=7.0, handle="ü", maven_mass=-3.5, audience_mass=-3.5, connector=0.0, maven=0.0, influence=0.0),
        # never posted on topic: no maven mass, no audience mass
        make("reddit:t2_q", "reddit", first=1.5e9, last=1.5e9 + 1e-6, maven=0.75, connector=0.75, influence=0.75),
        # connector and maven equal; an influence of 0 although they are not
        make("bluesky:eq", "bluesky", connector=0.5, maven=0.5, influence=0.5, maven_mass=2.0, audience_mass=2.0),
        make("bluesky:zero", "bluesky", connector=0.5, maven=0.25, influence=0.0),
    ]


def full_row(record: AuthorRecord) -> tuple[Any, ...]:
    """The row the `authors` table held for a record before migration 0014: every value."""
    return (
        record.key, record.source, record.handle, record.name, record.followers, record.following, record.posts,
        None if record.created is None else micros(record.created), micros(record.first_seen),
        micros(record.last_seen), record.mentions, record.on_topic, record.engaged, record.sentiment_sum,
        record.sentiment_n, None if record.maven_mass == NO_MASS else record.maven_mass, record.reach,
        record.audience_mass, record.connector, record.maven, record.influence, int(record.watchlist),
        int(record.own),
    )  # fmt: skip


def fields(record: AuthorRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in RECORD_FIELDS if name not in ("dirty", "checked_handle")}


def view_rows(db: sqlite3.Connection) -> list[str]:
    return [repr(row) for row in db.execute("SELECT * FROM authors ORDER BY key")]


def test_the_view_gives_every_value_of_the_rows_stored(tmp_path: Path) -> None:
    authors = records()
    store = open_store(tmp_path)
    try:
        store.save_authors(sorted((record.to_row() for record in authors), key=lambda row: row[0]), 1, b"")
        assert view_rows(store.db) == [repr(full_row(record)) for record in sorted(authors, key=lambda r: r.key)]
        columns = [row[1] for row in store.db.execute("PRAGMA table_info(authors)")]
        assert tuple(columns) == AUTHOR_COLUMNS
        stored, _ = store.load_authors([record.key for record in authors])
        back = {row[0]: AuthorRecord.from_row(row) for row in stored}
        assert {key: fields(record) for key, record in back.items()} == {r.key: fields(r) for r in authors}
        ranked = store.rank_authors("maven_mass", limit=50, include_own=True)
        assert [fields(AuthorRecord.from_row(row)) for row in ranked] == [
            fields(back[row[0]]) for row in ranked
        ]
        assert {row[0] for row in ranked} == {r.key for r in authors if r.maven_mass != NO_MASS}
        left_out = store.db.execute(
            "SELECT count(*) FROM author_rows WHERE source IS NULL AND last_seen_us IS NULL "
            "AND typeof(audience_mass) = 'text' AND influence IS NULL"
        ).fetchone()[0]
    finally:
        store.close()
    assert left_out == 1, "the first-seen author whose row implies all four values"


def test_the_migration_keeps_every_value_of_the_authors_table(tmp_path: Path) -> None:
    """A store made before migration 0014, with the old `authors` table, reads the same
    values through the view once migrated, and the registry reads the same records."""
    path = tmp_path / DB_NAME
    db = store_before(tmp_path, NARROW)
    authors = sorted(records(), key=lambda record: record.key)
    db.executemany(f"INSERT INTO authors VALUES ({','.join('?' * len(AUTHOR_COLUMNS))})",
                   [full_row(record) for record in authors])
    before = view_rows(db)
    watchlisted = db.execute("SELECT key FROM authors WHERE watchlist = 1").fetchall()
    db.close()

    store = SQLiteStore(path)
    try:
        assert view_rows(store.db) == before
        assert store.db.execute("SELECT key FROM authors WHERE watchlist = 1").fetchall() == watchlisted
        stored, _ = store.load_authors([record.key for record in authors])
        assert [fields(AuthorRecord.from_row(row)) for row in stored] == [fields(r) for r in authors]
        # A row as the migration left it and as the registry writes it are the same row.
        assert stored == [record.to_row() for record in authors]
    finally:
        store.close()
