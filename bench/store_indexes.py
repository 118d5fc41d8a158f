"""What the mentions' indexes cost as the table grows: the same rows stored under several index
layouts, in one run, on SQLite files set up as the store sets them up.

    .venv/bin/python bench/store_indexes.py [--rows 1000000] [--authors 200000] [--random-ids]
        [--page-size 16384]

Each layout stores ``--rows`` mentions (bodies of bench/throughput.py's size, one author of
``--authors`` each, ids ``bench:N`` as the throughput bench makes them, or random ones like
Bluesky's ``at://did:…`` URIs with ``--random-ids``) in groups of 4,096 (the ingest stage's
group commit), each group followed by its scores (appended) and its authors (upserted), as the
store writes them. Printed: CPU µs per row over the whole run and over its last fifth (the
marginal cost at that size), then the time of a query by author (newest 50 of one author).
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentineld.store.sqlite import CACHE_KIB, PAGE_SIZE, WAL_CHECKPOINT_BYTES  # noqa: E402

GROUP = 4096
TABLES = [
    "CREATE TABLE mention_rows (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL, "
    "source_id TEXT NOT NULL, created_us INTEGER NOT NULL, author_key TEXT, body BLOB NOT NULL, scored BLOB)",
    "CREATE TABLE mention_scores (seq INTEGER PRIMARY KEY, scored BLOB NOT NULL)",
    "CREATE TABLE authors (key TEXT PRIMARY KEY, source, handle, followers, first_seen_us, last_seen_us, "
    "mentions, connector, maven, influence) WITHOUT ROWID",
]
LAYOUTS = {
    "author index (before 0011)": (
        ["CREATE INDEX mentions_created ON mention_rows (created_us)",
         "CREATE INDEX mentions_author ON mention_rows (author_key)"],
        "SELECT seq, body FROM mention_rows WHERE author_key = ? ORDER BY seq DESC LIMIT 50",
    ),
    "time index carries the author": (
        ["CREATE INDEX mentions_created_author ON mention_rows (created_us, author_key)"],
        "SELECT seq, body FROM mention_rows WHERE seq IN (SELECT rowid FROM mention_rows "
        "INDEXED BY mentions_created_author WHERE author_key = ?) ORDER BY seq DESC LIMIT 50",
    ),
}
BODY = b'{"id":"bench:1","source":"bluesky","created_at":"2026-11-01T00:00:00.05Z","text":"' + b"x" * 300 + b'"}'
SCORED = b'{"scores":{"sentiment":-0.9485,"connector":1.0,"maven":0.5522931863212409,"influence":1.0,' \
         b'"virality":0.4138539562080702},"labels":{"sentiment":"negative"},"matches":["brand"]}'


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(name: str, indexes: list[str], query: str, args: argparse.Namespace) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as scratch:
        db = sqlite3.connect(Path(scratch) / "bench.sqlite3", isolation_level=None)
        for pragma in (f"page_size={args.page_size}", "journal_mode=WAL", "synchronous=NORMAL",
                       f"cache_size=-{CACHE_KIB}", f"wal_autocheckpoint={WAL_CHECKPOINT_BYTES // args.page_size}"):
            db.execute(f"PRAGMA {pragma}")
        for statement in TABLES + indexes:
            db.execute(statement)
        spent, tail_from, tail = 0.0, args.rows * 4 // 5, 0.0
        seq = 0
        while seq < args.rows:
            rows, scores, authors = [], [], []
            for _ in range(GROUP):
                seq += 1
                author = f"bluesky:did:plc:{rng.randrange(args.authors)}"
                ident = f"at://did:plc:{rng.getrandbits(60):x}/post/{seq}" if args.random_ids else f"bench:{seq}"
                rows.append((seq, ident, "bluesky", "replay", seq * 50_000, author, BODY))
                scores.append((seq, SCORED))
                authors.append((author, "bluesky", "someone.example", 120, seq * 50_000, seq * 50_000, 1, 0.5, 0.25, 0.5))
            started = cpu()
            for sql, values in (
                ("INSERT INTO mention_rows VALUES (?, ?, ?, ?, ?, ?, ?, NULL)", rows),
                ("INSERT INTO mention_scores VALUES (?, ?)", scores),
                ("INSERT OR REPLACE INTO authors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", authors),
            ):
                db.execute("BEGIN IMMEDIATE")
                db.executemany(sql, values)
                db.execute("COMMIT")
            used = cpu() - started
            spent += used
            if seq > tail_from:
                tail += used
        started = time.perf_counter()
        found = db.execute(query, (f"bluesky:did:plc:{args.authors // 2}",)).fetchall()
        query_ms = (time.perf_counter() - started) * 1000
        db.close()
    print(f"{name:<32} {spent / seq * 1e6:6.1f} µs/row overall, {tail / (seq - tail_from) * 1e6:6.1f} "
          f"in the last fifth; by author: {query_ms:6.1f} ms ({len(found)} rows)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--random-ids", action="store_true", help="random mention ids, as real platforms' are")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="SQLite page size in bytes")
    args = parser.parse_args()
    print(f"{args.rows:,} mentions from {args.authors:,} authors, groups of {GROUP:,}, pages of {args.page_size:,} "
          "bytes; CPU time per row (mention, scores and author rows)")
    for name, (indexes, query) in LAYOUTS.items():
        run(name, indexes, query, args)


if __name__ == "__main__":
    main()
