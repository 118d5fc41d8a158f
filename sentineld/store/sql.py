"""SQL helpers shared by the store's tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

#: Values bound per ``IN (...)`` query: under SQLite's oldest parameter limit (999).
IN_CHUNK: Final = 500


def select_in(db: sqlite3.Connection, sql: str, values: Iterable[str]) -> Iterator[Sequence[Any]]:
    """Rows of `sql`, whose one ``{marks}`` placeholder is the list of an ``IN (...)``, for
    `values` (each asked once), `IN_CHUNK` values per query."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), IN_CHUNK):
        chunk = unique[start : start + IN_CHUNK]
        yield from db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)
