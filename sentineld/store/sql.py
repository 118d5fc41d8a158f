"""SQL helpers shared by the store's tables."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any, Final

import msgspec

#: Values bound per ``IN (...)`` query: under SQLite's oldest parameter limit (999).
IN_CHUNK: Final = 500

#: Bytes a JSON blob's buffer starts with: a stored mention's body is about 500, and a buffer
#: that has to grow is copied each time it does.
BLOB_START: Final = 1024

_encode_into = msgspec.json.Encoder().encode_into
_encode = msgspec.json.Encoder().encode


def select_in(db: sqlite3.Connection, sql: str, values: Iterable[str]) -> Iterator[Sequence[Any]]:
    """Rows of `sql`, whose one ``{marks}`` placeholder is the list of an ``IN (...)``, for
    `values` (each asked once), `IN_CHUNK` values per query."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), IN_CHUNK):
        chunk = unique[start : start + IN_CHUNK]
        yield from db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)


#: Values one multi-row statement binds at most: SQLite's oldest parameter limit (999).
MAX_VARIABLES: Final = 999

_ONE_ROW: Final = re.compile(r"^(INSERT .*? VALUES )(\((?:\?, ?)*\?\))(.*)$", re.DOTALL)
#: An insert without a conflict clause of its own (``OR REPLACE`` and its kin are left as they are).
_PLAIN_INSERT: Final = "INSERT INTO "
_FAILING_INSERT: Final = "INSERT OR FAIL INTO "


def insert_rows(db: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """``db.executemany(sql, rows)`` for an ``INSERT … VALUES (?, …) [ON CONFLICT …]`` of one
    row, run as statements of many rows each (``VALUES (…), (…), …``, up to `MAX_VARIABLES`
    values), the rows in the same order and with the same effects. Per statement run SQLite
    opens its table and index cursors and sqlite3 resets, steps and releases the GIL once:
    executemany does that per row. The rows short of a whole statement go through
    executemany, so that each table has two statement texts to prepare and cache, not one per
    batch size. Any other `sql` is run with executemany.

    A plain ``INSERT INTO`` of many rows runs as ``INSERT OR FAIL INTO``: a refused row ends
    the call with the rows before it stored, as executemany leaves them, where a statement that
    aborts undoes its own earlier rows first. To be able to, SQLite copies every page of the
    transaction that the statement changes to a statement journal (a temporary file) before
    changing it: the tail pages of each B-tree, once per statement
    (docs/decisions/0023-statements-without-a-statement-journal.md)."""
    many, per = _many_rows(sql)
    whole = len(rows) - len(rows) % per if per > 1 else 0
    for start in range(0, whole, per):
        db.execute(many, list(chain.from_iterable(rows[start : start + per])))
    if whole < len(rows):
        db.executemany(sql, rows[whole:] if whole else rows)


@lru_cache(maxsize=64)
def _many_rows(sql: str) -> tuple[str, int]:
    """`sql` made to insert as many rows as `MAX_VARIABLES` allows, and that many (1: `sql`
    is not an insert of one row of values)."""
    match = _ONE_ROW.match(sql)
    if match is None:
        return sql, 1
    head, marks, tail = match.groups()
    per = MAX_VARIABLES // marks.count("?")
    if per < 2:
        return sql, 1
    if head.startswith(_PLAIN_INSERT):
        head = _FAILING_INSERT + head[len(_PLAIN_INSERT):]
    return f"{head}{', '.join([marks] * per)}{tail}", per


def select_each(
    db: sqlite3.Connection, sql: str, values: Iterable[str], *, sort_chunks: bool = False,
) -> Iterator[Sequence[Any]]:
    """`select_in` for a query that joins its values instead of listing them: `sql` reads them
    from the table ``{values}`` (column ``value``), ``json_each(?)`` bound to one JSON array
    of each chunk's values. SQLite then probes the table for each value in turn, where for
    ``IN (?, …)`` it binds every value and sorts them into a temporary index first: a third
    less CPU per value looked up (docs/decisions/0017-keys-looked-up-through-json-each.md).
    The rows come in the order of the values unless `sql` orders them; with `sort_chunks`,
    each chunk's values are probed in sorted order, so its rows come as ``ORDER BY`` the
    joined key would give them, without SQLite sorting them (docs/decisions/0132)."""
    unique = list(dict.fromkeys(values))
    each = sql.format(values="json_each(?)")
    for start in range(0, len(unique), IN_CHUNK):
        chunk = unique[start : start + IN_CHUNK]
        if sort_chunks:
            chunk.sort()
        array = _encode(chunk)
        if b"\\u0000" in array:
            # SQLite's JSON ends a string at an escaped NUL: such a chunk binds each value.
            listed = ",".join(["(?)"] * len(chunk))
            yield from db.execute(sql.format(values=f"(SELECT column1 AS value FROM (VALUES {listed}))"), chunk)
        else:
            yield from db.execute(each, (array.decode(),))


# sqlite3 binds an int, float, str or bytearray as it is, but first looks anything else up in
# its registry of adapters (`sqlite3.register_adapter`): a tuple built, a dict probed and two
# attribute lookups, 0.3-0.4 µs for each bound value, None and bytes included. The store binds
# a few of those per mention (docs/decisions/0016-values-bound-without-adapter-lookups.md).


def json_blob(value: Any) -> bytearray:
    """`value` as JSON in a bytearray, which sqlite3 binds as a BLOB without the adapter lookup
    it makes for bytes. The stored BLOB is the same as for the bytes of ``encode(value)``."""
    blob = bytearray(BLOB_START)
    _encode_into(value, blob)
    return blob


def _null(value: None) -> None:
    return None


#: None is looked up like any other value, and found nothing for: registered, the lookup finds
#: this at once and binds NULL as before. (Process-wide, as sqlite3's adapters are; it changes
#: no value that is bound.)
sqlite3.register_adapter(type(None), _null)
