"""Virality scorer: how fast what a mention carries is spreading.

Per post (``scores["reshare_velocity"]``, ``scores["reply_velocity"]``, per hour): for an
original post, its reshares and replies as the platform reports them divided by its age (at
least `min_age`) at the stream's event time; for a reshare or a reply, the rate at which the
post it reshares or answers is being reshared and answered *in this stream*, decayed over
`rate_window`. Replies and reshares by the brand's own accounts and an author's replies to
themselves do not count.

Across posts: near-duplicates of the same content posted by authors who are not connected
(copy-and-paste campaigns, a complaint spreading word for word) form clusters, found with MinHash
over token pairs and LSH (datasketch's permutations and banding). A member gets
``labels["cluster"]`` (a stable id), ``scores["cluster_size"]`` (distinct authors) and
``scores["cluster_growth"]`` (authors joining per hour, recent). Two posts are connected when
they share an author, when one answers or reshares the other, or when both answer the same post;
the follow graph is not known. Reshares are amplification, not new content: they are not
clustered. Neither are posts of fewer than `min_tokens` words ("thanks @acme!" is said
independently by many).

``scores["virality"]`` in [0, 1]: the share of this stream's recently spreading mentions that
spread more slowly than this one (reshare and reply velocity plus cluster growth, per hour),
against a baseline that forgets over `baseline_half_life`; 0 for what does not spread at all.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import msgspec

from sentineld import Duration, Mention, Options, Scorer, hookimpl
from sentineld.components import StateParts
from sentineld.state_parts import ChunkedState, chunk_bounds, decoded_chunks, encode_chunks
from sentineld_plugins.scorers.virality.clusters import Cluster, cluster_code, encode_hook
from sentineld_plugins.scorers.virality.joins import Joins
from sentineld_plugins.scorers.virality.rates import Rates

if TYPE_CHECKING:
    import numpy as np

_HOUR = 3600.0
_BASELINE_BIN = 0.25  # in log2(1 + spread per hour)
_BASELINE_BINS = 96
_STATE_VERSION = 2
_encode_state = msgspec.msgpack.Encoder(enc_hook=encode_hook).encode
_decode_state = msgspec.msgpack.Decoder().decode
_Item = TypeVar("_Item")
#: The hash ring's "no parent": CPython never hashes anything to -1.
_NO_HASH = -1


class ViralityOptions(Options):
    #: Estimated Jaccard similarity of token pairs above which two posts are near-duplicates.
    threshold: float = 0.6
    #: MinHash permutations: more is more precise and slower.
    num_perm: int = 64
    #: Posts with fewer words than this are not clustered (a CJK character counts as a word).
    min_tokens: int = 6
    #: How long a post can gather near-duplicates (and its cluster grow through it).
    window: Duration = Duration(24 * _HOUR)
    #: Most posts indexed at once (the oldest leave first); bounds memory and checkpoints.
    max_posts: int = 10_000
    #: Time constant of the stream rates (reshares, replies, cluster growth).
    rate_window: Duration = Duration(_HOUR)
    #: A post younger than this counts as this old when its metrics are divided by its age.
    min_age: Duration = Duration(15 * 60)
    #: Half-life of the baseline that virality is measured against.
    baseline_half_life: Duration = Duration(7 * 24 * _HOUR)
    #: Posts whose reshares and replies in the stream are followed (least recent leave first).
    tracked_posts: int = 10_000
    #: "bands" (fast) or "datasketch" (datasketch's MinHashLSH, the reference).
    index: Literal["bands", "datasketch"] = "bands"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if self.num_perm < 8 or self.min_tokens < 2 or self.max_posts < 2 or self.tracked_posts < 1:
            raise ValueError("num_perm must be >= 8, min_tokens >= 2, max_posts >= 2, tracked_posts >= 1")
        # allocated at start, per post: 4 bytes per permutation (the signature), at most 28
        # per band (the index; fewer bands than permutations), 16 more
        if self.max_posts * (32 * self.num_perm + 16) > 2**29:
            raise ValueError("max_posts × num_perm too large: the index would take over 512 MiB")
        if min(self.window, self.rate_window, self.min_age, self.baseline_half_life) <= 0:
            raise ValueError("window, rate_window, min_age and baseline_half_life must be > 0s")


class ViralityScorer(Scorer):
    """Per-post velocity, near-duplicate clusters across unconnected authors, and virality.

    The indexed posts live in a ring of `max_posts` rows, in stream order: post number ``slot``
    (counted from the start of the stream) sits in row ``slot % max_posts``, and the posts
    still indexed are the slots from `_oldest` to `_next_slot`. Their signatures are one numpy
    array, their ids, authors, parents and clusters plain lists; a post leaves when the live
    range moves past it, and its row is reused. Beside the lists, numpy rings hold the hashes of
    the ids, authors and parents and each post's cluster as a number (`cluster_code`), so that
    the candidates of a whole batch are sorted out in numpy (see `_join_all`).
    """

    type_name = "virality"
    description = "reshare/reply velocity, near-duplicate clusters (MinHash LSH), virality in [0, 1]"
    Options = ViralityOptions

    def __init__(self, options: ViralityOptions, context: Any) -> None:
        super().__init__(options, context)
        from sentineld.watch import Matcher
        from sentineld_plugins.scorers.virality.banding import lsh_params

        self._bands = lsh_params(options.threshold, options.num_perm)  # refuses what LSH cannot do
        self._matcher = Matcher(context.watch)
        self._registry = getattr(context, "influencers", None)
        self._oldest = self._next_slot = 0
        #: The ring's columns of Python objects and the live clusters (see `joins`); its lists
        #: are allocated with the rest in `_build`.
        self._joins = Joins(0, options.rate_window)
        #: Reshare and reply velocities, and the engagement of the posts they spread.
        self._rates = Rates(options.rate_window, options.min_age, options.tracked_posts, self._counts)
        self._landmark = 0.0
        self.now = 0.0
        self._built = False
        self._parts = ChunkedState()

    def _build(self) -> None:
        """Allocate the index and the ring (numpy's arrays), on first use rather than in the
        constructor: `sentineld check` builds every component and must stay fast."""
        if self._built:
            return
        import numpy as np

        from sentineld_plugins.scorers.virality.index import BandIndex, DatasketchIndex
        from sentineld_plugins.scorers.virality.signatures import Signer

        options = self.options
        self._signer = Signer(options.num_perm)
        capacity = options.max_posts
        if options.index == "datasketch":
            self._index: Any = DatasketchIndex(options.threshold, options.num_perm, self._signer.seed, self._signer.scheme)
        else:
            self._index = BandIndex(*self._bands, capacity)
        self._signatures = np.zeros((capacity, options.num_perm), dtype=np.uint32)
        #: The same memory, a signature per item: taking rows copies whole signatures, which
        #: numpy does several times faster than rows of a two-dimensional array.
        self._signature_rows = self._signatures.view(np.dtype((np.void, 4 * options.num_perm))).ravel()
        joins = self._joins = Joins(capacity, options.rate_window)
        self._times, self._posts, self._authors = joins.times, joins.posts, joins.authors
        self._parents, self._cluster_of = joins.parents, joins.cluster_of
        self._post_hashes = np.zeros(capacity, dtype=np.int64)
        self._author_hashes = np.zeros(capacity, dtype=np.int64)
        self._parent_hashes = np.full(capacity, _NO_HASH, dtype=np.int64)
        self._codes = np.full(capacity, -1, dtype=np.int64)
        self._baseline = np.zeros(_BASELINE_BINS)
        self._built = True

    async def start(self) -> None:
        self._build()

    @property
    def _engagement(self) -> OrderedDict[str, list[float]]:
        """post id -> [reshares, replies, at]: decayed counts of what the stream did with it."""
        return self._rates.engagement

    @property
    def _clusters(self) -> dict[str, Cluster]:
        """The live clusters, by id."""
        return self._joins.clusters

    @property
    def indexed(self) -> int:
        """Posts indexed now."""
        return self._next_slot - self._oldest

    # ------------------------------------------------------------------ scoring

    async def score(self, mentions: Sequence[Mention]) -> None:
        if not mentions:
            return
        self._build()
        times = [m.timestamp for m in mentions]
        nows: list[float] = []  # the stream's clock at each: the latest time so far
        now = self.now
        for at in times:  # a quarter of the time of accumulate(times, max), which calls max
            if at > now:
                now = at
            nows.append(now)
        spreads = self._rates.velocities(mentions, times, nows)
        self._cluster(mentions, times, nows, spreads)
        for mention, rank in zip(mentions, self._virality(spreads, nows), strict=True):
            mention.scores["virality"] = rank
        self.now = nows[-1]

    def _counts(self, mention: Mention, parent: str) -> bool:
        """Whether this reshare or reply is someone else spreading the post."""
        if self._matcher.is_own_account(mention):
            return False
        if self._registry is not None:
            author = self._registry.post_author(parent)
            if author is not None and author == mention.author_key:
                return False
        return True

    # ------------------------------------------------------------------ clusters

    def _cluster(self, mentions: Sequence[Mention], times: list[float], nows: list[float], spreads: list[float]) -> None:
        """Index the batch's clusterable posts; label those that join a cluster (their
        cluster's growth adds to their spread)."""
        from sentineld_plugins.scorers.virality.signatures import contents, shingles

        window = self.options.window
        positions: list[int] = []
        texts: list[str] = []
        authors: list[str] = []
        for position, mention in enumerate(mentions):
            if mention.reshare_of is None and times[position] >= nows[position] - window:
                author = mention.author_key
                if author is not None:
                    positions.append(position)
                    texts.append(mention.text)
                    authors.append(author)
        if not positions:
            return
        found = shingles(contents(texts), len(texts))
        long_enough = found.token_counts >= self.options.min_tokens
        if not long_enough.all():
            signatures = self._signer.sign(found)[long_enough[found.pair_counts > 0]]
            kept = long_enough.tolist()
            positions = [p for p, keep in zip(positions, kept, strict=True) if keep]
            authors = [a for a, keep in zip(authors, kept, strict=True) if keep]
            if not positions:
                return
        else:
            signatures = self._signer.sign(found)
        posts = [mentions[p] for p in positions]
        post_nows = [nows[p] for p in positions]
        first = self._next_slot
        # Posts leave the window by each post's own time: the batch is indexed with what is in
        # the window of its first post, and each pair is then held to its own post's window.
        pairs = self._index_posts(posts, [times[p] for p in positions], authors, signatures, post_nows[0])
        pairs = self._in_each_window(pairs, first, post_nows)
        self._join_all(mentions, positions, first, pairs, nows, spreads)
        self._expire_posts(nows[-1], room=0)

    def _in_each_window(self, pairs: tuple[np.ndarray, np.ndarray], first: int, post_nows: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """The pairs whose indexed post is still in the window of the new post, as it would be
        had the new post come alone: alone, a post first lets go of the oldest posts up to the
        first one within `window` of its time (`_expire_posts`). On a busy stream the ring
        is full long before a post is a window old and nothing is dropped here; on a quiet
        one a replay's batch spans more than the window, and without this its first posts
        would be clustered against what is left at its end (decision 0126)."""
        import numpy as np

        posts, others = pairs
        start, window = self._oldest, self.options.window
        if not len(posts) or self._times[start % self.options.max_posts] >= post_nows[-1] - window:
            return pairs
        # The first post each new post keeps: where the running maximum of the ring's times (in
        # slot order) reaches its now less the window.
        reach = np.maximum.accumulate(np.asarray(self._ring(self._times, start), dtype=np.float64))
        kept_from = start + np.searchsorted(reach, np.asarray(post_nows) - window, side="left")
        inside = others >= kept_from[posts - first]
        return posts[inside], others[inside]

    def _index_posts(
        self, posts: list[Mention], times: list[float], authors: list[str], signatures: np.ndarray, now: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Put the posts in the ring and the index, from slot `_next_slot` on; the pairs (slot
        of a post, slot of an indexed near-duplicate) verified against the signatures, by post
        then near-duplicate."""
        import numpy as np

        capacity, threshold = self.options.max_posts, self.options.threshold
        count_type = np.uint8 if self.options.num_perm < 256 else np.int64
        found: list[tuple[np.ndarray, np.ndarray]] = []
        step = max(capacity // 2, 1)
        for start in range(0, len(posts), step):
            stop = min(start + step, len(posts))
            self._expire_posts(now, room=stop - start)
            first = self._next_slot
            self._next_slot += stop - start
            chunk = posts[start:stop]
            self._put(self._signatures, first, signatures[start:stop])
            self._put(self._times, first, times[start:stop])
            self._put(self._posts, first, [m.id for m in chunk])
            self._put(self._authors, first, authors[start:stop])
            self._put(self._parents, first, [m.in_reply_to for m in chunk])
            # lists turned into arrays with their dtype given: numpy converts them 3x faster
            self._put(self._post_hashes, first, np.array([hash(m.id) for m in chunk], dtype=np.int64))
            self._put(self._author_hashes, first, np.array(list(map(hash, authors[start:stop])), dtype=np.int64))
            parents = [_NO_HASH if (p := m.in_reply_to) is None else hash(p) for m in chunk]
            self._put(self._parent_hashes, first, np.array(parents, dtype=np.int64))
            self._put(self._codes, first, np.full(stop - start, -1, dtype=np.int64))
            news, candidates = self._index.add(first, signatures[start:stop], self._oldest)
            if len(news):
                rows = self._signature_rows
                similar = rows.take(candidates % capacity).view(np.uint32) == rows.take(news % capacity).view(np.uint32)
                # the share of equal values, as `mean` computes it: a count (exact) over num_perm
                equal = np.add.reduce(similar.view(np.uint8).reshape(len(news), -1), axis=1, dtype=count_type)
                verified = equal / self.options.num_perm >= threshold
                found.append((news[verified], candidates[verified]))
        if not found:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])

    def _join_all(
        self, mentions: Sequence[Mention], positions: list[int], first: int,
        pairs: tuple[np.ndarray, np.ndarray], nows: list[float], spreads: list[float],
    ) -> None:
        """Put each new post that has near-duplicates by unconnected authors in their cluster,
        in stream order (`Joins.join`); label it (its cluster's growth adds to its spread).

        numpy sorts the pairs out first: it drops the posts that left meanwhile and the pairs
        whose authors are connected (compared by hash; a hash equal, the strings decide), and
        finds the posts whose near-duplicates are all in one live cluster: such a post joins it
        and nothing else changes, which is most posts of a text that keeps coming back."""
        import numpy as np

        posts, others = pairs
        capacity, oldest = self.options.max_posts, self._oldest
        live = (posts >= oldest) & (others >= oldest)
        if not live.all():
            posts, others = posts[live], others[live]
        if not len(posts):
            return
        rows, other_rows = posts % capacity, others % capacity
        ids, authors, parents = self._post_hashes, self._author_hashes, self._parent_hashes
        parent = parents[rows]
        maybe = (authors[other_rows] == authors[rows]) | (parents[other_rows] == ids[rows])
        maybe |= (parent != _NO_HASH) & ((ids[other_rows] == parent) | (parents[other_rows] == parent))
        if maybe.any():
            suspects = np.flatnonzero(maybe)
            maybe[suspects] = self._joins.connections(rows[suspects].tolist(), other_rows[suspects].tolist())
            apart = ~maybe
            posts, other_rows = posts[apart], other_rows[apart]
            if not len(posts):
                return
        starts = np.flatnonzero(np.concatenate(([True], posts[1:] != posts[:-1])))
        codes = self._codes[other_rows]
        lowest = np.minimum.reduceat(codes, starts)
        alone = (lowest == np.maximum.reduceat(codes, starts)).tolist()
        touched, codes_now = self._joins.join_groups(
            mentions, positions, first, capacity, posts[starts].tolist(), lowest.tolist(), alone,
            [*starts.tolist(), len(posts)], other_rows.tolist(), nows, spreads,
        )
        self._codes[touched] = codes_now

    def _expire_posts(self, now: float, room: int) -> None:
        """Drop posts older than the window, and the oldest until `room` more fit."""
        import numpy as np

        capacity = self.options.max_posts
        first = max(self._oldest, self._next_slot - (capacity - room))
        if first < self._next_slot and self._times[first % capacity] < now - self.options.window:
            recent = np.flatnonzero(np.asarray(self._ring(self._times, first)) >= now - self.options.window)
            first = first + int(recent[0]) if len(recent) else self._next_slot
        if first == self._oldest:
            return
        self._joins.let_go(self._ring(self._cluster_of, self._oldest, first))
        nothing = [None] * (first - self._oldest)
        for ring in (self._posts, self._authors, self._parents, self._cluster_of):
            self._put(ring, self._oldest, nothing)
        self._index.forget(self._oldest, first)
        self._oldest = first

    def _ring(self, ring: _Item, start: int, stop: int | None = None) -> _Item:
        """Slots [start, stop) of a ring (a list or an array), in slot order."""
        import numpy as np

        capacity = self.options.max_posts
        stop = self._next_slot if stop is None else stop
        begin, end = start % capacity, start % capacity + (stop - start)
        if end <= capacity:
            return ring[begin:end]  # type: ignore[index,no-any-return]
        if isinstance(ring, list):
            return ring[begin:] + ring[: end - capacity]  # type: ignore[return-value]
        return np.concatenate([ring[begin:], ring[: end - capacity]])  # type: ignore[index,return-value]

    def _put(self, ring: Any, first: int, values: Any) -> None:
        """Write `values` into slots ``first, first + 1, …`` of a ring (a list or an array)."""
        capacity = self.options.max_posts
        begin = first % capacity
        end = begin + len(values)
        if end <= capacity:
            ring[begin:end] = values
        else:
            ring[begin:] = values[: capacity - begin]
            ring[: end - capacity] = values[capacity - begin :]

    # ------------------------------------------------------------------ virality

    def _virality(self, spreads: list[float], nows: list[float]) -> list[float]:
        """Weighted mid-rank of each spread among the stream's recent spreading mentions
        (this batch's earlier ones included), 0 for what does not spread.

        The baseline is a histogram of log2(1 + spread) whose weights grow as exp(age) from a
        landmark (forward decay: the old weigh relatively less), rescaled now and then. A
        batch is ranked at once: row k of a cumulative sum holds what the batch's first k
        spreading mentions added to the histogram."""
        import numpy as np

        ranks = np.zeros(len(spreads))
        values = np.array(spreads, dtype=np.float64)
        spreading = np.flatnonzero(values > 0.0)
        if not len(spreading):
            return ranks.tolist()
        rate = np.log2(1.0 + values[spreading]) / _BASELINE_BIN
        index = np.minimum(rate.astype(np.int64), _BASELINE_BINS - 1)
        fraction = np.minimum(rate - index, 1.0)
        clock = np.array(nows, dtype=np.float64)[spreading]
        constant = self.options.baseline_half_life / math.log(2)
        start = 0
        while start < len(spreading):
            age = (clock[start:] - self._landmark) / constant
            if age[0] > 30.0 or self._landmark == 0.0:
                self._baseline *= math.exp(-age[0]) if self._landmark else 0.0
                self._landmark = float(clock[start])
                age = (clock[start:] - self._landmark) / constant
            over = np.flatnonzero(age > 30.0)
            stop = start + (int(over[0]) if len(over) else len(age))
            part = slice(start, stop)
            weight = np.exp(age[: stop - start])
            bins = index[part]
            low = int(bins.min())
            cell = (np.arange(len(bins)), bins - low)  # the columns span the bins in use
            added = np.zeros((len(bins), int(bins.max()) + 1 - low))
            added[cell] = weight
            np.cumsum(added, axis=0, out=added)
            within = added[cell]
            under = np.cumsum(added, axis=1)[cell] - within
            baseline = self._baseline
            under += (np.cumsum(baseline) - baseline)[bins]
            total = baseline.sum() + np.cumsum(weight)
            below = under + fraction[part] * (baseline[bins] + within - weight) + 0.5 * weight
            ranks[spreading[part]] = np.minimum(below / total, 1.0)
            baseline[low : low + added.shape[1]] += added[-1]
            start = stop
        return ranks.tolist()

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> bytes:
        """The state, encoded now (the pipeline writes it later, while scoring goes on)."""
        return _encode_state(self._state())

    def snapshot_parts(self, complete: bool) -> StateParts:
        """`snapshot`'s state with the indexed posts (rows of the ring, chunked by post id),
        the clusters and the followed engagement in chunks, of which a checkpoint writes those
        that changed (decision 0015)."""
        state = self._state()
        rows = [state.pop(name) for name in _RING]
        signatures, width = state.pop("signatures"), 4 * self.options.num_perm

        def ring() -> Iterator[bytes]:
            start = 0
            for end in chunk_bounds(rows[0]):
                yield _encode_state([*(column[start:end] for column in rows), signatures[start * width : end * width]])
                start = end

        sequences = {
            "ring": ring(),
            "clusters": encode_chunks(state.pop("clusters"), attrgetter("id"), _encode_state),
            "engagement": encode_chunks(state.pop("engagement"), itemgetter(0), _encode_state),
        }
        return self._parts.snapshot(_encode_state(state), sequences, complete)

    def restore_parts(self, parts: dict[str, bytes]) -> None:
        self._build()
        head, sequences = self._parts.restore(parts)
        state = _decode_state(head)
        chunks = [_decode_state(chunk) for chunk in sequences["ring"]]
        for column, name in enumerate(_RING):
            state[name] = [value for chunk in chunks for value in chunk[column]]
        state["signatures"] = b"".join(chunk[len(_RING)] for chunk in chunks)
        state["clusters"] = decoded_chunks(sequences["clusters"], _decode_state)
        state["engagement"] = decoded_chunks(sequences["engagement"], _decode_state)
        self._load(state)

    def _state(self) -> dict[str, Any]:
        self._build()
        return {
            "version": _STATE_VERSION,
            "num_perm": self.options.num_perm,
            "now": self.now,
            "next_slot": self._next_slot,
            "posts": self._ring(self._posts, self._oldest),
            "authors": self._ring(self._authors, self._oldest),
            "parents": self._ring(self._parents, self._oldest),
            "cluster_of": self._ring(self._cluster_of, self._oldest),
            "times": self._ring(self._times, self._oldest),
            "signatures": self._ring(self._signatures, self._oldest).tobytes(),
            "clusters": list(self._clusters.values()),
            # as pairs: msgspec writes a dict subclass in the dict's own order, which for an
            # OrderedDict is not the order move_to_end gave it (the order posts are let go in)
            "engagement": list(self._engagement.items()),
            "landmark": self._landmark,
            "baseline": self._baseline.tobytes(),
        }

    def restore(self, state: Any) -> None:
        self._build()
        if isinstance(state, dict) and state.get("version") == 1:
            self._restore_first_version(state)
            return
        if not isinstance(state, bytes):
            return
        self._load(_decode_state(state))

    def _load(self, saved: dict[str, Any]) -> None:
        import numpy as np

        if saved.get("version") != _STATE_VERSION:
            return
        self.now = saved["now"]
        clusters = {c[0]: Cluster.from_state(c) for c in saved["clusters"]}
        self._joins.set_clusters(clusters)
        self._rates.engagement = OrderedDict((post, [float(v) for v in counts]) for post, counts in saved["engagement"])
        self._landmark = saved["landmark"]
        self._baseline = np.frombuffer(saved["baseline"], dtype=np.float64).copy()
        self._oldest = self._next_slot = saved["next_slot"]
        keep = min(len(saved["posts"]), self.options.max_posts)
        if saved["num_perm"] != self.options.num_perm or not keep:
            self._joins.set_clusters({})
            return  # signatures of another length cannot be compared: index afresh
        self._oldest = first = self._next_slot - keep
        signatures = np.frombuffer(saved["signatures"], dtype=np.uint32).reshape(-1, self.options.num_perm)[-keep:]
        self._put(self._signatures, first, signatures)
        for name in ("times", "posts", "authors", "parents", "cluster_of"):
            self._put(getattr(self, "_" + name), first, saved[name][-keep:])
        self._put(self._post_hashes, first, [hash(post) for post in saved["posts"][-keep:]])
        self._put(self._author_hashes, first, [hash(author) for author in saved["authors"][-keep:]])
        self._put(self._parent_hashes, first, [_NO_HASH if p is None else hash(p) for p in saved["parents"][-keep:]])
        self._put(self._codes, first, [-1 if name is None else cluster_code(name) for name in saved["cluster_of"][-keep:]])
        self._index.add(first, signatures, first)
        for cluster in clusters.values():
            cluster.posts = 0
        for name in self._cluster_of:
            if name is not None and name in clusters:
                clusters[name].posts += 1
        self._joins.set_clusters({name: c for name, c in clusters.items() if c.posts > 0})

    def _restore_first_version(self, state: dict[str, Any]) -> None:
        """The rates and the baseline of a checkpoint written before the index was arrays; its
        signatures hashed tokens otherwise, so the index (and the clusters found through it)
        starts afresh."""
        import numpy as np

        self.now = state["now"]
        self._oldest = self._next_slot = state["next_slot"]
        self._rates.engagement = OrderedDict((e[0], [float(v) for v in e[1:]]) for e in state["engagement"])
        self._landmark = state["baseline"][0]
        self._baseline = np.array(state["baseline"][1], dtype=np.float64)


#: The ring's columns as a checkpoint writes them (the signatures follow, as bytes).
_RING = ("posts", "authors", "parents", "cluster_of", "times")


@hookimpl
def register_scorers(register: Any) -> None:
    register(ViralityScorer)
