"""Read-side SQL for the HTTP API and the dashboard (SQLite).

These queries run on the HTTP side's own read connection (see `sentineld.http.reader`), never on
the pipeline's store thread, so a dashboard refresh cannot hold up ingest.
"""

from __future__ import annotations

from typing import Any

from sentineld.store.sqlite import SQLiteStore

__all__ = ["outbox_counts", "series_rows"]


def outbox_counts(store: SQLiteStore) -> list[tuple[str, str, int]]:
    """(destination, state, count) for every destination and state in the outbox."""
    rows = store.db.execute(
        "SELECT destination, state, count(*) FROM outbox GROUP BY destination, state"
    )
    return [(row[0], row[1], row[2]) for row in rows]


def series_rows(
    store: SQLiteStore, *, upto_seq: int, bucket: float, window: float
) -> list[tuple[Any, ...]]:
    """Per (bucket start, subject, channel): mentions, sentiment sum, scored count, negatives.

    Covers the scored mentions up to `upto_seq` (the last checkpoint: what comes after it is
    re-fed through the pipeline on start and counted live) in the `window` of event time that
    ends at the newest of them. A mention that matches no subject counts as "unmatched".
    """
    bucket_us = max(int(bucket * 1_000_000), 1)
    row = store.db.execute(
        "SELECT max(created_us) FROM mentions WHERE seq <= ? AND scored IS NOT NULL", (upto_seq,)
    ).fetchone()
    if row is None or row[0] is None:
        return []
    since_us = row[0] - int(window * 1_000_000)
    query = """
        SELECT (m.created_us / :bucket) * :bucket AS b,
               coalesce(j.value, 'unmatched') AS subject,
               m.source,
               count(*),
               coalesce(sum(json_extract(m.scored, '$.scores.sentiment')), 0.0),
               count(json_extract(m.scored, '$.scores.sentiment')),
               sum(json_extract(m.scored, '$.labels.sentiment') = 'negative')
        FROM mentions AS m
        LEFT JOIN json_each(m.scored, '$.matches') AS j
        WHERE m.seq <= :upto AND m.created_us >= :since AND m.scored IS NOT NULL
        GROUP BY b, subject, m.source
    """
    rows = store.db.execute(query, {"bucket": bucket_us, "upto": upto_seq, "since": since_us})
    return [
        (row[0] / 1_000_000, row[1], row[2], row[3], row[4], row[5], row[6] or 0) for row in rows
    ]
