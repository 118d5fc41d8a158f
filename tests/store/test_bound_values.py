"""The store binds its JSON columns as bytearrays and None through a registered adapter (to skip
sqlite3's adapter lookups); what is stored must be what binding bytes and None stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
from sentineld.store import open_store
from sentineld.store.sql import BLOB_START, json_blob
from sentineld.testing import make_mention


def test_json_blob_holds_the_json_of_any_size() -> None:
    encode = msgspec.json.Encoder().encode
    for value in ({}, {"a": [1.5, None, "x"]}, {"long": "é" * (3 * BLOB_START)}):
        blob = json_blob(value)
        assert isinstance(blob, bytearray)
        assert bytes(blob) == encode(value)


def test_blobs_and_nulls_are_stored_as_when_bound_as_bytes_and_none(tmp_path: Path) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a, b)")
    db.execute("INSERT INTO t VALUES (?, ?)", (json_blob({"x": 1}), None))
    db.execute("INSERT INTO t VALUES (?, ?)", (b'{"x":1}', None))
    assert db.execute("SELECT typeof(a), a, typeof(b) FROM t").fetchall() == [("blob", b'{"x":1}', "null")] * 2

    store = open_store(tmp_path)
    mention = make_mention(id="t:1", text="a mention")
    mention.scores = {"sentiment": 0.25}
    store.save_scores(store.ingest("inbox", [mention], None))
    body, scored, body_type, scored_type = store.db.execute(
        "SELECT r.body, s.scored, typeof(r.body), typeof(s.scored) "
        "FROM mention_rows AS r JOIN mention_scores AS s USING (seq)"
    ).fetchone()
    assert (body_type, scored_type) == ("blob", "blob")
    assert body == msgspec.json.encode(mention)  # the bytes the store wrote before
    assert scored == b'{"scores":{"sentiment":0.25},"labels":{},"matches":[]}'
    store.close()
