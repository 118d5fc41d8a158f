"""The storage interface. Plugins never see it: they get mentions and emit alerts; only the core
talks to the store, so a new backend (PostgreSQL, say) touches no plugin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sentineld.alertrules import Silence
from sentineld.model import Alert, Mention


class StoreError(Exception):
    """The store cannot do what was asked (disk full, locked, read-only); the message says why."""


@dataclass(slots=True)
class OutboxItem:
    """One pending (or delivered, or dead) delivery to one destination (a notifier id)."""

    seq: int
    key: str
    destination: str
    payload: bytes
    created_at: float
    state: str = "pending"
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = None
    delivered_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "key": self.key,
            "destination": self.destination,
            "state": self.state,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "delivered_at": self.delivered_at,
        }


class Store(Protocol):
    """What the core needs from storage. All methods are synchronous and called from one thread
    (the pipeline's store worker) or from a CLI command; each write is one transaction."""

    # mentions and cursors
    def ingest(
        self, source_id: str, mentions: Sequence[Mention], cursor: str | None
    ) -> list[tuple[int, Mention]]:
        """Store the mentions not stored yet and the source's cursor, in one transaction.
        Returns the new ones with their sequence numbers (duplicates by id are dropped)."""
        ...

    def cursor(self, source_id: str) -> str | None: ...

    def mentions_after(self, seq: int, limit: int) -> list[tuple[int, Mention]]: ...

    def last_seq(self) -> int: ...

    def save_scores(self, scored: Sequence[tuple[int, Mention]]) -> None: ...

    def recent_mentions(
        self, *, limit: int = 50, before_seq: int | None = None, **filters: Any
    ) -> list[tuple[int, Mention]]: ...

    def mention(self, mention_id: str) -> Mention | None: ...

    # checkpoints
    def save_checkpoint(
        self, name: str, seq: int, state: bytes, alert_conditions: Any = None,
        parts: Any = None, state_parts: Any = None, authors: Any = None,
    ) -> None:
        """Store a checkpoint; with `alert_conditions` (`sentineld.alerting.ConditionChanges`),
        apply those open-alert rows in the same transaction; with `parts` ({key: bytes}),
        replace the checkpoint's parts, each a checkpoint of its own named "<name>/<key>";
        with `state_parts` ({component id: `sentineld.components.StateParts`}), apply each
        component's changed parts and drop those of the components not in it; with `authors`
        ((rows, state)), store the influencer registry's rows and state at position `seq`."""
        ...

    def load_state_parts(self, name: str, component: str) -> dict[str, bytes]: ...

    def alert_conditions(self) -> list[tuple[str, str, str, bytes]]: ...

    def load_checkpoint(self, name: str) -> tuple[int, bytes] | None: ...

    # alerts and the outbox
    def record_alert(self, alert: Alert, deliveries: Sequence[tuple[str, str, bytes]]) -> None:
        """Upsert an alert and enqueue its deliveries ((destination, key, payload), ignored if
        the key is already queued) in one transaction."""
        ...

    def alerts(
        self, *, open_only: bool = False, limit: int = 100, offset: int = 0
    ) -> list[Alert]: ...

    def alert(self, alert_id: str) -> Alert | None: ...

    def record_alerts(
        self, alerts: Sequence[Alert], deliveries: Sequence[tuple[str, str, bytes]]
    ) -> None:
        """`record_alert` for many alerts and their deliveries, in one transaction."""
        ...

    def alerts_by_id(self, ids: Sequence[str]) -> dict[str, Alert]: ...

    def enqueue(self, deliveries: Sequence[tuple[str, str, bytes]]) -> None: ...

    def outbox_next(self, destination: str) -> OutboxItem | None: ...

    def outbox_destinations(self) -> list[str]: ...

    def outbox_delivered(self, seq: int, at: float) -> None: ...

    def outbox_failed(self, seq: int, error: str, next_attempt_at: float, dead: bool) -> None: ...

    def outbox(self, *, state: str | None = None, limit: int = 100) -> list[OutboxItem]: ...

    def outbox_retry(self, seq: int) -> bool:
        """Re-queue a dead delivery with a fresh delivery budget; False if no such dead one."""
        ...

    def outbox_counts(self) -> dict[str, dict[str, int]]: ...

    # silences (see sentineld.alertrules.Silence)
    def add_silence(self, silence: Silence) -> None: ...

    def silences(self, *, ending_after: float | None = None) -> list[Silence]: ...

    def silence(self, silence_id: str) -> Silence | None: ...

    def expire_silence(self, silence_id: str, at: datetime) -> Silence | None:
        """End a silence at `at` if it ends later; None if there is no such silence."""
        ...

    # the influencer registry (rows: sentineld.registry.AuthorRecord.to_row())
    def load_authors(
        self, keys: Sequence[str], post_ids: Sequence[str] = ()
    ) -> tuple[list[tuple[Any, ...]], dict[str, str]]:
        """Stored rows of `keys` and of the authors of stored posts `post_ids`, and
        ``{post id: author key}`` for those posts."""
        ...

    def author_keys(self, after: str = "", limit: int = 16_384) -> list[str]:
        """Up to `limit` stored author keys that sort after `after`, in key order."""
        ...

    def save_authors(self, rows: Sequence[tuple[Any, ...]], seq: int, state: bytes) -> None:
        """Upsert author rows with the registry's position and state, in one transaction."""
        ...

    def count_authors(self) -> int: ...

    def rank_authors(
        self, by: str, *, limit: int = 20, watchlist_only: bool = False, include_own: bool = False
    ) -> list[tuple[Any, ...]]:
        """The top author rows by ``reach`` or ``maven_mass``, highest first."""
        ...

    def close(self) -> None: ...
