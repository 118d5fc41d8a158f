"""SQL helpers shared by the store's tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import msgspec

#: Values bound per ``IN (...)`` query: under SQLite's oldest parameter limit (999).
IN_CHUNK: Final = 500

#: Bytes a JSON blob's buffer starts with: a stored mention's body is about 500, and a buffer
#: that has to grow is copied each time it does.
BLOB_START: Final = 1024

_encode_into = msgspec.json.Encoder().encode_into


def select_in(db: sqlite3.Connection, sql: str, values: Iterable[str]) -> Iterator[Sequence[Any]]:
    """Rows of `sql`, whose one ``{marks}`` placeholder is the list of an ``IN (...)``, for
    `values` (each asked once), `IN_CHUNK` values per query."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), IN_CHUNK):
        chunk = unique[start : start + IN_CHUNK]
        yield from db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)


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
