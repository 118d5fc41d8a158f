"""The store's side of the social CRM: customers, identities, cases, alert acknowledgements and
drafted replies (tables of migrations ``0005_cases`` and ``0006_drafts``).

`CrmTables` is the small set of statements `sentineld.cases.CaseBook` runs inside one
transaction (``SQLiteStore.crm_apply``); `CrmStoreMixin` adds the read and update methods the
CLI, the HTTP API and the pipeline call on `SQLiteStore`.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any, ClassVar, Final

import msgspec

from sentineld.authors import KeyFilter
from sentineld.model import SEVERITIES, Mention, format_time
from sentineld.store.sql import insert_rows, json_blob, select_each, select_in

__all__ = [
    "OPEN_STATES",
    "CASE_STATES",
    "CaseMention",
    "CaseRecord",
    "CrmStoreMixin",
    "CrmTables",
    "HeldKeys",
    "DraftRecord",
]

CASE_STATES: Final = ("new", "acknowledged", "responded", "resolved", "merged")
OPEN_STATES: Final = ("new", "acknowledged", "responded")
DRAFT_STATES: Final = ("pending", "approved", "posted", "dry_run", "failed", "rejected")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_mention_decoder = msgspec.json.Decoder(Mention)


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


_blake2b = hashlib.blake2b
_PART_SEPARATOR: Final = "\x1f"


def short_hash(*parts: str, size: int = 6) -> str:
    return _blake2b(_PART_SEPARATOR.join(parts).encode(), digest_size=size).hexdigest()


def ordered_id(prefix: str, moment: float, *parts: str, size: int) -> str:
    """An id that sorts by `moment` (to the minute: 7 hex digits last until the year 2480)
    and is told apart by a hash of `parts` (`short_hash`'s). New customers and cases then go
    to the end of their tables' indexes instead of all over them (docs/decisions/0417)."""
    digest = _blake2b(_PART_SEPARATOR.join(parts).encode(), digest_size=size).hexdigest()
    return f"{prefix}{_minute_stamp(int(moment // 60))}{digest}"


@lru_cache(maxsize=64)
def _minute_stamp(minute: int) -> str:
    """The minute in 7 hex digits; a stream's ids are made in time order, so a few minutes
    are asked again and again (two ids per new customer)."""
    return f"{max(0, minute):07x}"


# --------------------------------------------------------------------------- records


class CaseRecord(msgspec.Struct, kw_only=True):
    """One case as the CLI and the API show it. Times are POSIX seconds (event time, except
    `acknowledged_at` and `resolved_at`, which are when a person acted)."""

    id: str
    customer: str
    state: str
    severity: str
    opened_at: float
    updated_at: float
    sla_due_at: float | None = None
    first_response_at: float | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    customer_name: str = ""
    channels: list[str] = []
    title: str = ""
    mentions: int = 0
    waiting: int = 0
    merged_into: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def channel(self) -> str:
        return self.channels[0] if self.channels else ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (`sentineld cases --json`, ``/api/cases``): times as ISO 8601."""
        return {
            "id": self.id,
            "customer": self.customer,
            "customer_name": self.customer_name,
            "state": self.state,
            "severity": self.severity,
            "channel": self.channel,
            "channels": self.channels,
            "title": self.title,
            "opened_at": _iso(self.opened_at),
            "updated_at": _iso(self.updated_at),
            "sla_due_at": _iso(self.sla_due_at),
            "first_response_at": _iso(self.first_response_at),
            "responded_at": _iso(self.first_response_at),
            "acknowledged_at": _iso(self.acknowledged_at),
            "resolved_at": _iso(self.resolved_at),
            "sla_breached": self.sla_breached,
            "mentions": self.mentions,
            "waiting": self.waiting,
            "merged_into": self.merged_into,
        }

    @property
    def sla_breached(self) -> bool | None:
        """Whether the first response came (or, still missing, is) later than due; None
        without an SLA. An open case without a response is judged against the wall clock."""
        if self.sla_due_at is None:
            return None
        answered = self.first_response_at
        if answered is None:
            return time.time() > self.sla_due_at if self.is_open else None
        return answered > self.sla_due_at


def _iso(seconds: float | None) -> str | None:
    return format_time(datetime.fromtimestamp(seconds, UTC)) if seconds is not None else None


class CaseMention(msgspec.Struct, kw_only=True):
    """One mention of a case: a customer's (with its first-response due time) or the brand's."""

    mention_id: str
    case_id: str
    role: str
    channel: str
    created_at: float
    due_at: float | None = None
    severity: str | None = None
    answered_by: str | None = None
    answers: str | None = None


class DraftRecord(msgspec.Struct, kw_only=True):
    """A drafted reply and where it stands: pending → approved → posted (or dry_run, failed)."""

    id: str
    created_at: float
    state: str
    channel: str
    responder: str
    template: str
    text: str
    alert_id: str | None = None
    case_id: str | None = None
    mention_id: str | None = None
    meta: dict[str, Any] = {}
    approved_at: float | None = None
    approved_by: str | None = None
    posted_at: float | None = None
    remote_id: str | None = None
    attempts: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = msgspec.to_builtins(self)
        for name in ("created_at", "approved_at", "posted_at"):
            data[name] = _iso(getattr(self, name))
        return data


_CASE_COLUMNS: Final = (
    "id, customer, state, severity, opened_us, sla_due_us, first_response_us, acknowledged_us, "
    "resolved_us, updated_us, body"
)
_CASE_MENTION_COLUMNS: Final = (
    "mention_id, case_id, role, channel, created_us, due_us, severity, answered_by, answers"
)
#: The rows of the keys `select_each` binds (a batch's reads: the order does not matter).
_CASE_MENTIONS_EACH: Final = (
    f"SELECT {', '.join('c.' + c.strip() for c in _CASE_MENTION_COLUMNS.split(','))} "
    "FROM {values} AS v JOIN case_mentions AS c ON c.mention_id = v.value"
)
_CASES_EACH: Final = (
    f"SELECT {', '.join('c.' + c.strip() for c in _CASE_COLUMNS.split(','))}, c.rowid "
    "FROM {values} AS v JOIN cases AS c ON c.id = v.value"
)
_MENTIONS_EACH: Final = "SELECT r.id, r.body FROM {values} AS v JOIN mention_rows AS r ON r.id = v.value"
_IDENTITIES_EACH: Final = (
    # Not materialized: each side probes the values as they come (a third less CPU per key).
    "WITH v(value) AS NOT MATERIALIZED (SELECT value FROM {values}) "
    "SELECT i.key, i.customer, i.author_key FROM v JOIN identity_rows AS i ON i.key = v.value "
    "UNION ALL SELECT r.key, r.customer, r.author_key FROM v JOIN identities_recent AS r ON r.key = v.value"
)
#: Identities stay in `identities_recent` until it holds this many or the square root of
#: `_FOLD_FACTOR` times the rows of `identity_rows`, whichever is more, and are then folded into
#: that table in key order (docs/decisions/0421): a fold rewrites about every leaf of the large
#: key index once, a batch rewrites about every leaf of the small one.
_FOLD_LEAST: Final = 2048
_FOLD_FACTOR: Final = 512
#: Insert a case or bring its whole row up to date. SQLite moves the entry of every index with
#: a column in the SET list, changed or not: for a case stored before whose indexed columns
#: are as they were, `_UPDATE_CASE` writes the others and leaves those indexes alone.
_SAVE_CASE: Final = (
    f"INSERT INTO cases ({_CASE_COLUMNS}) VALUES ({','.join('?' * 11)}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _CASE_COLUMNS.split(",")[1:])
)
#: Insert a case not stored before. A many-row upsert that may update (`_SAVE_CASE`) makes SQLite
#: copy every page the statement changes to a statement journal first, about 1,760 bytes per
#: case; with ``DO NOTHING`` it needs none (docs/decisions/0023, 0025). A row it leaves out
#: (the id was stored after all) is written again with `_SAVE_CASE`.
_INSERT_CASE: Final = (
    f"INSERT INTO cases ({_CASE_COLUMNS}) VALUES ({','.join('?' * 11)}) ON CONFLICT (id) DO NOTHING"
)
#: The columns of a case row no index holds (`cases_customer`, `cases_state` and the key hold
#: customer, state, sla_due_us and id), by their place in `_case_row`'s tuple.
_UNINDEXED: Final = (3, 4, 6, 7, 8, 9, 10)
#: Of a case row (`_case_row`, or one read with `_CASE_COLUMNS`): its indexed columns, and the
#: parameters of `_UPDATE_CASE`.
_indexed_columns: Final = itemgetter(1, 2, 5)
_update_parameters: Final = itemgetter(*_UNINDEXED, 0)
_unindexed_columns: Final = itemgetter(*_UNINDEXED)
_UPDATE_CASE: Final = (
    "UPDATE cases SET "
    + ", ".join(f"{_CASE_COLUMNS.split(',')[i].strip()} = ?" for i in _UNINDEXED)
    + " WHERE id = ?"
)
#: `_UPDATE_CASE` for a case read from the table in this transaction, by the rowid read with
#: it: the row is found without a probe of the id's index (docs/decisions/0423).
_UPDATE_CASE_AT: Final = _UPDATE_CASE.replace("WHERE id = ?", "WHERE rowid = ?")
#: Every column of a case stored before, by id (an update of one row needs no statement journal,
#: where the upsert of `_SAVE_CASE` does), and by the rowid read with it.
_REWRITE_CASE: Final = (
    "UPDATE cases SET "
    + ", ".join(f"{c.strip()} = ?" for c in _CASE_COLUMNS.split(",")[1:])
    + " WHERE id = ?"
)
_REWRITE_CASE_AT: Final = _REWRITE_CASE.replace("WHERE id = ?", "WHERE rowid = ?")
#: Of a case row: the parameters of `_REWRITE_CASE` (the rowid follows them for `_REWRITE_CASE_AT`).
_rewrite_parameters: Final = itemgetter(*range(1, 11), 0)
_rewrite_columns: Final = itemgetter(*range(1, 11))
_DRAFT_COLUMNS: Final = (
    "id, created_at, state, alert_id, case_id, mention_id, channel, responder, template, text, "
    "meta, approved_at, approved_by, posted_at, remote_id, attempts, error"
)


def _sec(us: int | None) -> float | None:
    return us / 1_000_000 if us is not None else None


def _case_from_row(row: Sequence[Any], counts: tuple[int, int] = (0, 0)) -> CaseRecord:
    body = _decode(row[10]) if row[10] else {}
    return CaseRecord(
        id=row[0], customer=row[1], state=row[2], severity=row[3], opened_at=row[4] / 1e6,
        sla_due_at=_sec(row[5]), first_response_at=_sec(row[6]), acknowledged_at=_sec(row[7]),
        resolved_at=_sec(row[8]), updated_at=row[9] / 1e6,
        customer_name=body.get("customer_name", ""), channels=body.get("channels", []),
        title=body.get("title", ""), merged_into=body.get("merged_into"),
        mentions=counts[0], waiting=counts[1],
    )


def _case_row(case: CaseRecord) -> tuple[Any, ...]:
    body = {"customer_name": case.customer_name, "channels": case.channels, "title": case.title}
    if case.merged_into:
        body["merged_into"] = case.merged_into
    # Microseconds converted inline (as `_us` does): this runs for every case a batch changes.
    sla_due, responded, acknowledged, resolved = (
        case.sla_due_at, case.first_response_at, case.acknowledged_at, case.resolved_at
    )
    return (
        case.id, case.customer, case.state, case.severity, round(case.opened_at * 1_000_000),
        None if sla_due is None else round(sla_due * 1_000_000),
        None if responded is None else round(responded * 1_000_000),
        None if acknowledged is None else round(acknowledged * 1_000_000),
        None if resolved is None else round(resolved * 1_000_000),
        round(case.updated_at * 1_000_000), json_blob(body),
    )


def _case_mention_from_row(row: Sequence[Any]) -> CaseMention:
    return CaseMention(
        mention_id=row[0], case_id=row[1], role=row[2], channel=row[3], created_at=row[4] / 1e6,
        due_at=_sec(row[5]), severity=row[6], answered_by=row[7], answers=row[8],
    )


def _draft_from_row(row: Sequence[Any]) -> DraftRecord:
    return DraftRecord(
        id=row[0], created_at=row[1], state=row[2], alert_id=row[3], case_id=row[4],
        mention_id=row[5], channel=row[6], responder=row[7], template=row[8], text=row[9],
        meta=_decode(row[10]) if row[10] else {}, approved_at=row[11], approved_by=row[12],
        posted_at=row[13], remote_id=row[14], attempts=row[15], error=row[16],
    )


def more_severe(a: str, b: str) -> str:
    return a if SEVERITIES.index(a) >= SEVERITIES.index(b) else b


# --------------------------------------------------------------------------- identity keys held


class HeldKeys:
    """Which identity keys the store may hold: every key in `identity_rows` and
    `identities_recent` in the project's Bloom filter of keys (`KeyFilter`, the author
    registry's too), so that the case step does not look up a key it says no to (most of a
    stream's keys are new customers', and at scale each lookup of one reads a random page of
    the large key index back from the OS; docs/decisions/0422).

    It answers "no" only for a key no committed row has, and is kept true in two ways: a key
    `CrmTables.add_identity` writes is added at once (a transaction rolled back leaves it in,
    which only costs a lookup), and whenever another connection has committed since it was
    last used (`sentineld link` or `resolve` from another process: ``PRAGMA data_version``),
    `current` adds the keys another process may have written: the staged ones and the rows
    folded beyond the largest rowid it has seen (rows of `identity_rows` are never deleted).
    Identities are written through `CrmTables` only: a row written around it on the same
    connection would not be seen. The filter grows with the keys (a layer twice as large
    when the last is full), so it is read from the tables once per process.
    """

    #: Keys the filter's first layer takes (at least; 8 bits a key: 128 KiB).
    LEAST_CAPACITY: ClassVar[int] = 1 << 17

    def __init__(self, version: int, folded: int, keys: int) -> None:
        #: ``PRAGMA data_version`` when the filter was last brought up to date: another
        #: connection's commit changes it
        self.version = version
        #: the largest rowid of `identity_rows` then
        self.folded = folded
        self.filter = KeyFilter(max(self.LEAST_CAPACITY, 1 << max(keys - 1, 1).bit_length()))

    @classmethod
    def read(cls, db: sqlite3.Connection) -> HeldKeys:
        """The keys of both identity tables, inside the transaction that will use them."""
        version = db.execute("PRAGMA data_version").fetchone()[0]
        # Folded rows are never deleted: the largest rowid counts them (`_fold_identities`).
        folded = db.execute("SELECT max(rowid) FROM identity_rows").fetchone()[0] or 0
        staged = db.execute("SELECT count(*) FROM identities_recent").fetchone()[0]
        held = cls(version, folded, folded + staged)
        add = held.filter.add
        for (key,) in db.execute("SELECT key FROM identity_rows UNION ALL SELECT key FROM identities_recent"):
            add(key)
        return held

    def current(self, db: sqlite3.Connection) -> None:
        """Bring the filter up to date with what other connections committed since the last
        call (in the transaction that will use it)."""
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version == self.version:
            return
        since = self.folded
        self.version = version
        self.folded = db.execute("SELECT max(rowid) FROM identity_rows").fetchone()[0] or 0
        add = self.filter.add
        for (key,) in db.execute(
            "SELECT key FROM identity_rows WHERE rowid > ? UNION ALL SELECT key FROM identities_recent", (since,)
        ):
            add(key)

    def add(self, key: str) -> None:
        """Note a key stored (or about to be, in this transaction)."""
        self.filter.add(key)

    def maybe_held(self, keys: list[str]) -> list[str]:
        """The keys the store may hold (the others it does not)."""
        may_hold = self.filter.may_hold
        return [key for key in keys if may_hold(key)]


# --------------------------------------------------------------------------- inside a transaction


class CrmTables:
    """The CRM tables as the case book sees them inside one transaction (`crm_apply`).

    A batch's reads are answered from a cache that `load_*` fills with one ``IN (...)`` query
    per table for the whole batch; what was not loaded is read on first use (and cached, a miss
    as well). Writes are buffered and go out with ``executemany`` at `flush`, in the order they
    were made within each table; an answer marks the case mentions added earlier in the batch
    itself and leaves the rows stored before to one ``UPDATE``; a statement that reads or
    rewrites rows across tables (a merge of customers) flushes first. Nothing outlives the transaction: the store stays the truth, and
    a `sentineld resolve` or `link` from another process is seen by the next batch. (The
    store's filter of identity keys, `held`, does: it only spares the lookup of a key no row
    has, docs/decisions/0422.)
    """

    def __init__(self, db: sqlite3.Connection, held: HeldKeys | None = None) -> None:
        self.db = db
        #: the identity keys stored, if read for this transaction (`HeldKeys.current`)
        self.held = held
        self._mentions: dict[str, Mention | None] = {}
        #: identity key -> its customer (None: nobody's yet), and the author key it is seen under
        self._holders: dict[str, str | None] = {}
        self._author_keys: dict[str, str | None] = {}
        self._case_mentions: dict[str, CaseMention | None] = {}
        self._cases: dict[str, CaseRecord | None] = {}
        #: customer -> id of their oldest open case (None: no open case)
        self._open: dict[str, str | None] = {}
        self._dirty: dict[str, CaseRecord] = {}
        #: case id -> its indexed columns (customer, state, sla_due_us) as stored now
        self._stored: dict[str, tuple[Any, Any, Any]] = {}
        #: case id -> its rowid, for the cases read from the table
        self._rowids: dict[str, int] = {}
        #: (sql, parameters) per table, in the order they were made
        self._writes: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        #: case mentions to insert, all and by case (an answer marks them), and the answers'
        #: (by, case, channel, up to) for the rows stored before
        self._new_items: list[CaseMention] = []
        self._new_items_of: dict[str, list[CaseMention]] = {}
        self._answers: list[tuple[str, str, str, int]] = []
        #: whether the transaction added identities (to `identities_recent`)
        self._staged = False

    # ------------------------------------------------------------------ batch loads

    def load_case_mentions(self, mention_ids: Iterable[str]) -> None:
        wanted = [i for i in mention_ids if i not in self._case_mentions]
        if not wanted:
            return
        for mention_id in wanted:
            self._case_mentions[mention_id] = None
        for row in select_each(self.db, _CASE_MENTIONS_EACH, wanted):
            self._case_mentions[row[0]] = _case_mention_from_row(row)

    def load_mentions(self, mention_ids: Iterable[str]) -> None:
        wanted = [i for i in mention_ids if i not in self._mentions]
        if not wanted:
            return
        for mention_id in wanted:
            self._mentions[mention_id] = None
        for ident, body in select_each(self.db, _MENTIONS_EACH, wanted):
            self._mentions[ident] = _mention_decoder.decode(body)

    def load_identities(self, keys: Iterable[str]) -> None:
        wanted = [k for k in keys if k not in self._holders]
        if not wanted:
            return
        for key in wanted:
            self._holders[key] = None
        if self.held is not None:
            wanted = self.held.maybe_held(wanted)
        for key, customer, author_key in select_each(self.db, _IDENTITIES_EACH, wanted):
            self._holders[key] = customer
            self._author_keys[key] = author_key

    def load_cases(self, case_ids: Iterable[str] = (), customers: Iterable[str] = ()) -> None:
        """Cases by id, and the oldest open case of each of `customers`."""
        self._flush_cases()
        wanted = [i for i in case_ids if i not in self._cases]
        for case_id in wanted:
            self._cases[case_id] = None
        stored, rowids = self._stored, self._rowids
        for row in select_each(self.db, _CASES_EACH, wanted):
            self._cases[row[0]] = _case_from_row(row)
            stored[row[0]] = _indexed_columns(row)
            rowids[row[0]] = row[11]
        owners = [c for c in customers if c not in self._open]
        for customer in owners:
            self._open[customer] = None
        states = ",".join(f"'{s}'" for s in OPEN_STATES)
        oldest: dict[str, tuple[int, str]] = {}
        # By customer: given many customers, the planner would rather walk every open case.
        for row in select_in(
            self.db, f"SELECT {_CASE_COLUMNS}, rowid FROM cases INDEXED BY cases_customer "
            f"WHERE customer IN ({{marks}}) AND state IN ({states})", owners,
        ):
            case = self._cases.get(row[0])
            if case is None:
                case = self._cases[row[0]] = _case_from_row(row)
                stored[row[0]] = _indexed_columns(row)
                rowids[row[0]] = row[11]
            if case.customer not in oldest or (row[4], row[0]) < oldest[case.customer]:
                oldest[case.customer] = (row[4], row[0])
                self._open[case.customer] = case.id

    def cached_case_mention(self, mention_id: str) -> CaseMention | None:
        """The case mention if loaded (no query)."""
        return self._case_mentions.get(mention_id)

    def cached_mention(self, mention_id: str) -> Mention | None:
        return self._mentions.get(mention_id)

    def cached_customers(self, keys: Iterable[str]) -> set[str]:
        """The customers the loaded identities among `keys` belong to (no query)."""
        holders = self._holders
        return {customer for key in keys if (customer := holders.get(key)) is not None}

    # ------------------------------------------------------------------ mentions (read)

    def mention(self, mention_id: str) -> Mention | None:
        if mention_id not in self._mentions:
            self.load_mentions([mention_id])
        return self._mentions[mention_id]

    # ------------------------------------------------------------------ customers and identities

    def customers_of(self, keys: Sequence[str]) -> dict[str, str]:
        """identity key -> customer, for the keys that belong to someone."""
        self.load_identities(keys)
        holders = self._holders
        return {key: holder for key in keys if (holder := holders[key]) is not None}

    def add_customer(self, customer: str, name: str, at: float) -> None:
        """A new customer. Its id comes from an identity key added with it, so a customer no
        key names has no cases either."""
        self._write("customers", "INSERT INTO customers VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (customer, name, _us(at)))
        self._open.setdefault(customer, None)

    def add_identity(self, key: str, customer: str, author_key: str | None, origin: str, at: float) -> bool:
        """Give `key` to `customer` unless it belongs to someone already; True if added."""
        holders = self._holders
        if key not in holders:
            self.load_identities([key])
        if holders[key] is not None:
            return False
        holders[key] = customer
        self._author_keys[key] = author_key
        # Into the small table; `holders` said no row has the key (docs/decisions/0421).
        self._write("identities", "INSERT INTO identities_recent VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                    (key, customer, author_key, origin, round(at * 1_000_000)))
        if self.held is not None:
            self.held.add(key)
        self._staged = True
        return True

    def set_author_key(self, key: str, author_key: str) -> None:
        """Note the author key `key` is seen under, unless it has one."""
        if self._author_keys.get(key) is not None:
            return
        self._author_keys[key] = author_key
        for table in ("identity_rows", "identities_recent"):
            self._write(table, f"UPDATE {table} SET author_key = ? WHERE key = ? AND author_key IS NULL",
                        (author_key, key))

    def customer_created(self, customer: str) -> float:
        row = self.db.execute("SELECT created_us FROM customers WHERE id = ?", (customer,)).fetchone()
        return row[0] / 1e6 if row else float("inf")

    def merge_customers(self, customers: Iterable[str]) -> str:
        """Make several customers one (the oldest survives) and their open cases one case."""
        self.flush()
        ordered = sorted(set(customers), key=lambda c: (self.customer_created(c), c))
        survivor, others = ordered[0], ordered[1:]
        for other in others:
            for table in ("identity_rows", "identities_recent"):
                self.db.execute(f"UPDATE {table} SET customer = ? WHERE customer = ?", (survivor, other))
            self.db.execute("UPDATE cases SET customer = ? WHERE customer = ?", (survivor, other))
            self.db.execute("DELETE FROM customers WHERE id = ?", (other,))
        self._merge_open_cases(survivor)
        # Cases and case mentions moved: read them again on first use.
        gone = set(others)
        self._holders = {k: survivor if c in gone else c for k, c in self._holders.items()}
        self._cases.clear()
        self._stored.clear()
        self._rowids.clear()
        self._open.clear()
        self._case_mentions.clear()
        return survivor

    def _merge_open_cases(self, customer: str) -> None:
        marks = ",".join("?" * len(OPEN_STATES))
        rows = self.db.execute(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE customer = ? AND state IN ({marks}) "
            "ORDER BY opened_us, id", (customer, *OPEN_STATES),
        ).fetchall()
        if len(rows) < 2:
            return
        cases = [_case_from_row(row) for row in rows]
        keep, rest = cases[0], cases[1:]
        for case in rest:
            self.db.execute("UPDATE case_mentions SET case_id = ? WHERE case_id = ?", (keep.id, case.id))
            keep.severity = more_severe(keep.severity, case.severity)
            keep.sla_due_at = _min(keep.sla_due_at, case.sla_due_at)
            keep.first_response_at = _min(keep.first_response_at, case.first_response_at)
            keep.acknowledged_at = _min(keep.acknowledged_at, case.acknowledged_at)
            keep.updated_at = max(keep.updated_at, case.updated_at)
            keep.channels = list(dict.fromkeys([*keep.channels, *case.channels]))
            case.state, case.merged_into = "merged", keep.id
            self.db.execute(_SAVE_CASE, _case_row(case))
        if keep.first_response_at is not None:
            keep.state = "responded"
        elif keep.acknowledged_at is not None:
            keep.state = "acknowledged"
        self.db.execute(_SAVE_CASE, _case_row(keep))

    # ------------------------------------------------------------------ cases

    def open_case(self, customer: str) -> CaseRecord | None:
        """The customer's oldest open case (the one new mentions join)."""
        if customer not in self._open:
            self.load_cases(customers=[customer])
        case_id = self._open[customer]
        return self._cases.get(case_id) if case_id is not None else None

    def case(self, case_id: str) -> CaseRecord | None:
        if case_id not in self._cases:
            self.load_cases([case_id])
        return self._cases[case_id]

    def save_case(self, case: CaseRecord) -> None:
        """Keep the case as it is now; written at `flush` (once, however often it changed)."""
        self._cases[case.id] = case
        self._dirty[case.id] = case
        if case.is_open:
            if case.customer in self._open and self._open[case.customer] is None:
                self._open[case.customer] = case.id
        elif self._open.get(case.customer) == case.id:
            del self._open[case.customer]

    def known_mentions(self, mention_ids: Sequence[str]) -> set[str]:
        """Which of these mentions the cases already hold."""
        self.load_case_mentions(mention_ids)
        return {i for i in mention_ids if self._case_mentions[i] is not None}

    def case_mention(self, mention_id: str) -> CaseMention | None:
        if mention_id not in self._case_mentions:
            self.load_case_mentions([mention_id])
        return self._case_mentions[mention_id]

    def add_case_mention(self, item: CaseMention) -> None:
        """Record a mention of a case, unless the mention already has one (it is keyed by id)."""
        if self.case_mention(item.mention_id) is not None:
            return
        self._case_mentions[item.mention_id] = item
        self._new_items.append(item)
        of_case = self._new_items_of.get(item.case_id)
        if of_case is None:
            self._new_items_of[item.case_id] = [item]
        else:
            of_case.append(item)

    def answer(self, case_id: str, channel: str, upto: float, by: str) -> None:
        """Mark the case's unanswered customer mentions on `channel` up to `upto` answered (as
        of this point of the batch: mentions added later are not)."""
        upto_us = _us(upto)
        for item in self._new_items_of.get(case_id, ()):
            if (item.role == "customer" and item.channel == channel and item.answered_by is None
                    and _us(item.created_at) <= upto_us):
                item.answered_by = by
        self._answers.append((by, case_id, channel, upto_us))

    # ------------------------------------------------------------------ writing

    def _write(self, table: str, sql: str, parameters: tuple[Any, ...]) -> None:
        writes = self._writes.get(table)
        if writes is None:
            writes = self._writes[table] = []
        writes.append((sql, parameters))

    def _flush_cases(self) -> None:
        """Write the cases changed: new ones inserted, stored ones whose indexed columns changed
        in full, the others without touching their indexes (docs/decisions/0420, 0025)."""
        if not self._dirty:
            return
        stored, rowids = self._stored, self._rowids
        new: list[tuple[Any, ...]] = []
        rewritten: list[tuple[Any, ...]] = []
        rewritten_at: list[tuple[Any, ...]] = []
        updated: list[tuple[Any, ...]] = []
        updated_at: list[tuple[Any, ...]] = []
        for case in self._dirty.values():
            row = _case_row(case)
            indexed = _indexed_columns(row)
            was = stored.get(row[0])
            rowid = rowids.get(row[0])
            if was == indexed:
                if rowid is None:
                    updated.append(_update_parameters(row))
                else:
                    updated_at.append((*_unindexed_columns(row), rowid))
                continue
            if was is None:
                new.append(row)
            elif rowid is None:
                rewritten.append(_rewrite_parameters(row))
            else:
                rewritten_at.append((*_rewrite_columns(row), rowid))
            stored[row[0]] = indexed
        if new:
            before = self.db.total_changes
            insert_rows(self.db, _INSERT_CASE, new)
            if self.db.total_changes - before < len(new):
                # Some id was stored after all: bring every row to what it would have been.
                insert_rows(self.db, _SAVE_CASE, new)
        if rewritten:
            self.db.executemany(_REWRITE_CASE, rewritten)
        if rewritten_at:
            self.db.executemany(_REWRITE_CASE_AT, rewritten_at)
        if updated:
            self.db.executemany(_UPDATE_CASE, updated)
        if updated_at:
            self.db.executemany(_UPDATE_CASE_AT, updated_at)
        self._dirty.clear()

    def _flush_case_mentions(self) -> None:
        """The answers first: they are for the rows stored before (`answer` marked the new ones)."""
        if self._answers:
            self.db.executemany(
                "UPDATE case_mentions SET answered_by = ? WHERE case_id = ? AND role = 'customer' "
                "AND channel = ? AND answered_by IS NULL AND created_us <= ?", self._answers,
            )
            self._answers.clear()
        if self._new_items:
            insert_rows(
                self.db, f"INSERT INTO case_mentions ({_CASE_MENTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (mention_id) DO NOTHING",
                [(item.mention_id, item.case_id, item.role, item.channel, round(item.created_at * 1_000_000),
                  None if item.due_at is None else round(item.due_at * 1_000_000), item.severity,
                  item.answered_by, item.answers)
                 for item in self._new_items],
            )
            self._new_items.clear()
            self._new_items_of.clear()

    def flush(self) -> None:
        """Write what is buffered: each table's statements in order, runs of one statement as
        one ``executemany``; then the case mentions and the cases changed."""
        for writes in self._writes.values():
            for sql, run in groupby(writes, key=itemgetter(0)):
                insert_rows(self.db, sql, [parameters for _, parameters in run])
        self._writes.clear()
        self._flush_case_mentions()
        self._flush_cases()
        if self._staged:
            self._staged = False
            self._fold_identities()

    def _fold_identities(self) -> None:
        """Move the staged identities to `identity_rows` once there are enough of them."""
        staged = self.db.execute("SELECT count(*) FROM identities_recent").fetchone()[0]
        if staged < _FOLD_LEAST:
            return
        # Rows are appended and never deleted: the largest rowid counts them.
        rows = self.db.execute("SELECT max(rowid) FROM identity_rows").fetchone()[0] or 0
        if staged < math.isqrt(_FOLD_FACTOR * rows):
            return
        self.db.execute(
            "INSERT INTO identity_rows (key, customer, author_key, origin, created_us) "
            "SELECT key, customer, author_key, origin, created_us FROM identities_recent ORDER BY key"
        )
        self.db.execute("DELETE FROM identities_recent")


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


# --------------------------------------------------------------------------- the store's methods


class CrmStoreMixin:
    """Methods `SQLiteStore` gets for cases, identities, acknowledgements and drafts."""

    db: sqlite3.Connection
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    #: The identity keys stored, once the case step has read them (`HeldKeys`).
    _held_keys: HeldKeys | None = None

    def crm_apply(self, book: Any, mentions: Sequence[Mention]) -> list[Any]:
        """Run `book.apply(tables, mentions)` in one transaction (see sentineld.cases)."""
        with self.transaction() as db:
            tables = CrmTables(db, self._current_held_keys(db, read=True))
            labels: list[Any] = book.apply(tables, mentions)
            tables.flush()
        return labels

    def _current_held_keys(self, db: sqlite3.Connection, *, read: bool) -> HeldKeys | None:
        """The identity keys stored, brought up to date (`HeldKeys.current`), or read when
        there are none yet, if `read`; None otherwise. Inside a transaction: no other
        connection can commit before it ends."""
        held = self._held_keys
        if held is not None:
            held.current(db)
        elif read:
            held = self._held_keys = HeldKeys.read(db)
        return held

    def crm_link(self, book: Any, keys: Sequence[str], origin: str) -> str:
        """Make the identities `keys` one customer (see `CaseBook.link`); returns its id."""
        with self.transaction() as db:
            tables = CrmTables(db, self._current_held_keys(db, read=False))
            customer: str = book.link(tables, keys, origin)
            tables.flush()
        return customer

    # ------------------------------------------------------------------ cases

    def cases(
        self,
        *,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
        customer: str | None = None,
    ) -> list[CaseRecord]:
        """Cases, most urgent first: unanswered ones by first-response due time, then the rest
        newest first. `state` is one of the states, or "open" (new, acknowledged, responded);
        merged cases are listed only when asked for by state."""
        clauses: list[str] = []
        args: list[Any] = []
        if state in (None, "all"):
            clauses.append("state != 'merged'")
        elif state == "open":
            clauses.append(f"state IN ({','.join('?' * len(OPEN_STATES))})")
            args += OPEN_STATES
        elif state in CASE_STATES:
            clauses.append("state = ?")
            args.append(state)
        else:
            raise ValueError(f"state must be open, all or one of {', '.join(CASE_STATES)}; got {state!r}")
        if customer is not None:
            clauses.append("customer = ?")
            args.append(customer)
        rows = self.db.execute(
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE {' AND '.join(clauses)} "
            "ORDER BY (first_response_us IS NOT NULL OR sla_due_us IS NULL OR state = 'resolved'), "
            "CASE WHEN first_response_us IS NULL THEN sla_due_us END, opened_us DESC, id "
            "LIMIT ? OFFSET ?",
            (*args, int(limit), int(offset)),
        ).fetchall()
        counts = self._case_counts([row[0] for row in rows])
        return [_case_from_row(row, counts.get(row[0], (0, 0))) for row in rows]

    def _case_counts(self, case_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        if not case_ids:
            return {}
        marks = ",".join("?" * len(case_ids))
        rows = self.db.execute(
            f"SELECT case_id, count(*), sum(role = 'customer' AND answered_by IS NULL) "
            f"FROM case_mentions WHERE case_id IN ({marks}) GROUP BY case_id", list(case_ids),
        )
        return {row[0]: (row[1], row[2] or 0) for row in rows}

    def case(self, case_id: str) -> CaseRecord | None:
        row = self.db.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,)).fetchone()
        if row is None:
            return None
        return _case_from_row(row, self._case_counts([case_id]).get(case_id, (0, 0)))

    def mentions_by_id(self, mention_ids: Sequence[str]) -> list[Mention | None]:
        """The stored mentions with these ids, in the same order (None where unknown)."""
        found: dict[str, Mention] = {}
        ids = list(dict.fromkeys(mention_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for ident, body in self.db.execute(f"SELECT id, body FROM mention_rows WHERE id IN ({marks})", chunk):
                found[ident] = _mention_decoder.decode(body)
        return [found.get(ident) for ident in mention_ids]

    def case_of_mention(self, mention_id: str) -> str | None:
        row = self.db.execute(
            "SELECT case_id FROM case_mentions WHERE mention_id = ?", (mention_id,)
        ).fetchone()
        return row[0] if row else None

    def case_mentions(self, case_id: str) -> list[tuple[CaseMention, Mention | None]]:
        """The case's mentions (the customer's and the brand's replies), oldest first."""
        rows = self.db.execute(
            f"SELECT {', '.join('c.' + c.strip() for c in _CASE_MENTION_COLUMNS.split(','))}, m.body "
            "FROM case_mentions c LEFT JOIN mention_rows m ON m.id = c.mention_id "
            "WHERE c.case_id = ? ORDER BY c.created_us, c.mention_id", (case_id,),
        )
        return [
            (_case_mention_from_row(row[:9]), _mention_decoder.decode(row[9]) if row[9] else None)
            for row in rows
        ]

    def customer_identities(self, customer: str) -> list[tuple[str, str]]:
        """(identity key, how it was linked) of a customer, oldest first."""
        rows = self.db.execute(
            "SELECT key, origin FROM identities WHERE customer = ? ORDER BY created_us, key", (customer,)
        )
        return [(row[0], row[1]) for row in rows]

    def identity_sources(self) -> list[str]:
        """The sources (the part before ``:``) of the identities known, in order: one index
        seek per source rather than a scan of every identity."""
        sources: list[str] = []
        row = self.db.execute("SELECT key FROM identities ORDER BY key LIMIT 1").fetchone()
        while row is not None:
            source = row[0].partition(":")[0]
            sources.append(source)
            # ";" sorts right after ":", so this skips every key of this source.
            row = self.db.execute("SELECT key FROM identities WHERE key >= ? ORDER BY key LIMIT 1",
                                  (source + ";",)).fetchone()
        return sources

    def customer_of(self, key: str) -> str | None:
        row = self.db.execute("SELECT customer FROM identities WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def customer_history(self, customer: str, *, limit: int = 200) -> list[Mention]:
        """Everything the customer wrote on any linked identity, oldest first (the last `limit`)."""
        keys = [
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT author_key FROM identities WHERE customer = ? AND author_key IS NOT NULL",
                (customer,),
            )
        ]
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self.db.execute(
            f"SELECT body FROM mention_rows INDEXED BY mentions_created_author WHERE author_key IN ({marks}) "
            "ORDER BY created_us DESC, seq DESC "
            "LIMIT ?", (*keys, limit),
        ).fetchall()
        return [_mention_decoder.decode(row[0]) for row in reversed(rows)]

    def set_case_state(self, case_id: str, state: str, at: float) -> CaseRecord | None:
        """Acknowledge or resolve a case (people act in wall-clock time); None if no such case.
        Acknowledging never moves a case back from responded or resolved."""
        if state not in ("acknowledged", "resolved"):
            raise ValueError(f"a case can be acknowledged or resolved, not set to {state!r}")
        with self.transaction() as db:
            tables = CrmTables(db)
            case = tables.case(case_id)
            if case is None:
                return None
            if case.state == "merged" and case.merged_into:
                case = tables.case(case.merged_into) or case
            if state == "acknowledged":
                case.acknowledged_at = case.acknowledged_at or at
                if case.state == "new":
                    case.state = "acknowledged"
            elif case.state != "resolved":
                case.state, case.resolved_at = "resolved", at
                db.execute("INSERT INTO case_resolutions (case_id, at_us) VALUES (?, ?)", (case.id, _us(at)))
            tables.save_case(case)
            tables.flush()
        return self.case(case.id)

    def case_resolutions(self, after: int, limit: int = 500) -> list[tuple[int, str, float, list[str]]]:
        """Cases resolved by hand after resolution number `after`, in the order they were:
        (number, case id, when in POSIX seconds, the ids of the case's customer mentions)."""
        rows = self.db.execute(
            "SELECT seq, case_id, at_us FROM case_resolutions WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, int(limit)),
        ).fetchall()
        return [
            (seq, case_id, at_us / 1e6, [
                row[0] for row in self.db.execute(
                    "SELECT mention_id FROM case_mentions WHERE case_id = ? AND role = 'customer' "
                    "ORDER BY created_us, mention_id", (case_id,),
                )
            ])
            for seq, case_id, at_us in rows
        ]

    # ------------------------------------------------------------------ alert acknowledgements

    def ack_alert(self, alert_id: str, at: float, by: str, note: str = "") -> bool:
        """Record that someone acknowledged an alert at `at`; False if it was already."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO alert_acks VALUES (?, ?, ?, ?) ON CONFLICT (alert_id) DO NOTHING",
                (alert_id, _us(at), by, note),
            )
        return cur.rowcount == 1

    def alert_acks(self, alert_ids: Sequence[str] | None = None) -> dict[str, float]:
        """alert id → when it was acknowledged (POSIX seconds), for `alert_ids` or all."""
        return {alert_id: at for alert_id, (at, _, _) in self.alert_ack_details(alert_ids).items()}

    def alert_ack_details(self, alert_ids: Sequence[str] | None = None) -> dict[str, tuple[float, str, str]]:
        """alert id → (when, by whom, note) of its acknowledgement, for `alert_ids` or all."""
        query = "SELECT alert_id, at_us, by, note FROM alert_acks"
        if alert_ids is None:
            return {row[0]: (row[1] / 1e6, row[2], row[3]) for row in self.db.execute(query)}
        found: dict[str, tuple[float, str, str]] = {}
        ids = list(alert_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"{query} WHERE alert_id IN ({marks})", chunk)
            found.update({row[0]: (row[1] / 1e6, row[2], row[3]) for row in rows})
        return found

    # ------------------------------------------------------------------ drafts

    def save_drafts(self, drafts: Sequence[DraftRecord]) -> list[str]:
        """Store new drafts (a draft id already stored is left as it is); returns the new ids."""
        added = []
        with self.transaction() as db:
            for draft in drafts:
                cur = db.execute(
                    f"INSERT INTO drafts ({_DRAFT_COLUMNS}) VALUES ({','.join('?' * 17)}) "
                    "ON CONFLICT (id) DO NOTHING",
                    (draft.id, draft.created_at, draft.state, draft.alert_id, draft.case_id,
                     draft.mention_id, draft.channel, draft.responder, draft.template, draft.text,
                     _encode(draft.meta), draft.approved_at, draft.approved_by, draft.posted_at,
                     draft.remote_id, draft.attempts, draft.error),
                )
                if cur.rowcount == 1:
                    added.append(draft.id)
        return added

    def drafts(
        self, *, state: str | None = None, case_id: str | None = None,
        channels: Sequence[str] | None = None, limit: int = 100, offset: int = 0,
    ) -> list[DraftRecord]:
        """Drafts oldest first; `channels`, when given, keeps only drafts on those channels."""
        clauses, args = [], []
        if state is not None:
            if state not in DRAFT_STATES:
                raise ValueError(f"state must be one of {', '.join(DRAFT_STATES)}; got {state!r}")
            clauses.append("state = ?")
            args.append(state)
        if case_id is not None:
            clauses.append("case_id = ?")
            args.append(case_id)
        if channels is not None:
            clauses.append(f"channel IN ({','.join('?' * len(channels))})")
            args.extend(channels)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.execute(
            f"SELECT {_DRAFT_COLUMNS} FROM drafts {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
            (*args, int(limit), int(offset)),
        )
        return [_draft_from_row(row) for row in rows]

    def draft(self, draft_id: str) -> DraftRecord | None:
        row = self.db.execute(f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE id = ?", (draft_id,)).fetchone()
        return _draft_from_row(row) if row else None

    def approve_draft(self, draft_id: str, by: str, text: str | None = None) -> DraftRecord | None:
        """Approve a pending (or failed, or dry-run) draft, optionally with edited text; None if no
        such draft. Raises ValueError for a draft already posted or rejected."""
        with self.transaction() as db:
            row = db.execute(f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE id = ?", (draft_id,)).fetchone()
            if row is None:
                return None
            draft = _draft_from_row(row)
            # A dry run posted nothing: approving it again, once the responder's dry_run is off,
            # is how the reply the team saw logged gets posted for real.
            if draft.state not in ("pending", "failed", "approved", "dry_run"):
                raise ValueError(f"draft {draft_id} is {draft.state}; only a pending, failed or dry-run "
                                 "draft can be approved")
            db.execute(
                "UPDATE drafts SET state = 'approved', approved_at = ?, approved_by = ?, "
                "text = ?, attempts = 0, error = NULL WHERE id = ?",
                (time.time(), by, text if text is not None else draft.text, draft_id),
            )
        return self.draft(draft_id)

    def reject_draft(self, draft_id: str, by: str) -> DraftRecord | None:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE drafts SET state = 'rejected', approved_by = ?, approved_at = ? "
                "WHERE id = ? AND state IN ('pending', 'failed', 'approved')",
                (by, time.time(), draft_id),
            )
        if cur.rowcount == 0 and self.draft(draft_id) is not None:
            raise ValueError(f"draft {draft_id} cannot be rejected any more")
        return self.draft(draft_id)

    def draft_result(
        self, draft_id: str, state: str, *, remote_id: str | None = None, error: str | None = None
    ) -> None:
        """Record a posting attempt: posted / dry_run / failed, or approved again (to retry)."""
        if state not in DRAFT_STATES:
            raise ValueError(f"unknown draft state {state!r}")
        with self.transaction() as db:
            db.execute(
                "UPDATE drafts SET state = ?, remote_id = coalesce(?, remote_id), error = ?, "
                "attempts = attempts + 1, posted_at = CASE WHEN ? IN ('posted', 'dry_run') THEN ? "
                "ELSE posted_at END WHERE id = ?",
                (state, remote_id, error, state, time.time(), draft_id),
            )

