"""The influencer registry: what the stream has taught sentineld about each author.

Per author (keyed ``source:author-id``): the latest profile (followers, following, posts,
account age), how many mentions and how many on-topic mentions they wrote, first and last seen
(event time), their mean sentiment toward the brand, the engagement their posts drew in the
stream, a forward-decayed *maven mass* (below), the last connector/maven/influence scores, and
whether they are on the watchlist or one of the brand's own accounts.

Memory stays bounded: the registry keeps a hot set of recently seen authors (LRU, trimmed
between batches) and the rest in the store's ``authors`` table. Watchlisted authors stay in memory for good. The pipeline's
tracking step (`Tracking`) loads the authors of a batch that are not hot before the scorers run,
applies the batch's facts (`InfluencerRegistry.observe`), lets the scorers read the records,
records what the scorers found (`InfluencerRegistry.record`), and hands the dirty records to each
checkpoint barrier (`Tracking.at_barrier`): they reach the store in the checkpoint's transaction
and nowhere else, so that after a crash the stored records are exactly those of the stream up to
the checkpoint the pipeline re-feeds from (decisions 0003, 0130). When evicted records pile up,
the registry asks the pipeline for an early barrier instead of writing them on its own.

Maven mass uses *forward decay* (Cormode et al., ICDE 2009): an on-topic post of weight ``w`` at
event time ``t`` adds ``w * exp(t / tau)``, kept as a logarithm. The decayed value at any time
``T`` is ``exp(mass - T / tau)``, so comparing masses compares authors' current decayed
authority without touching every record as time passes, and a plain ``ORDER BY`` ranks mavens.

The records, the recent posts and the registry's per-mention work live in `sentineld.authors`
(compiled with mypyc where it can be, decision 0131); this module re-exports them beside what
stays Python: the options, the checkpoint's write and the tracking step.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final

from sentineld.authors import (
    NO_MASS,
    UNCHECKED,
    AuthorAt,
    AuthorRecord,
    InfluencerRegistry,
    RecentPosts,
    _decode_state,
    log_add,
)
from sentineld.logs import get_logger
from sentineld.model import Mention
from sentineld.options import Duration, Options
from sentineld.store.base import StoreError

if TYPE_CHECKING:
    from sentineld.store.worker import StoreWorker

__all__ = [
    "NO_MASS",
    "UNCHECKED",
    "AuthorAt",
    "AuthorRecord",
    "AuthorWrite",
    "InfluencerOptions",
    "InfluencerRegistry",
    "RecentPosts",
    "Tracking",
    "log_add",
    "REGISTRY_CHECKPOINT",
]

log = get_logger("sentineld.registry")

#: The name under which the registry's position and population state are checkpointed.
REGISTRY_CHECKPOINT: Final = "influencers"

_row_key = itemgetter(0)


class InfluencerOptions(Options):
    """The `[influencers]` section: how the registry remembers authors."""

    #: Authors kept in memory (least recently seen leave first); the rest live in the store.
    hot_authors: int = 50_000
    #: Recent posts remembered in memory to credit reshares and replies to their author (older
    #: ones are looked up in the store).
    recent_posts: int = 50_000
    #: Half-life of an author's maven mass: authority fades unless the author keeps posting.
    half_life: Duration = Duration(7 * 86400)
    #: Weight of a like against a reshare or a reply (those are what Cha et al. measure; a like
    #: costs the reader less).
    like_weight: float = 0.25
    #: Dirty records evicted from the hot set at which the registry asks for an early checkpoint
    #: (its records reach the store only with one).
    flush_every: int = 20_000

    def __post_init__(self) -> None:
        if self.hot_authors < 1 or self.recent_posts < 1 or self.flush_every < 1:
            raise ValueError("hot_authors, recent_posts and flush_every must be at least 1")
        if self.half_life <= 0:
            raise ValueError("half_life must be longer than 0s")
        if self.like_weight < 0:
            raise ValueError("like_weight cannot be negative")

    @property
    def tau(self) -> float:
        """The decay's time constant in seconds (``half_life / ln 2``)."""
        return self.half_life / math.log(2)


@dataclass(slots=True)
class AuthorWrite:
    """What a checkpoint stores of the registry: the rows of the records changed since the
    last one (in key order) and the registry's state (`InfluencerRegistry.state`)."""

    rows: list[tuple[Any, ...]]
    state: bytes

    def then(self, later: AuthorWrite | None) -> AuthorWrite:
        """This write followed by `later` (of a key, the later row wins), as one."""
        if later is None:
            return self
        rows = {row[0]: row for row in self.rows}
        rows.update((row[0], row) for row in later.rows)
        return AuthorWrite(sorted(rows.values(), key=_row_key), later.state)


class Tracking:
    """The pipeline's tracking step: keeps the registry in step with the stream and the store.

    Batches are lists of ``(seq, mention)``. In a pipeline (`request_barrier` given) the records
    reach the store only with checkpoints: `at_barrier` hands over what changed, the pipeline
    stores it in the checkpoint's transaction and calls `stored`; when evicted records pile up,
    `request_barrier` asks for an early checkpoint. Without a pipeline (tools, tests) `flush`
    writes them on its own. A mention whose sequence number the stored records already cover
    (written ahead of the checkpoint by an earlier version, then re-fed after a crash) is scored
    again but not counted again.
    """

    #: Stored author keys read with each batch until the registry has them all.
    KEYS_PER_BATCH: Final = 16_384

    def __init__(
        self, registry: InfluencerRegistry, store: StoreWorker,
        request_barrier: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.request_barrier = request_barrier
        self.writes = 0
        self._unsaved: list[tuple[Any, ...]] = []
        #: An early barrier was asked for and has not passed yet.
        self._asked = False
        #: The last stored author key read into `InfluencerRegistry.stored_keys`.
        self._keys_after = ""

    async def start(self) -> None:
        saved = await self.store.call("load_checkpoint", REGISTRY_CHECKPOINT)
        if saved is not None:
            self.registry.restore(*saved)

    async def before_scoring(self, batch: Sequence[tuple[int, Mention]]) -> None:
        """Load the batch's authors that are not in memory, then apply the batch's facts."""
        registry = self.registry
        if not registry.stored_keys_complete:
            await self._read_stored_keys()
        keys, posts = registry.missing([m for _, m in batch])
        if keys or posts:
            registry.admit(*await self._load(keys, posts))
        registry.observe_batch(batch)

    async def _read_stored_keys(self) -> None:
        """Read the next part of the stored author keys, in key order: a part per batch rather
        than all at start, so that neither start-up nor one batch waits for them all. Until the
        last part, every author the batch's memory lacks is looked up."""
        try:
            keys = await self.store.call("author_keys", self._keys_after, self.KEYS_PER_BATCH)
        except StoreError as exc:
            log.warning("cannot read the stored author keys; looking every author up", error=str(exc))
            return
        self.registry.add_stored_keys(keys)
        if len(keys) < self.KEYS_PER_BATCH:
            self.registry.stored_keys_complete = True
        else:
            self._keys_after = keys[-1]

    async def _load(self, keys: list[str], posts: list[str]) -> tuple[list[Any], dict[str, str]]:
        """Stored records; while the store fails the batch waits (a fresh record in place of a
        stored one would overwrite it)."""
        delay = 0.5
        while True:
            try:
                return await self.store.call("load_authors", keys, posts)  # type: ignore[no-any-return]
            except StoreError as exc:
                log.error("cannot load influencer records; retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def after_scoring(self, batch: Sequence[tuple[int, Mention]]) -> None:
        """Keep what the scorers found; when too many evicted records wait in memory, ask for
        an early checkpoint (or, without a pipeline, write them)."""
        registry = self.registry
        registry.record_batch(batch)
        if batch:
            registry.applied_seq = max(registry.applied_seq, batch[-1][0])
        registry.trim()
        if registry.needs_flush:
            if self.request_barrier is None:
                await self.flush()
            elif not self._asked:
                self._asked = True
                self.request_barrier("influencer records evicted from memory wait to be written")

    def at_barrier(self) -> AuthorWrite | None:
        """What a checkpoint barrier passing the score stage must store of the registry: the
        records changed since the last barrier and the registry's state, as they are now. None
        when nothing was observed since the last stored write."""
        self._asked = False
        registry = self.registry
        rows = registry.take_dirty()
        if not rows and registry.applied_seq <= registry.stored_seq:
            return None
        return AuthorWrite(rows, registry.state())

    def stored(self, write: AuthorWrite, seq: int) -> None:
        """The checkpoint at `seq` stored `write` (the pipeline says so once it has)."""
        self.registry.stored(write.rows)
        self.registry.stored_seq = max(self.registry.stored_seq, seq)
        self.writes += 1

    async def flush(self) -> None:
        """Write every dirty record and the position they are complete up to, in one
        transaction of their own: for a registry kept without a pipeline, whose checkpoints
        would otherwise carry them."""
        registry = self.registry
        rows = self._unsaved + registry.take_dirty()
        if not rows and registry.applied_seq <= registry.stored_seq:
            return
        rows.sort(key=_row_key)  # stable: of two rows of a key the later still wins
        try:
            await self.store.call("save_authors", rows, registry.applied_seq, registry.state())
        except StoreError as exc:
            self._unsaved = rows  # written with the next flush; later rows of a key win
            log.error("cannot store influencer records; keeping them", error=str(exc), rows=len(rows))
            return
        self._unsaved = []
        registry.stored(rows)
        registry.stored_seq = registry.applied_seq
        self.writes += 1


# --------------------------------------------------------------------------- reading the registry


def top_influencers(
    store: Any,
    *,
    kind: str | None = None,
    top: int = 20,
    watchlist_only: bool = False,
    include_own: bool = False,
) -> list[dict[str, Any]]:
    """The `top` authors of a store by ``connector``, ``maven`` or (None) ``influence``, with
    their scores against the audience as last saved (see `sentineld.audience`).

    Ranking by reach and by maven mass gives the same order as the scores (both grow with
    them); the top N by influence, the larger of the two, are among the top N of either.
    """
    from sentineld.audience import Audience
    from sentineld.model import from_timestamp, format_time

    saved = store.load_checkpoint(REGISTRY_CHECKPOINT)
    population = _decode_state(saved[1]).get("population", {}) if saved and saved[1] else {}
    audience = Audience(population)
    columns = {"connector": ("reach",), "maven": ("maven_mass",), None: ("reach", "maven_mass")}
    if kind not in columns:
        raise ValueError(f"kind must be connector or maven, not {kind!r}")
    found: dict[str, tuple[AuthorRecord, float, float]] = {}
    for column in columns[kind]:
        for row in store.rank_authors(column, limit=top, watchlist_only=watchlist_only, include_own=include_own):
            record = AuthorRecord.from_row(row)
            connector = audience.connector(record.reach, record.reach)
            maven = audience.maven(record.audience_mass, record.audience_mass)
            found[record.key] = (record, connector, maven)
    sort_key = {"connector": 1, "maven": 2}.get(kind or "")
    ranked = sorted(
        found.values(),
        key=lambda item: (-(item[sort_key] if sort_key else max(item[1], item[2])), item[0].key),
    )
    rows = []
    for record, connector, maven in ranked[:top]:
        sentiment = record.sentiment
        rows.append(
            {
                "author": record.key,
                "source": record.source,
                "handle": record.handle,
                "name": record.name,
                "influence": round(max(connector, maven), 4),
                "connector": round(connector, 4),
                "maven": round(maven, 4),
                "followers": record.followers,
                "following": record.following,
                "posts": record.posts,
                "mentions": record.mentions,
                "on_topic": record.on_topic,
                "engaged": record.engaged,
                "sentiment": None if sentiment is None else round(sentiment, 4),
                "first_seen": format_time(from_timestamp(record.first_seen)),
                "last_seen": format_time(from_timestamp(record.last_seen)),
                "watchlist": record.watchlist,
            }
        )
    return rows
