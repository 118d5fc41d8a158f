"""`select_each` (keys bound as one JSON array and joined) finds what `select_in` (keys bound one
by one in an IN list) finds, and with an ORDER BY in the same order: the registry admits the
author rows it loads in that order."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from sentineld.store import open_store
from sentineld.store.sql import IN_CHUNK, select_each, select_in
from sentineld.testing import make_mention

KEYS = ["bluesky:did:plc:" + format(random.Random(n).getrandbits(48), "x") for n in range(3 * IN_CHUNK)] + [
    'rss:"quoted"', "mastodon:@é@ex.example", "x:back\\slash", "x:new\nline", "x:nul\x00byte", "x:😀",
]


def test_the_same_rows_in_the_same_order_across_chunks() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (key TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(key, n) for n, key in enumerate(KEYS) if n % 3])
    wanted = KEYS[::-1] + KEYS[:50] + ["absent", "other:absent"]  # repeated and unknown keys too
    old = list(select_in(db, "SELECT key, n FROM t WHERE key IN ({marks})", wanted))
    new = list(select_each(db, "SELECT t.key, t.n FROM {values} AS v JOIN t ON t.key = v.value "
                               "ORDER BY t.key", wanted))
    assert len(new) == len([n for n in range(len(KEYS)) if n % 3])
    assert new == old
    assert list(select_each(db, "SELECT t.key FROM {values} AS v JOIN t ON t.key = v.value", [])) == []


def test_load_authors_answers_as_before(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    posts = [make_mention(id=f"t:{n}", source="bluesky", author=key.partition(":")[2]) for n, key in enumerate(KEYS[:40])]
    store.ingest("inbox", posts, None)
    rows = [(key, "bluesky", None, "n", 1, 2, 3, None, 10, 20, 1, 1, 0, 0.5, 1, None, 0.25, None, 0.0, 0.0, 0.0, 0, 0)
            for key in KEYS[::2]]
    store.save_authors(rows, 7, b"state")
    keys = KEYS[::-3]
    post_ids = [f"t:{n}" for n in range(0, 40, 3)] + ["t:none"]
    found, post_authors = store.load_authors(keys, post_ids)
    author_keys = {m.id: m.author_key for m in posts}
    assert post_authors == {post: author_keys[post] for post in sorted(post_ids) if post in author_keys}
    stored = {row[0]: row for row in rows}
    wanted = list(dict.fromkeys([*keys, *post_authors.values()]))
    # Each chunk's rows in key order, as the IN (...) query gave them.
    expected = [stored[key] for start in range(0, len(wanted), IN_CHUNK)
                for key in sorted(wanted[start : start + IN_CHUNK]) if key in stored]
    assert found == expected
    store.close()


def test_each_lookup_probes_the_key_index_once_per_value(tmp_path: Path) -> None:
    """The joins scan the bound values and search the table's key for each: a plan that scanned
    the table instead would read every row for every batch."""
    from sentineld.store import crm, sqlite as store_sqlite

    store = open_store(tmp_path)
    queries = [crm._CASE_MENTIONS_EACH, crm._CASES_EACH, crm._MENTIONS_EACH, crm._IDENTITIES_EACH,
               store_sqlite._POST_AUTHORS_EACH, store_sqlite._AUTHORS_EACH]
    for query in queries:
        plan = [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + query.format(values="json_each(?)"),
                                                   ('["k"]',))]
        # A compound query (the identities' two tables, decision 0421) has a scan and a search
        # per part; every scan is of the bound values, and each is followed by a key search.
        steps = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
        assert steps and len(steps) % 2 == 0, (query, plan)
        for scan, search in zip(steps[0::2], steps[1::2], strict=True):
            assert scan.startswith(("SCAN v ", "SCAN json_each ")), (query, plan)
            assert search.startswith("SEARCH ") and ("PRIMARY KEY" in search or "autoindex" in search), (query, plan)
    store.close()
