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
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final

import msgspec

from sentineld.logs import get_logger
from sentineld.model import Mention
from sentineld.options import Duration, Options
from sentineld.store.base import StoreError
from sentineld.watch import Matcher

if TYPE_CHECKING:
    from sentineld.store.worker import StoreWorker

__all__ = [
    "AuthorRecord",
    "AuthorWrite",
    "InfluencerOptions",
    "InfluencerRegistry",
    "Tracking",
    "REGISTRY_CHECKPOINT",
]

log = get_logger("sentineld.registry")

#: What `InfluencerRegistry.observed` keeps of an author for each mention, in this order.
AUTHOR_AT_FIELDS: Final = ("followers", "following", "posts", "created", "last_seen", "maven_mass", "own")
#: The name under which the registry's position and population state are checkpointed.
REGISTRY_CHECKPOINT: Final = "influencers"
NO_MASS: Final = -math.inf
#: `AuthorRecord.checked_handle` of a record whose author was not checked yet in this process.
UNCHECKED: Final = object()

_row_key = itemgetter(0)
_encode_state = msgspec.msgpack.Encoder().encode
_decode_state = msgspec.msgpack.Decoder().decode


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


def log_add(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` without overflow."""
    if a < b:
        a, b = b, a
    if b == NO_MASS:
        return a
    return a + math.log1p(math.exp(b - a))


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


def _s(micros: int | None) -> float | None:
    return None if micros is None else micros / 1_000_000


class AuthorRecord(msgspec.Struct, gc=False):
    """Everything the registry knows about one author. Times are POSIX seconds (event time).

    A msgspec Struct without garbage-collector tracking (it holds no references that could
    form a cycle): cheaper to create and to keep by the hundred thousand than a class.
    """

    key: str
    source: str
    first_seen: float
    last_seen: float
    handle: str | None = None
    name: str | None = None
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    created: float | None = None
    mentions: int = 0
    on_topic: int = 0
    #: Reshares and replies the author's posts drew in the stream (from other authors).
    engaged: int = 0
    sentiment_sum: float = 0.0
    sentiment_n: int = 0
    #: log of the forward-decayed on-topic engagement (see the module docstring).
    maven_mass: float = NO_MASS
    #: log10(1 + effective followers) and the maven mass, as the influence scorer last counted
    #: them in the audience (`sentineld.audience`); None when not counted.
    reach: float | None = None
    audience_mass: float | None = None
    connector: float = 0.0
    maven: float = 0.0
    influence: float = 0.0
    watchlist: bool = False
    own: bool = False
    dirty: bool = True
    #: The handle the own-account and watchlist checks were last made with: for a given key
    #: their answer depends on it alone (the id is part of the key). Not stored.
    checked_handle: object = UNCHECKED

    @property
    def sentiment(self) -> float | None:
        """Mean sentiment of the author's mentions of the brand, None before the first."""
        return self.sentiment_sum / self.sentiment_n if self.sentiment_n else None

    def to_row(self) -> tuple[Any, ...]:
        """The ``authors`` row (columns in `sentineld.store.sqlite.AUTHOR_COLUMNS` order)."""
        created, maven_mass = self.created, self.maven_mass
        return (
            self.key, self.source, self.handle, self.name, self.followers, self.following,
            self.posts, None if created is None else round(created * 1e6),
            round(self.first_seen * 1e6), round(self.last_seen * 1e6),
            self.mentions, self.on_topic, self.engaged, self.sentiment_sum, self.sentiment_n,
            None if maven_mass == NO_MASS else maven_mass, self.reach,
            self.audience_mass, self.connector, self.maven, self.influence, 1 if self.watchlist else 0,
            1 if self.own else 0,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AuthorRecord:
        (key, source, handle, name, followers, following, posts, created, first_seen, last_seen,
         mentions, on_topic, engaged, sentiment_sum, sentiment_n, maven_mass, reach,
         audience_mass, connector, maven, influence, watchlist, own) = row  # fmt: skip
        first = _s(first_seen) or 0.0
        # Every field by position, in the struct's order: msgspec matching twenty keywords took
        # three times as long (1.4 against 0.4 µs a record), and once a stream's authors outnumber
        # the hot set a record is loaded for every few mentions. A test round-trips every field.
        return cls(
            key, sys.intern(source), first, _s(last_seen) or first, handle, name,
            followers, following, posts, _s(created),
            mentions, on_topic, engaged, sentiment_sum,
            sentiment_n, NO_MASS if maven_mass is None else maven_mass,
            reach, audience_mass, connector, maven,
            influence, bool(watchlist), bool(own), False,
        )


class RecentPosts:
    """The authors of the last `size` posts remembered, the least recently remembered forgotten
    first: what an OrderedDict moving a post remembered again to its end does, in about half the
    memory (a dict, and a deque of post ids in which a post remembered again leaves an earlier,
    stale entry that is skipped when it comes out)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._authors: dict[str, str] = {}
        self._order: deque[str] = deque()
        #: Posts remembered again: how many stale entries each has in `_order`.
        self._stale: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._authors)

    def get(self, post: str) -> str | None:
        return self._authors.get(post)

    def remember(self, post: str, author: str) -> None:
        authors = self._authors
        if post in authors:
            self._stale[post] = self._stale.get(post, 0) + 1
        authors[post] = author
        self._order.append(post)
        if len(authors) > self.size:
            self._forget_oldest()
        elif len(self._order) > 2 * self.size:
            self._drop_stale()

    def _forget_oldest(self) -> None:
        order, stale = self._order, self._stale
        while True:
            post = order.popleft()
            left = stale.pop(post, 0)
            if not left:
                del self._authors[post]
                return
            if left > 1:
                stale[post] = left - 1

    def _drop_stale(self) -> None:
        """Posts remembered over and over while none is forgotten: keep each one's last entry."""
        stale, kept = self._stale, deque[str]()
        for post in self._order:
            left = stale.pop(post, 0)
            if left:
                stale[post] = left - 1
            else:
                kept.append(post)
        self._order = kept
        stale.clear()


class InfluencerRegistry:
    """Author records: a bounded hot set in memory, the rest in the store.

    Without a store (``persistent=False``, as in ``sentineld score``) records that leave the hot
    set are forgotten. With one, dirty records that leave it wait in `_evicted` for the next
    `take_dirty`, and the rows it took wait in `_unstored` until `stored` says the store has
    them: until then a record that is needed again comes back from its row, not from the
    store's older one. `population` is small shared state that scorers keep beside the records
    (the influence scorer's audience histograms); it is saved with the records, so both always
    agree.
    """

    def __init__(
        self,
        options: InfluencerOptions | None = None,
        matcher: Matcher | None = None,
        *,
        persistent: bool = True,
    ) -> None:
        self.options = options or InfluencerOptions()
        self.matcher = matcher
        self.persistent = persistent
        self.tau = self.options.tau
        self._like_weight = self.options.like_weight
        #: Least recently seen first: a record seen again is moved to the end (a plain dict
        #: keeps insertion order in half the memory of an OrderedDict).
        self._hot: dict[str, AuthorRecord] = {}
        self._pinned: dict[str, AuthorRecord] = {}
        self._evicted: dict[str, AuthorRecord] = {}
        #: Rows taken by `take_dirty` that the store does not hold yet, by key (the latest).
        self._unstored: dict[str, tuple[Any, ...]] = {}
        #: Every record changed since the last `take_dirty` (with a store only), so that writing
        #: them does not look through the whole hot set.
        self._dirty: list[AuthorRecord] = []
        self._posts = RecentPosts(self.options.recent_posts)
        #: The author of each post the batch being observed answers or reshares, as `missing`
        #: and `admit` found them: a post can leave `_posts` within a batch longer than
        #: `recent_posts`, and its reply must still credit its author, as it would in a batch
        #: of its own.
        self._parents: dict[str, str] = {}
        self.population: dict[str, Any] = {}
        #: For each mention of the batch being scored, by id: its author's profile and authority
        #: as they stood once it was observed, before the rest of its batch (`AUTHOR_AT_FIELDS`;
        #: filled by `Tracking.before_scoring`). A later mention of the same batch may change the
        #: record (a new profile, a reshare crediting the author) before the scorers read it, and
        #: a score must not depend on where the stream's batches happen to end.
        self.observed: dict[str, tuple[Any, ...]] = {}
        #: Whether a scorer reads `observed` (the influence scorer says so when it is built).
        self.keeps_observed = False
        #: Mentions up to this sequence number are already in the stored records.
        self.stored_seq = 0
        #: The last sequence number whose facts the records hold.
        self.applied_seq = 0
        #: Latest event time seen (the registry's clock).
        self.now = 0.0
        self._all_on_topic = matcher is None or not matcher.has_subjects
        self._brand_sentiment = matcher is not None and bool(matcher.watch.brand)
        # Without own accounts or a watchlist, nobody is either: no need to ask per mention.
        self._own_accounts = matcher is not None and bool(matcher.watch.accounts)
        self._watchlist = matcher is not None and bool(matcher.watch.watchlist)

    # ------------------------------------------------------------------ lookup

    def get(self, key: str | None) -> AuthorRecord | None:
        """The record of `key` if it is in memory (hot, pinned or waiting to be written)."""
        if key is None:
            return None
        record = self._hot.get(key) or self._pinned.get(key) or self._evicted.get(key)
        return record

    def post_author(self, post: str) -> str | None:
        """The author key of a recent on-topic post of the stream, if memory has it, or of a
        post that the batch being scored answers or reshares (found in the store if need be:
        a batch longer than `recent_posts` must not forget the posts its own replies name)."""
        return self._posts.get(post) or self._parents.get(post)

    def __len__(self) -> int:
        """Records in memory."""
        return len(self._hot) + len(self._pinned) + len(self._evicted)

    @property
    def pending(self) -> int:
        """Dirty records evicted from the hot set, waiting to be written."""
        return len(self._evicted)

    def missing(self, mentions: Iterable[Mention]) -> tuple[list[str], list[str]]:
        """Author keys and parent post ids of `mentions` that memory does not know (an author
        whose row waits for a checkpoint is brought back in from it)."""
        hot, pinned, evicted, known_posts = self._hot, self._pinned, self._evicted, self._posts
        keys: dict[str, None] = {}
        posts: dict[str, None] = {}
        parents = self._parents
        parents.clear()
        for mention in mentions:
            key = mention.author_key
            if key is not None and key not in hot and key not in pinned and key not in evicted:
                keys[key] = None
            parent = mention.reshare_of or mention.in_reply_to
            if parent is None:
                continue
            author = known_posts.get(parent)
            if author is None:
                posts[parent] = None
                continue
            parents[parent] = author
            if author not in hot and author not in pinned and author not in evicted:
                keys[author] = None
        if self._unstored and keys:
            unstored = self._unstored
            for key in [key for key in keys if key in unstored]:
                self._insert(AuthorRecord.from_row(unstored[key]))
                del keys[key]
        return list(keys), list(posts)

    def admit(self, rows: Iterable[Sequence[Any]], post_authors: dict[str, str] | None = None) -> None:
        """Bring stored records (and the authors of stored posts) into memory; of an author
        whose row waits for a checkpoint, that row (the store's is older)."""
        unstored = self._unstored
        for row in rows:
            if self.get(row[0]) is None:
                self._insert(AuthorRecord.from_row(unstored.get(row[0], row)))
        for post, author in (post_authors or {}).items():
            self._posts.remember(post, author)
            self._parents[post] = author
            if author in unstored and self.get(author) is None:
                self._insert(AuthorRecord.from_row(unstored[author]))

    def restore(self, seq: int, state: bytes | None) -> None:
        """Resume from the registry's stored position and population state."""
        self.stored_seq = self.applied_seq = seq
        if state:
            saved = _decode_state(state)
            self.population = saved.get("population", {})
            self.now = saved.get("now", 0.0)

    def state(self) -> bytes:
        return _encode_state({"population": self.population, "now": self.now})

    # ------------------------------------------------------------------ facts

    def observe(self, mention: Mention) -> AuthorRecord | None:
        """Apply what `mention` says about its author and the author of the post it answers or
        reshares. Call once per mention, in stream order, before the scorers read the records."""
        key = mention.author_key
        if key is None:
            return None
        moment = mention.timestamp
        if moment > self.now:
            self.now = moment
        hot = self._hot
        record = hot.pop(key, None)
        if record is not None:
            hot[key] = record  # now the most recently seen
        else:
            record = self._pinned.get(key) or self._bring_in(key, mention.source, moment)
        # The latest profile (what the platform leaves out stays as it was).
        author = mention.author
        assert author is not None
        if author.handle:
            record.handle = author.handle
        if author.name:
            record.name = author.name
        if author.followers is not None:
            record.followers = author.followers
        if author.following is not None:
            record.following = author.following
        if author.posts is not None:
            record.posts = author.posts
        if author.created_at is not None:
            record.created = author.created_at.timestamp()
        record.mentions += 1
        if moment < record.first_seen:
            record.first_seen = moment
        if moment > record.last_seen:
            record.last_seen = moment
        matcher = self.matcher
        if matcher is not None and author.handle != record.checked_handle:
            record.checked_handle = author.handle
            record.own = self._own_accounts and matcher.is_own_account(mention)
            watched = self._watchlist and matcher.is_watchlisted(mention)
            if watched != record.watchlist:
                record.watchlist = watched
                self._pin(record) if watched else self._unpin(record)
        parent = mention.reshare_of or mention.in_reply_to
        if parent is not None and not record.own:
            self._credit(parent, key, moment)
        if mention.reshare_of is None and (self._all_on_topic or mention.matches):
            # An on-topic post of weight w adds log(w * exp(t / tau)): w is 1 for the post
            # itself plus the engagement the platform reports for it.
            weight = 1.0
            metrics = mention.metrics
            if metrics is not None:
                weight += metrics.reshares + metrics.replies + self._like_weight * metrics.likes
            record.on_topic += 1
            mass, post = record.maven_mass, math.log(weight) + moment / self.tau
            if mass < post:  # log_add(mass, post), inlined
                mass, post = post, mass
            record.maven_mass = mass if post == NO_MASS else mass + math.log1p(math.exp(post - mass))
            self._posts.remember(mention.id, key)
        if not record.dirty:
            self._mark_dirty(record)
        return record

    def record(self, mention: Mention) -> None:
        """Keep what the scorers found: sentiment toward the brand and the last scores."""
        key = mention.author_key
        if key is None:
            return
        record = self._hot.get(key) or self._pinned.get(key) or self._evicted.get(key)
        if record is None:
            return
        scores = mention.scores
        sentiment = scores.get("sentiment")
        if sentiment is not None and (
            "brand" in mention.matches if self._brand_sentiment else self._all_on_topic or bool(mention.matches)
        ):
            record.sentiment_sum += sentiment
            record.sentiment_n += 1
        influence = scores.get("influence")
        if influence is not None:
            record.connector = scores.get("connector", 0.0)
            record.maven = scores.get("maven", 0.0)
            record.influence = influence
        if not record.dirty:
            self._mark_dirty(record)

    def _credit(self, post: str, replier: str, moment: float) -> None:
        author = self._posts.get(post) or self._parents.get(post)
        if author is None or author == replier:
            return
        record = self.get(author)
        if record is None:
            return
        record.engaged += 1
        record.maven_mass = log_add(record.maven_mass, moment / self.tau)
        if not record.dirty:
            self._mark_dirty(record)

    def _mark_dirty(self, record: AuthorRecord) -> None:
        record.dirty = True
        if self.persistent:
            self._dirty.append(record)

    # ------------------------------------------------------------------ memory

    def _bring_in(self, key: str, source: str, moment: float) -> AuthorRecord:
        """The record of an author who is neither hot nor pinned: one waiting to be written, or
        a new one (`missing` and `admit` brought the stored ones in beforehand)."""
        record = self._evicted.pop(key, None)
        if record is None:
            # The source's name is shared by every record (a string of its own per record would
            # cost 57 bytes, and one more object to free when the record leaves memory).
            record = AuthorRecord(key, sys.intern(source), moment, moment)
            if self.persistent:
                self._dirty.append(record)  # new, hence dirty
        (self._pinned if record.watchlist else self._hot)[key] = record
        return record

    def _insert(self, record: AuthorRecord) -> None:
        if record.watchlist:
            self._pinned[record.key] = record
            return
        self._hot[record.key] = record

    def trim(self) -> None:
        """Let the least recently seen authors go until the hot set is within `hot_authors`.
        Called between batches, never within one: a record the batch needs stays in memory."""
        hot, evicted = self._hot, self._evicted
        excess = len(hot) - self.options.hot_authors
        if excess <= 0:
            return
        for key in list(islice(hot, excess)):
            old = hot.pop(key)
            if old.dirty and self.persistent:
                evicted[key] = old

    def _pin(self, record: AuthorRecord) -> None:
        self._hot.pop(record.key, None)
        self._pinned[record.key] = record

    def _unpin(self, record: AuthorRecord) -> None:
        self._pinned.pop(record.key, None)
        self._insert(record)

    @property
    def needs_flush(self) -> bool:
        """Enough evicted records wait in memory that they should be written."""
        return len(self._evicted) >= self.options.flush_every

    def take_dirty(self) -> list[tuple[Any, ...]]:
        """Rows of every record changed since the last call, in key order; the records count as
        clean, and the rows wait in memory until `stored`. A registry without a store
        (``persistent=False``) does not keep track of them and returns none."""
        dirty, self._dirty = self._dirty, []
        self._evicted.clear()
        rows = [record.to_row() for record in dirty]
        for record in dirty:
            record.dirty = False
        # In key order: SQLite then goes through the table's pages once instead of jumping
        # between them for each row, which costs it a sixth less CPU for a fraction of that here.
        rows.sort(key=_row_key)
        self._unstored.update(zip(map(_row_key, rows), rows))
        return rows

    def stored(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """The store holds `rows` (taken by `take_dirty`): memory lets them go, but those of
        their keys taken again since."""
        unstored = self._unstored
        for row in rows:
            if unstored.get(row[0]) is row:
                del unstored[row[0]]


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

    async def start(self) -> None:
        saved = await self.store.call("load_checkpoint", REGISTRY_CHECKPOINT)
        if saved is not None:
            self.registry.restore(*saved)

    async def before_scoring(self, batch: Sequence[tuple[int, Mention]]) -> None:
        """Load the batch's authors that are not in memory, then apply the batch's facts."""
        registry = self.registry
        keys, posts = registry.missing([m for _, m in batch])
        if keys or posts:
            registry.admit(*await self._load(keys, posts))
        stored, observe = registry.stored_seq, registry.observe
        observed = registry.observed
        observed.clear()
        if not registry.keeps_observed:
            for seq, mention in batch:
                if seq > stored:
                    observe(mention)
            return
        for seq, mention in batch:
            if seq > stored:
                record = observe(mention)
                if record is not None:  # as AUTHOR_AT_FIELDS lists them
                    observed[mention.id] = (record.followers, record.following, record.posts, record.created,
                                            record.last_seen, record.maven_mass, record.own)

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
        stored, record = registry.stored_seq, registry.record
        for seq, mention in batch:
            if seq > stored:
                record(mention)
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
