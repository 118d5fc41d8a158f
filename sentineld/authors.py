"""The influencer registry's per-mention work: author records, recent posts and the registry.

These are the registry's hot structures (`sentineld.registry` explains what it keeps and why,
and holds what stays Python: its options and the pipeline's tracking step). They are plain
classes with precise types so that mypyc compiles them into native classes (decision 0131,
`sentineld.compiled`): a record's fields are C fields (its floats unboxed), and the loops that
run once per mention (`observe_batch`, `record_batch`, `take_dirty`) reach them without the
interpreter. Run as Python (``SENTINELD_NO_EXTENSIONS=1``, or without a compiler) the same code
gives the same records, rows and scores.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from sentineld.model import Mention
from sentineld.watch import Matcher

if TYPE_CHECKING:
    # Native 64-bit integers when compiled (no boxing of a hash's full width); plain ints
    # when run as Python, with the same results: nothing here overflows 64 bits.
    from mypy_extensions import i64

NO_MASS: Final = -math.inf
#: `AuthorRecord.checked_handle` of a record whose author was not checked yet in this process.
UNCHECKED: Final = object()
#: Every field of `AuthorRecord`, in its constructor's order.
RECORD_FIELDS: Final = (
    "key", "source", "first_seen", "last_seen", "handle", "name", "followers", "following", "posts",
    "created", "mentions", "on_topic", "engaged", "sentiment_sum", "sentiment_n", "maven_mass",
    "reach", "audience_mass", "connector", "maven", "influence", "watchlist", "own", "dirty",
    "checked_handle",
)  # fmt: skip

_encode_state = msgspec.msgpack.Encoder().encode
_decode_state = msgspec.msgpack.Decoder().decode


def log_add(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` without overflow."""
    if a < b:
        a, b = b, a
    if b == NO_MASS:
        return a
    return a + math.log1p(math.exp(b - a))


def micros(seconds: float) -> int:
    """``round(seconds * 1e6)``, as Python rounds (half to even), in arithmetic that the compiled
    build does without calling ``round``: ``value - floor(value)`` is exact for any double."""
    value = seconds * 1e6
    whole = math.floor(value)
    rest = value - whole
    if rest > 0.5 or (rest == 0.5 and whole % 2 == 1):
        return whole + 1
    return whole


#: A stored row's audience mass when it equals the maven mass (an empty text: no bytes, and
#: not a number, which the column's REAL affinity would turn into one).
SAME_MASS: Final = ""


def _s(stored: int | None) -> float | None:
    return None if stored is None else stored / 1_000_000


def row_key(row: tuple[Any, ...]) -> str:
    """An ``authors`` row's author key (its first column)."""
    key: str = row[0]
    return key


class AuthorRecord:
    """Everything the registry knows about one author. Times are POSIX seconds (event time)."""

    def __init__(
        self,
        key: str,
        source: str,
        first_seen: float,
        last_seen: float,
        handle: str | None = None,
        name: str | None = None,
        followers: int | None = None,
        following: int | None = None,
        posts: int | None = None,
        created: float | None = None,
        mentions: int = 0,
        on_topic: int = 0,
        engaged: int = 0,
        sentiment_sum: float = 0.0,
        sentiment_n: int = 0,
        maven_mass: float = NO_MASS,
        reach: float | None = None,
        audience_mass: float | None = None,
        connector: float = 0.0,
        maven: float = 0.0,
        influence: float = 0.0,
        watchlist: bool = False,
        own: bool = False,
        dirty: bool = True,
        checked_handle: object = UNCHECKED,
    ) -> None:
        self.key = key
        self.source = source
        self.first_seen = first_seen
        self.last_seen = last_seen
        self.handle = handle
        self.name = name
        self.followers = followers
        self.following = following
        self.posts = posts
        self.created = created
        self.mentions = mentions
        self.on_topic = on_topic
        #: Reshares and replies the author's posts drew in the stream (from other authors).
        self.engaged = engaged
        self.sentiment_sum = sentiment_sum
        self.sentiment_n = sentiment_n
        #: log of the forward-decayed on-topic engagement (see `sentineld.registry`).
        self.maven_mass = maven_mass
        #: log10(1 + effective followers) and the maven mass, as the influence scorer last
        #: counted them in the audience (`sentineld.audience`); None when not counted.
        self.reach = reach
        self.audience_mass = audience_mass
        self.connector = connector
        self.maven = maven
        self.influence = influence
        self.watchlist = watchlist
        self.own = own
        self.dirty = dirty
        #: The handle the own-account and watchlist checks were last made with: for a given
        #: key their answer depends on it alone (the id is part of the key). Not stored.
        self.checked_handle = checked_handle

    @property
    def sentiment(self) -> float | None:
        """Mean sentiment of the author's mentions of the brand, None before the first."""
        return self.sentiment_sum / self.sentiment_n if self.sentiment_n else None

    def to_row(self) -> tuple[Any, ...]:
        """The stored row (columns in `sentineld.store.sqlite.AUTHOR_COLUMNS` order). Values the
        row itself implies are left out (store migration 0014; the ``authors`` view gives them
        back): the source when it is the key's part before its first ``:`` (None), the last
        sighting when it is the first (None), the audience mass when it is the maven mass
        (`SAME_MASS`), the influence when it is the larger of connector and maven (None)."""
        key, source = self.key, self.source
        created, maven_mass, audience_mass = self.created, self.maven_mass, self.audience_mass
        connector, maven, influence = self.connector, self.maven, self.influence
        first, last = micros(self.first_seen), micros(self.last_seen)
        mass: float | None = None if maven_mass == NO_MASS else maven_mass
        return (
            key, None if _source_of(key) == source else source, self.handle, self.name,
            self.followers, self.following, self.posts, None if created is None else micros(created),
            first, None if last == first else last,
            self.mentions, self.on_topic, self.engaged, self.sentiment_sum, self.sentiment_n,
            mass, self.reach, SAME_MASS if audience_mass is not None and audience_mass == mass else audience_mass,
            connector, maven, None if influence == (connector if connector > maven else maven) else influence,
            1 if self.watchlist else 0, 1 if self.own else 0,
        )  # fmt: skip

    @staticmethod
    def from_row(row: Sequence[Any]) -> AuthorRecord:
        """The record of a stored row, or of a row of the ``authors`` view (clean: the store
        holds it)."""
        (key, source, handle, name, followers, following, posts, created, first_seen, last_seen,
         mentions, on_topic, engaged, sentiment_sum, sentiment_n, maven_mass, reach,
         audience_mass, connector, maven, influence, watchlist, own) = row  # fmt: skip
        first = _s(first_seen) or 0.0
        if source is None:
            source = _source_of(key)
        if isinstance(audience_mass, str):
            audience_mass = maven_mass
        if influence is None:
            influence = connector if connector > maven else maven
        return AuthorRecord(
            key, sys.intern(source), first, _s(last_seen) or first, handle, name,
            followers, following, posts, _s(created),
            mentions, on_topic, engaged, sentiment_sum,
            sentiment_n, NO_MASS if maven_mass is None else maven_mass,
            reach, audience_mass, connector, maven,
            influence, bool(watchlist), bool(own), False,
        )  # fmt: skip


def _source_of(key: str) -> str:
    """The part of an author key before its first ``:``, as the ``authors`` view derives a
    source left out of the stored row: ``substr(key, 1, instr(key, ':') - 1)``."""
    colon = key.find(":")
    return key[:colon] if colon >= 0 else ""


class KeyFilter:
    """Author keys that the store may hold: a Bloom filter (no false negatives; a few % false
    positives), so that the look-up of an author seen for the first time can be skipped.

    Blocked (Putze, Sanders, Singler, "Cache-, hash- and space-efficient Bloom filters", 2007):
    a key's 4 bits all lie in one block of 512 bits, a cache line, so that a check costs one
    cache miss per layer instead of four. 8 bits per key (about 2.5 % false positives in a full
    layer); a new layer twice as large when the last is full: at most about 2 bytes per key.
    Probes come from the key's ``hash`` (cached on the string; the filter lives in one process,
    so that hash randomization does not matter)."""

    PROBES: Final = 4
    BITS_PER_KEY: Final = 8
    BLOCK_BITS: Final = 512

    def __init__(self, capacity: int = 1 << 18) -> None:
        if capacity < self.BLOCK_BITS or capacity & (capacity - 1):
            raise ValueError("a KeyFilter's capacity is a power of two of at least 512")
        self._layers: list[bytearray] = []
        #: Per layer, its number of blocks less one (a mask: the number is a power of two).
        self._blocks: list[int] = []
        self._room = 0
        self._next = capacity

    @property
    def size(self) -> int:
        """Bytes held."""
        return sum(len(layer) for layer in self._layers)

    def add(self, key: str) -> None:
        if self._room == 0:
            capacity = self._next
            self._layers.append(bytearray(capacity * self.BITS_PER_KEY // 8))
            self._blocks.append(capacity * self.BITS_PER_KEY // self.BLOCK_BITS - 1)
            self._room = capacity
            self._next = capacity * 2
        self._room -= 1
        bits = self._layers[-1]
        h: i64 = hash(key)
        block: i64 = (h & self._blocks[-1]) << 9
        position: i64 = (h >> 32) & 511
        step: i64 = ((h >> 41) & 511) | 1
        for _ in range(self.PROBES):
            at: i64 = block | (position & 511)
            index: int = at >> 3
            bits[index] |= 1 << (at & 7)
            position += step

    def may_hold(self, key: str) -> bool:
        h: i64 = hash(key)
        first: i64 = (h >> 32) & 511
        step: i64 = ((h >> 41) & 511) | 1
        blocks = self._blocks
        number: i64 = 0
        for bits in self._layers:
            block: i64 = (h & blocks[number]) << 9
            number += 1
            position: i64 = first
            probe: i64 = 0
            while probe < self.PROBES:
                at: i64 = block | (position & 511)
                index: int = at >> 3
                byte: i64 = bits[index]
                if not byte & (1 << (at & 7)):
                    break
                position += step
                probe += 1
            if probe == self.PROBES:
                return True
        return False


class AuthorAt:
    """An author's profile and authority as they stood right after one mention was observed
    (`InfluencerRegistry.observed`): what the influence scorer scores that mention with, and
    the author's `record` itself (the one in memory until the batch is recorded), so that the
    scorer does not look it up again."""

    def __init__(
        self,
        followers: int | None,
        following: int | None,
        posts: int | None,
        created: float | None,
        last_seen: float,
        maven_mass: float,
        own: bool,
        record: AuthorRecord,
    ) -> None:
        self.followers = followers
        self.following = following
        self.posts = posts
        self.created = created
        self.last_seen = last_seen
        self.maven_mass = maven_mass
        self.own = own
        self.record = record

    @staticmethod
    def of(record: AuthorRecord) -> AuthorAt:
        return AuthorAt(record.followers, record.following, record.posts, record.created,
                        record.last_seen, record.maven_mass, record.own, record)  # fmt: skip


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
        stale: dict[str, int] = self._stale
        kept: deque[str] = deque()
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

    def __init__(self, options: Any = None, matcher: Matcher | None = None, *, persistent: bool = True) -> None:
        if options is None:
            from sentineld.registry import InfluencerOptions

            options = InfluencerOptions()
        #: The `[influencers]` options (`sentineld.registry.InfluencerOptions`).
        self.options: Any = options
        self.matcher = matcher
        self.persistent = persistent
        self.tau: float = options.tau
        self._like_weight: float = options.like_weight
        self._hot_authors: int = options.hot_authors
        self._flush_every: int = options.flush_every
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
        self._posts = RecentPosts(options.recent_posts)
        #: The author of each post the batch being observed answers or reshares, as `missing`
        #: and `admit` found them: a post can leave `_posts` within a batch longer than
        #: `recent_posts`, and its reply must still credit its author, as it would in a batch
        #: of its own.
        self._parents: dict[str, str] = {}
        self.population: dict[str, Any] = {}
        #: Every author key the store may hold: those it held when `Tracking` read them (in
        #: parts, `add_stored_keys`) and every record made here since, which the store holds
        #: only once made. Once `stored_keys_complete`, an author it has not seen is new and
        #: `missing` does not ask the store for them.
        self.stored_keys = KeyFilter()
        self.stored_keys_complete = False
        #: For each mention of the batch being scored, by id: its author's profile and authority
        #: as they stood once it was observed, before the rest of its batch (filled by
        #: `observe_batch`). A later mention of the same batch may change the record (a new
        #: profile, a reshare crediting the author) before the scorers read it, and a score
        #: must not depend on where the stream's batches happen to end.
        self.observed: dict[str, AuthorAt] = {}
        #: Whether a scorer reads `observed` (the influence scorer says so when it is built).
        self.keeps_observed = False
        #: The batch `observe_batch` last observed and, for each of its mentions in order, the
        #: author's record it observed (None: none, or not observed), for `record_batch` to
        #: find them without looking each up again.
        self._observed_batch: object = None
        self._batch_records: list[AuthorRecord | None] = []
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
        return self._hot.get(key) or self._pinned.get(key) or self._evicted.get(key)

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

    @property
    def changed(self) -> int:
        """Records changed since the last `take_dirty`: the rows the next checkpoint takes and
        holds in memory until it is stored."""
        return len(self._dirty)

    def missing(self, mentions: Iterable[Mention]) -> tuple[list[str], list[str]]:
        """Author keys and parent post ids of `mentions` that memory does not know (an author
        whose row waits for a checkpoint is brought back in from it)."""
        hot, pinned, evicted, known_posts = self._hot, self._pinned, self._evicted, self._posts
        keys: dict[str, None] = {}
        posts: dict[str, None] = {}
        parents = self._parents
        parents.clear()
        stored_keys, complete = self.stored_keys, self.stored_keys_complete
        for mention in mentions:
            key = mention.author_key
            if key is not None and key not in hot and key not in pinned and key not in evicted:
                # Of an author seen for the first time the store holds no row: nothing to ask.
                if not complete or stored_keys.may_hold(key):
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

    def add_stored_keys(self, keys: Iterable[str]) -> None:
        """Keys the store holds (read in parts, in key order, by `Tracking`)."""
        stored_keys = self.stored_keys
        for key in keys:
            stored_keys.add(key)

    def admit(self, rows: Iterable[Sequence[Any]], post_authors: dict[str, str] | None = None) -> None:
        """Bring stored records (and the authors of stored posts) into memory; of an author
        whose row waits for a checkpoint, that row (the store's is older)."""
        unstored = self._unstored
        for row in rows:
            key: str = row[0]
            if self.get(key) is None:
                waiting = unstored.get(key)
                self._insert(AuthorRecord.from_row(row if waiting is None else waiting))
        if post_authors:
            for post, author in post_authors.items():
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
        encoded: bytes = _encode_state({"population": self.population, "now": self.now})
        return encoded

    # ------------------------------------------------------------------ facts

    def observe_batch(self, batch: Sequence[tuple[int, Mention]]) -> None:
        """`observe` every mention of `batch` (``(seq, mention)`` pairs) that the stored records
        do not cover yet, keeping in `observed` what the influence scorer needs of each."""
        stored = self.stored_seq
        observed = self.observed
        observed.clear()
        records: list[AuthorRecord | None] = []
        self._observed_batch = batch
        self._batch_records = records
        keeps = self.keeps_observed
        for seq, mention in batch:
            record = self.observe(mention) if seq > stored else None
            records.append(record)
            if keeps and record is not None:
                observed[mention.id] = AuthorAt.of(record)

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
        handle = author.handle
        if handle:
            record.handle = handle
        if author.name:
            record.name = author.name
        followers = author.followers
        if followers is not None:
            record.followers = followers
        following = author.following
        if following is not None:
            record.following = following
        posts = author.posts
        if posts is not None:
            record.posts = posts
        created_at = author.created_at
        if created_at is not None:
            record.created = created_at.timestamp()
        record.mentions += 1
        if moment < record.first_seen:
            record.first_seen = moment
        if moment > record.last_seen:
            record.last_seen = moment
        matcher = self.matcher
        if matcher is not None and handle != record.checked_handle:
            record.checked_handle = handle
            record.own = self._own_accounts and matcher.is_own_account(mention)
            watched = self._watchlist and matcher.is_watchlisted(mention)
            if watched != record.watchlist:
                record.watchlist = watched
                if watched:
                    self._pin(record)
                else:
                    self._unpin(record)
        reshare_of = mention.reshare_of
        parent = reshare_of or mention.in_reply_to
        if parent is not None and not record.own:
            self._credit(parent, key, moment)
        if reshare_of is None and (self._all_on_topic or mention.matches):
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

    def record_batch(self, batch: Sequence[tuple[int, Mention]]) -> None:
        """`record` every mention of `batch` that the stored records do not cover yet. For the
        batch `observe_batch` last observed, each mention's record is the one it observed (a
        record stays in memory, the same object, until `trim` after the batch)."""
        stored = self.stored_seq
        records = self._batch_records
        if batch is self._observed_batch and len(records) == len(batch):
            self._observed_batch = None
            self._batch_records = []
            for (seq, mention), record in zip(batch, records):
                if record is not None and seq > stored:
                    self._record_in(record, mention)
            return
        for seq, mention in batch:
            if seq > stored:
                self.record(mention)

    def record(self, mention: Mention) -> None:
        """Keep what the scorers found: sentiment toward the brand and the last scores."""
        key = mention.author_key
        if key is None:
            return
        record = self._hot.get(key) or self._pinned.get(key) or self._evicted.get(key)
        if record is not None:
            self._record_in(record, mention)

    def _record_in(self, record: AuthorRecord, mention: Mention) -> None:
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
                self.stored_keys.add(key)
        if record.watchlist:
            self._pinned[key] = record
        else:
            self._hot[key] = record
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
        excess = len(hot) - self._hot_authors
        if excess <= 0:
            return
        keep = self.persistent
        leaving: list[str] = []
        for key in hot:
            if len(leaving) == excess:
                break
            leaving.append(key)
        for key in leaving:
            old = hot.pop(key)
            if old.dirty and keep:
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
        return len(self._evicted) >= self._flush_every

    def take_dirty(self) -> list[tuple[Any, ...]]:
        """Rows of every record changed since the last call, in key order; the records count as
        clean, and the rows wait in memory until `stored`. A registry without a store
        (``persistent=False``) does not keep track of them and returns none."""
        dirty, self._dirty = self._dirty, []
        self._evicted.clear()
        # In key order: SQLite then goes through the table's pages once instead of jumping
        # between them for each row, which costs it a sixth less CPU for a fraction of that here.
        dirty.sort(key=_record_key)
        rows: list[tuple[Any, ...]] = []
        unstored = self._unstored
        for record in dirty:
            row = record.to_row()
            record.dirty = False
            rows.append(row)
            unstored[record.key] = row
        return rows

    def stored(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """The store holds `rows` (taken by `take_dirty`): memory lets them go, but those of
        their keys taken again since."""
        unstored = self._unstored
        for row in rows:
            key: str = row[0]
            if unstored.get(key) is row:
                del unstored[key]


def _record_key(record: AuthorRecord) -> str:
    return record.key
