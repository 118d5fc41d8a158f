"""The embedded store: one SQLite file in WAL mode in the state directory."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import msgspec

from sentineld.alertrules import Silence
from sentineld.changes import (
    DELETED_MARK,
    MIN_QUOTE,
    ChangeCounts,
    MentionChange,
    edited,
    redact_alert,
    redacted,
)
from sentineld.model import Alert, Mention, alert_from_dict, alert_to_dict
from sentineld.store.base import OutboxItem, StoreError
from sentineld.store.crm import CrmStoreMixin
from sentineld.store.migrations import MIGRATIONS
from sentineld.store.sql import insert_rows, json_blob, select_each, select_in

if TYPE_CHECKING:
    from sentineld.alerting import ConditionChanges
    from sentineld.components import StateParts

__all__ = ["SQLiteStore", "open_store"]

DB_NAME: Final = "sentineld.sqlite3"
#: SQLite's page cache per connection: the mentions and authors indexes take random inserts, and
#: with the default 2 MiB every insert past the first million rows reads pages back from disk.
CACHE_KIB: Final = 32 * 1024
#: Page size of a new store (SQLite's default: 4 KiB; a store keeps the size it was made with).
#: SQLite pays per page a WAL frame, its checksum and a write call, and a B-tree a level less
#: deep: 15 % less CPU per stored mention (docs/decisions/0012-sixteen-kib-pages.md).
PAGE_SIZE: Final = 16 * 1024
#: WAL bytes between automatic checkpoints (SQLite's default: 1,000 pages). A page rewritten by
#: several commits in between is copied back into the database once: 25 % less CPU per
#: inserted mention than at 1,000 pages of 4 KiB.
WAL_CHECKPOINT_BYTES: Final = 40 * 1024 * 1024

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_mention_decoder = msgspec.json.Decoder(Mention)
_scored_decoder = msgspec.json.Decoder(dict[str, Any])
_silence_decoder = msgspec.json.Decoder(Silence)
_alert_decoder = msgspec.json.Decoder(Alert)


class _Scored(msgspec.Struct):
    """A mention's ``scored`` column: the JSON of ``{"scores": …, "labels": …, "matches": …}``,
    keys in that order, encoded from a struct (its keys are encoded once, not per mention)."""

    scores: dict[str, float]
    labels: dict[str, str]
    matches: list[str]


def open_store(state_dir: Path, *, synchronous: str = "NORMAL") -> SQLiteStore:
    """Open (creating and migrating if needed) the store in `state_dir`. A directory made here
    is private to the user (0700, as the systemd unit's StateDirectoryMode=): the store holds
    what customers wrote, their addresses and handles."""
    make_state_dir(state_dir)
    return SQLiteStore(state_dir / DB_NAME, synchronous=synchronous)


def make_state_dir(state_dir: Path) -> None:
    """Create `state_dir` if missing, private to the user (0700); StoreError if it cannot be."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create state directory {state_dir}: {exc.strerror}") from None


LOCK_NAME: Final = "daemon.lock"


def lock_state_dir(state_dir: Path) -> int:
    """Hold the state directory for one daemon: returns the descriptor of its lock file (the
    lock goes with it when closed, or when the process dies). Raises StoreError naming the pid
    of the daemon already holding it: two daemons on one store would both deliver every
    notification and overwrite each other's checkpoints."""
    make_state_dir(state_dir)
    try:
        fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot use state directory {state_dir}: its lock file {LOCK_NAME}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StoreError(
            f"another sentineld (pid {holder}) is running on the state directory {state_dir}; "
            "stop it first, or give this one its own state_dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _us(seconds: float) -> int:
    return int(round(seconds * 1_000_000))


class SQLiteStore(CrmStoreMixin):
    """`sentineld.store.Store` on SQLite. Not thread-safe: use it from one thread at a time."""

    def __init__(
        self, path: Path | str, *, synchronous: str = "NORMAL", busy_timeout: float = 10.0
    ) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
            self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new file only: before WAL makes it
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={synchronous}")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self.set_wal_autocheckpoint(WAL_CHECKPOINT_BYTES)
            self.migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store: {_explain(exc, self.path)}") from None
        self._next_seq = self.last_seq() + 1

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error; sqlite errors become StoreError."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(_explain(exc, self.path)) from None
        try:
            yield self.db
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(_explain(exc, self.path)) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(_explain(exc, self.path)) from None

    def _rollback(self) -> None:
        """Roll back unless SQLite already did (it does on SQLITE_FULL, for one)."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def migrate(self) -> list[str]:
        """Apply the migrations not applied yet; returns their names."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)"
        )
        done = {row[0] for row in self.db.execute("SELECT name FROM migrations")}
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(sql):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            applied.append(name)
        return applied

    def set_wal_autocheckpoint(self, wal_bytes: int) -> None:
        """Let this connection checkpoint the WAL itself only past `wal_bytes` (0: never)."""
        page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
        self.db.execute(f"PRAGMA wal_autocheckpoint={wal_bytes // page_size}")

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ mentions

    def ingest(
        self, source_id: str, mentions: Sequence[Mention], cursor: str | None
    ) -> list[tuple[int, Mention]]:
        """Store the mentions not stored yet and the source's cursor, in one transaction; returns
        the new ones with their sequence numbers."""
        return self.ingest_many([(source_id, mentions, cursor)])[0]

    def ingest_many(
        self, batches: Sequence[tuple[str, Sequence[Mention], str | None]]
    ) -> list[list[tuple[int, Mention]]]:
        """`ingest` for several batches (of any sources) in one transaction, as the pipeline
        groups the batches that queued up while the store was busy: one commit writes each
        touched index page once instead of once per batch. Returns the new mentions per batch.

        Most groups hold no mention stored before, so they are inserted without looking their
        ids up first; only when the id index refuses one is the group numbered again without
        the mentions already stored."""
        with self.transaction() as db:
            per_batch, seq = self._insert_group(db, batches)
        self._next_seq = seq
        return per_batch

    def ingest_changes(
        self,
        batches: Sequence[tuple[str, Sequence[Mention], str | None]],
        changes: Sequence[MentionChange],
    ) -> tuple[list[list[tuple[int, Mention]]], ChangeCounts]:
        """`ingest_many`, and the deletions and edits sources reported with those batches, in
        the same transaction (after the mentions: a change may name one of them)."""
        with self.transaction() as db:
            per_batch, seq = self._insert_group(db, batches)
            counts = self._apply_changes(db, changes)
        self._next_seq = seq
        return per_batch, counts

    def _insert_group(
        self, db: sqlite3.Connection, batches: Sequence[tuple[str, Sequence[Mention], str | None]]
    ) -> tuple[list[list[tuple[int, Mention]]], int]:
        """Insert the batches' new mentions and store their cursors (inside a transaction)."""
        db.execute("SAVEPOINT ingest")
        rows, per_batch, seq = self._numbered(batches, set())
        try:
            insert_rows(db, _INSERT_MENTION, rows)
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO ingest")
            ids = (m.id for _, mentions, _ in batches for m in mentions)
            known = {row[0] for row in select_in(db, "SELECT id FROM mention_rows WHERE id IN ({marks})", ids)}
            rows, per_batch, seq = self._numbered(batches, known)
            insert_rows(db, _INSERT_MENTION, rows)
        db.execute("RELEASE ingest")
        cursors = {source_id: cursor for source_id, _, cursor in batches if cursor is not None}
        now = time.time()
        db.executemany(
            "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT (source_id) "
            "DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            [(source_id, cursor, now) for source_id, cursor in cursors.items()],
        )
        return per_batch, seq

    def _apply_changes(self, db: sqlite3.Connection, changes: Sequence[MentionChange]) -> ChangeCounts:
        """Redact deleted mentions and store edited text. A change is applied once: a deleted
        mention stays deleted (a late edit cannot bring text back), an edit older than the
        last one applied is stale, and a mention never stored is only counted."""
        counts = ChangeCounts()
        for change in changes:
            row = db.execute(
                "SELECT seq, body, deleted_us, edited_us FROM mention_rows WHERE id = ?", (change.mention_id,)
            ).fetchone()
            if row is None:
                counts.unknown += 1
                continue
            seq, body, deleted_us, edited_us = row
            at_us = _us(change.at.timestamp())
            if deleted_us is not None or (change.kind == "edited" and edited_us is not None and at_us <= edited_us):
                counts.repeated += 1
                continue
            mention = _mention_decoder.decode(body)
            if change.kind == "deleted":
                db.execute("UPDATE mention_rows SET body = ?, deleted_us = ? WHERE seq = ?",
                           (_encode(redacted(mention, change.at)), at_us, seq))
                self._forget_quotes(db, mention)
                counts.deleted += 1
            else:
                assert change.text is not None
                db.execute("UPDATE mention_rows SET body = ?, edited_us = ? WHERE seq = ?",
                           (_encode(edited(mention, change.text, change.at)), at_us, seq))
                counts.edited += 1
        return counts

    @staticmethod
    def _forget_quotes(db: sqlite3.Connection, mention: Mention) -> None:
        """A deleted mention's text out of what quotes it in the store: drafts that quote it
        verbatim, and the title of the case it opened."""
        text = mention.text.strip()
        if len(text) >= MIN_QUOTE:
            db.execute("UPDATE drafts SET text = replace(text, ?, ?) WHERE instr(text, ?) > 0",
                       (text, DELETED_MARK, text))
        row = db.execute(
            "SELECT c.id, c.body FROM case_mentions AS m JOIN cases AS c ON c.id = m.case_id "
            "WHERE m.mention_id = ?", (mention.id,)
        ).fetchone()
        if row is not None:
            from sentineld.cases import _title as case_title  # noqa: PLC0415 - cases imports the store

            case_body = _decode(row[1])
            if case_body.get("title") and case_body["title"] == case_title(mention.text):
                case_body["title"] = DELETED_MARK
                db.execute("UPDATE cases SET body = ? WHERE id = ?", (_encode(case_body), row[0]))

    def deleted_mentions(self, ids: Sequence[str], until: float | None = None) -> set[str]:
        """Which of `ids` are mentions their authors deleted (at or before `until`, POSIX
        seconds of event time, when given)."""
        sql = "SELECT id FROM mention_rows WHERE id IN ({marks}) AND deleted_us IS NOT NULL"
        if until is not None:
            sql += f" AND deleted_us <= {_us(until)}"  # an int: nothing to quote
        return {row[0] for row in select_in(self.db, sql, ids)}

    def _for_people(self, alerts: list[Alert]) -> list[Alert]:
        """Alerts as the API and CLI show them: those naming a deleted mention redacted."""
        deleted = self.deleted_mentions([m for alert in alerts for m in alert.mentions])
        if not deleted:
            return alerts
        return [redact_alert(a, deleted.intersection(a.mentions)) for a in alerts]

    def _numbered(
        self, batches: Sequence[tuple[str, Sequence[Mention], str | None]], known: set[str]
    ) -> tuple[list[tuple[Any, ...]], list[list[tuple[int, Mention]]], int]:
        """The rows to insert for the mentions not in `known` (nor earlier in the group), the
        new mentions per batch with their sequence numbers, and the next sequence number."""
        rows: list[tuple[Any, ...]] = []
        per_batch: list[list[tuple[int, Mention]]] = []
        seq = self._next_seq
        for source_id, mentions, _ in batches:
            fresh: list[tuple[int, Mention]] = []
            for mention in mentions:
                mention_id = mention.id
                if mention_id in known:
                    continue
                known.add(mention_id)
                # The struct as msgspec encodes it: the same JSON, without a dict between.
                rows.append((seq, mention_id, mention.source, source_id, round(mention.timestamp * 1_000_000),
                             mention.author_key, json_blob(mention)))
                fresh.append((seq, mention))
                seq += 1
            per_batch.append(fresh)
        return rows, per_batch, seq

    def cursor(self, source_id: str) -> str | None:
        row = self.db.execute("SELECT cursor FROM cursors WHERE source_id = ?", (source_id,)).fetchone()
        return row[0] if row else None

    def last_seq(self) -> int:
        row = self.db.execute("SELECT max(seq) FROM mention_rows").fetchone()
        return row[0] or 0

    def mentions_after(self, seq: int, limit: int) -> list[tuple[int, Mention]]:
        rows = self.db.execute(
            "SELECT seq, body, scored FROM mentions WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [(row[0], _load_mention(row[1], row[2])) for row in rows]

    def save_scores(self, scored: Sequence[tuple[int, Mention]]) -> None:
        """Store the scores, labels and matches of mentions (appended by sequence number, in
        the order they were stored; a mention scored again after a restart is overwritten)."""
        rows = [(seq, json_blob(_Scored(m.scores, m.labels, m.matches))) for seq, m in scored]
        with self.transaction() as db:
            insert_rows(
                db, "INSERT INTO mention_scores VALUES (?, ?) ON CONFLICT (seq) DO UPDATE SET scored = excluded.scored",
                rows,
            )

    def recent_mentions(
        self,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        source: str | None = None,
        author_key: str | None = None,
        since: float | None = None,
    ) -> list[tuple[int, Mention]]:
        clauses, args = [], []
        if before_seq is not None:
            clauses.append("seq < ?")
            args.append(before_seq)
        if source is not None:
            clauses.append("source = ?")
            args.append(source)
        if author_key is not None:
            # No index leads by author (docs/decisions/0011): the covering time index is scanned
            # for the author's rows, far narrower than the rows themselves.
            clauses.append(f"seq IN (SELECT rowid FROM mention_rows {_BY_AUTHOR} WHERE author_key = ?)")
            args.append(author_key)
        if since is not None:
            clauses.append("created_us >= ?")
            args.append(_us(since))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.execute(
            f"SELECT seq, body, scored FROM mentions {where} ORDER BY seq DESC LIMIT ?",
            (*args, limit),
        )
        return [(row[0], _load_mention(row[1], row[2])) for row in rows]

    def mention(self, mention_id: str) -> Mention | None:
        row = self.db.execute(
            "SELECT body, scored FROM mentions WHERE id = ?", (mention_id,)
        ).fetchone()
        return _load_mention(row[0], row[1]) if row else None

    def count_mentions(self) -> int:
        return self.db.execute("SELECT count(*) FROM mention_rows").fetchone()[0]

    # ------------------------------------------------------------------ influencer registry
    # Rows are `sentineld.registry.AuthorRecord.to_row()` tuples, in `AUTHOR_COLUMNS` order, as
    # the `author_rows` table holds them (a few values left out where the row implies them:
    # migration 0014); the `authors` view gives every value.

    def load_authors(
        self, keys: Sequence[str], post_ids: Sequence[str] = ()
    ) -> tuple[list[tuple[Any, ...]], dict[str, str]]:
        """The stored rows of `keys` and of the authors of the stored posts `post_ids`, and
        ``{post id: author key}`` for those posts."""
        post_authors: dict[str, str] = dict(select_each(self.db, _POST_AUTHORS_EACH, post_ids))  # type: ignore[arg-type]
        # Rows in key order per query, as the query with ORDER BY gave them, without SQLite
        # sorting them (7 % of a look-up's CPU, decision 0132).
        rows = list(select_each(self.db, _AUTHORS_EACH, [*keys, *post_authors.values()], sort_chunks=True))
        return cast("list[tuple[Any, ...]]", rows), post_authors

    def author_keys(self, after: str = "", limit: int = 16_384) -> list[str]:
        """Up to `limit` stored author keys that sort after `after`, in key order."""
        rows = self.db.execute("SELECT key FROM author_rows WHERE key > ? ORDER BY key LIMIT ?", (after, limit))
        return [row[0] for row in rows]

    def save_authors(self, rows: Sequence[tuple[Any, ...]], seq: int, state: bytes) -> None:
        """Upsert author rows and the registry's position (`seq`) and state, in one transaction."""
        with self.transaction() as db:
            self._save_authors(db, rows, seq, state)

    @staticmethod
    def _save_authors(db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]], seq: int, state: bytes) -> None:
        marks = ",".join("?" * len(AUTHOR_COLUMNS))
        insert_rows(db, f"INSERT OR REPLACE INTO author_rows ({_AUTHOR_SELECT}) VALUES ({marks})", rows)
        db.execute(
            "INSERT INTO checkpoints VALUES ('influencers', ?, ?, ?) ON CONFLICT (name) DO "
            "UPDATE SET seq = excluded.seq, state = excluded.state, "
            "updated_at = excluded.updated_at",
            (seq, state, time.time()),
        )

    def count_authors(self) -> int:
        return self.db.execute("SELECT count(*) FROM authors").fetchone()[0]

    def rank_authors(
        self,
        by: str,
        *,
        limit: int = 20,
        watchlist_only: bool = False,
        include_own: bool = False,
    ) -> list[tuple[Any, ...]]:
        """The top `limit` author rows by ``reach`` or ``maven_mass``, highest first (the
        brand's own accounts left out unless `include_own`)."""
        if by not in ("reach", "maven_mass"):
            raise ValueError(f"cannot rank authors by {by!r}")
        where = f"{by} IS NOT NULL"
        if not include_own:
            where += " AND own = 0"
        if watchlist_only:
            where += " AND watchlist = 1"
        rows = self.db.execute(
            f"SELECT {_AUTHOR_SELECT} FROM authors WHERE {where} ORDER BY {by} DESC, key LIMIT ?",
            (limit,),
        )
        return [tuple(row) for row in rows]

    # ------------------------------------------------------------------ end of influencer registry

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(
        self, name: str, seq: int, state: bytes, alert_conditions: ConditionChanges | None = None,
        parts: Mapping[str, bytes] | None = None, state_parts: Mapping[str, StateParts] | None = None,
        authors: tuple[Sequence[tuple[Any, ...]], bytes] | None = None,
    ) -> None:
        """Store a checkpoint, with the open-alert rows that changed since the last one (see
        `AlertManager.take_changes`) in the same transaction. `parts` replace the checkpoint's
        parts: each a row of its own named "<name>/<key>" (read with `load_checkpoint`), so
        that no single blob holds them all. `state_parts`: the components' states given in
        parts (`Component.snapshot_parts`), by component id, of which only the changes are
        written (read with `load_state_parts`). `authors`: the influencer registry's changed
        rows and state, stored at the checkpoint's position (as `save_authors` does)."""
        now = time.time()
        upsert = (
            "INSERT INTO checkpoints VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "seq = excluded.seq, state = excluded.state, updated_at = excluded.updated_at"
        )
        with self.transaction() as db:
            db.execute(upsert, (name, seq, state, now))
            if parts is not None:
                names = [f"{name}/{key}" for key in parts]
                marks = ",".join("?" * len(names))
                # The part rows sort between "<name>/" and "<name>0" ("0" follows "/").
                db.execute(f"DELETE FROM checkpoints WHERE name > ? AND name < ? AND name NOT IN ({marks})",
                           (f"{name}/", f"{name}0", *names))
                for part_name, part in zip(names, parts.values(), strict=True):
                    db.execute(upsert, (part_name, seq, part, now))
            if state_parts is not None:
                self._save_state_parts(db, name, state_parts)
            if alert_conditions is not None:
                self._save_alert_conditions(db, alert_conditions)
            if authors is not None:
                self._save_authors(db, authors[0], seq, authors[1])

    @staticmethod
    def _save_state_parts(db: sqlite3.Connection, name: str, state_parts: Mapping[str, StateParts]) -> None:
        """Apply each component's changed and removed parts; drop the parts of components
        this checkpoint has none for (a failed snapshot, a component removed)."""
        marks = ",".join("?" * len(state_parts))
        db.execute(f"DELETE FROM checkpoint_parts WHERE checkpoint = ? AND component NOT IN ({marks})",
                   (name, *state_parts))
        for component, parts in state_parts.items():
            if parts.complete:
                db.execute("DELETE FROM checkpoint_parts WHERE checkpoint = ? AND component = ?", (name, component))
            elif parts.removed:
                db.executemany("DELETE FROM checkpoint_parts WHERE checkpoint = ? AND component = ? AND part = ?",
                               [(name, component, part) for part in parts.removed])
            db.executemany(
                "INSERT INTO checkpoint_parts VALUES (?, ?, ?, ?) "
                "ON CONFLICT (checkpoint, component, part) DO UPDATE SET state = excluded.state",
                [(name, component, part, state) for part, state in parts.changed.items()],
            )

    def load_checkpoint(self, name: str) -> tuple[int, bytes] | None:
        row = self.db.execute(
            "SELECT seq, state FROM checkpoints WHERE name = ?", (name,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def load_state_parts(self, name: str, component: str) -> dict[str, bytes]:
        """The parts a component's `snapshot_parts` stored with the checkpoint `name`."""
        rows = self.db.execute(
            "SELECT part, state FROM checkpoint_parts WHERE checkpoint = ? AND component = ?", (name, component)
        )
        return dict(rows)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ alerts

    def record_alert(self, alert: Alert, deliveries: Sequence[tuple[str, str, bytes]]) -> None:
        self.record_alerts([alert], deliveries)

    def record_alerts(
        self, alerts: Sequence[Alert], deliveries: Sequence[tuple[str, str, bytes]]
    ) -> None:
        """Upsert alerts and queue deliveries (in their order) in one transaction."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                "SET severity = excluded.severity, resolved_us = excluded.resolved_us, "
                "body = excluded.body",
                [
                    (
                        alert.id,
                        alert.trigger,
                        alert.kind,
                        alert.subject,
                        alert.channel,
                        alert.severity,
                        _us(alert.opened_at.timestamp()),
                        _us(alert.resolved_at.timestamp()) if alert.resolved_at else None,
                        json_blob(alert_to_dict(alert)),
                    )
                    for alert in alerts
                ],
            )
            self._enqueue(db, deliveries)

    def alerts_by_id(self, ids: Sequence[str]) -> dict[str, Alert]:
        rows = select_in(self.db, "SELECT id, body FROM alerts WHERE id IN ({marks})", ids)
        return {row[0]: _alert_decoder.decode(row[1]) for row in rows}

    def alert_conditions(self) -> list[tuple[str, str, str, bytes]]:
        """The open-alert rows of the last checkpoint (see `AlertManager.restore`)."""
        rows = self.db.execute("SELECT trigger, subject, channel, state FROM alert_conditions")
        return [tuple(row) for row in rows]  # type: ignore[misc]

    @staticmethod
    def _save_alert_conditions(db: sqlite3.Connection, changes: ConditionChanges) -> None:
        if changes.reset:
            db.execute("DELETE FROM alert_conditions")
        latest = {(t, s, c): row for t, s, c, row in changes.rows}
        db.executemany(
            "DELETE FROM alert_conditions WHERE trigger = ? AND subject = ? AND channel = ?",
            [key for key, row in latest.items() if row is None],
        )
        db.executemany(
            "INSERT INTO alert_conditions VALUES (?, ?, ?, ?) ON CONFLICT (trigger, subject, "
            "channel) DO UPDATE SET state = excluded.state",
            [(*key, row) for key, row in latest.items() if row is not None],
        )

    def alerts(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> list[Alert]:
        """Alerts as people see them (the API, the CLI): one naming a mention its author
        deleted has its quotes withheld (`sentineld.changes.redact_alert`)."""
        where = "WHERE resolved_us IS NULL" if open_only else ""
        rows = self.db.execute(
            f"SELECT body FROM alerts {where} ORDER BY opened_us DESC, id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return self._for_people([alert_from_dict(_decode(row[0])) for row in rows])

    def alert(self, alert_id: str) -> Alert | None:
        """One alert as people see it (see `alerts`)."""
        row = self.db.execute("SELECT body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return self._for_people([alert_from_dict(_decode(row[0]))])[0] if row else None

    # ------------------------------------------------------------------ outbox

    def enqueue(self, deliveries: Sequence[tuple[str, str, bytes]]) -> None:
        with self.transaction() as db:
            self._enqueue(db, deliveries)

    @staticmethod
    def _enqueue(db: sqlite3.Connection, deliveries: Sequence[tuple[str, str, bytes]]) -> None:
        now = time.time()
        db.executemany(
            "INSERT INTO outbox (key, destination, payload, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING",
            [(key, destination, payload, now) for destination, key, payload in deliveries],
        )

    def outbox_next(self, destination: str) -> OutboxItem | None:
        row = self.db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE destination = ? AND state = 'pending' "
            "ORDER BY seq LIMIT 1",
            (destination,),
        ).fetchone()
        return OutboxItem(*row) if row else None

    def outbox_destinations(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT destination FROM outbox WHERE state = 'pending'")
        return [row[0] for row in rows]

    def outbox_delivered(self, seq: int, at: float) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'delivered', delivered_at = ?, attempts = attempts + 1 "
                "WHERE seq = ?",
                (at, seq),
            )

    def outbox_failed(self, seq: int, error: str, next_attempt_at: float, dead: bool) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
                "state = ? WHERE seq = ?",
                (error, next_attempt_at, "dead" if dead else "pending", seq),
            )

    def outbox(self, *, state: str | None = None, limit: int = 100) -> list[OutboxItem]:
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        rows = self.db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox {where} ORDER BY seq DESC LIMIT ?", (*args, limit)
        )
        return [OutboxItem(*row) for row in rows]

    def outbox_retry(self, seq: int) -> bool:
        """Put a dead delivery back in its queue with a fresh delivery budget (its `created_at`
        becomes now); False if there is no such dead delivery."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = 0, created_at = ? "
                "WHERE seq = ? AND state = 'dead'",
                (time.time(), seq),
            )
        return cur.rowcount == 1

    def outbox_counts(self) -> dict[str, dict[str, int]]:
        """{destination: {state: count}} over the whole outbox."""
        counts: dict[str, dict[str, int]] = {}
        rows = self.db.execute(
            "SELECT destination, state, count(*) FROM outbox GROUP BY destination, state"
        )
        for destination, state, count in rows:
            counts.setdefault(destination, {})[state] = count
        return counts

    def outbox_depth(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]

    # ------------------------------------------------------------------ silences (alerting)

    def add_silence(self, silence: Silence) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO silences VALUES (?, ?, ?, ?)",
                (silence.id, _us(silence.starts_at.timestamp()), _us(silence.ends_at.timestamp()),
                 _encode(silence)),
            )

    def silences(self, *, ending_after: float | None = None) -> list[Silence]:
        """Silences (newest first), optionally only those ending after `ending_after`."""
        where, args = ("WHERE ends_us > ?", (_us(ending_after),)) if ending_after is not None else ("", ())
        rows = self.db.execute(f"SELECT body FROM silences {where} ORDER BY starts_us DESC, id", args)
        return [_silence_decoder.decode(row[0]) for row in rows]

    def silence(self, silence_id: str) -> Silence | None:
        row = self.db.execute("SELECT body FROM silences WHERE id = ?", (silence_id,)).fetchone()
        return _silence_decoder.decode(row[0]) if row else None

    def expire_silence(self, silence_id: str, at: datetime) -> Silence | None:
        """End a silence at `at` (if it ends later); None if there is no such silence."""
        with self.transaction() as db:
            row = db.execute("SELECT body FROM silences WHERE id = ?", (silence_id,)).fetchone()
            if row is None:
                return None
            silence = _silence_decoder.decode(row[0])
            if silence.ends_at > at:
                silence.ends_at = max(at, silence.starts_at)
                db.execute(
                    "UPDATE silences SET ends_us = ?, body = ? WHERE id = ?",
                    (_us(silence.ends_at.timestamp()), _encode(silence), silence_id),
                )
        return silence

    # ------------------------------------------------------------------ end of silences


_INSERT_MENTION: Final = (
    "INSERT INTO mention_rows (seq, id, source, source_id, created_us, author_key, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
#: Mentions by author: a scan of the (created_us, author_key) index, which holds both columns.
_BY_AUTHOR: Final = "INDEXED BY mentions_created_author"

_OUTBOX_COLUMNS: Final = (
    "seq, key, destination, payload, created_at, state, attempts, next_attempt_at, "
    "last_error, delivered_at"
)


def _load_mention(body: bytes, scored: bytes | None) -> Mention:
    mention = _mention_decoder.decode(body)
    if scored:
        extra = _scored_decoder.decode(scored)
        mention.scores = extra.get("scores", {})
        mention.labels = extra.get("labels", {})
        mention.matches = extra.get("matches", [])
    return mention


AUTHOR_COLUMNS: Final = (
    "key", "source", "handle", "name", "followers", "following", "posts", "created_us",
    "first_seen_us", "last_seen_us", "mentions", "on_topic", "engaged", "sentiment_sum",
    "sentiment_n", "maven_mass", "reach", "audience_mass", "connector", "maven", "influence",
    "watchlist", "own",
)  # fmt: skip
_AUTHOR_SELECT: Final = ", ".join(AUTHOR_COLUMNS)
# The registry's loads (`select_each`), ordered as the IN (...) queries they replace returned
# them: the registry admits records, and remembers posts, in this order. The authors' query
# returns its rows in the order of the keys it is given, sorted per chunk (`sort_chunks`).
_POST_AUTHORS_EACH: Final = (
    "SELECT r.id, r.author_key FROM {values} AS v JOIN mention_rows AS r ON r.id = v.value "
    "WHERE r.author_key IS NOT NULL ORDER BY r.id"
)
_AUTHORS_EACH: Final = (
    f"SELECT {', '.join(f'a.{column}' for column in AUTHOR_COLUMNS)} FROM {{values}} AS v "
    "JOIN author_rows AS a ON a.key = v.value"
)


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def _explain(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return f"the disk holding {path} is full: free space, then sentineld resumes"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return f"{path} is read-only: give the daemon's user write access to the state directory"
    if "locked" in text:
        return f"{path} is locked by another process (is a second sentineld running on it?)"
    return f"store error on {path}: {text}"
