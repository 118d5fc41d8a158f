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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from sentineld import Duration, Mention, Options, Scorer, hookimpl
from sentineld_plugins.scorers.virality.clusters import Cluster, bump, cluster_id, decayed

if TYPE_CHECKING:
    import numpy as np

_HOUR = 3600.0
_BASELINE_BIN = 0.25  # in log2(1 + spread per hour)
_BASELINE_BINS = 96
_STATE_VERSION = 1


class ViralityOptions(Options):
    #: Estimated Jaccard similarity of token pairs above which two posts are near-duplicates.
    threshold: float = 0.6
    #: MinHash permutations: more is more precise and slower.
    num_perm: int = 64
    #: Posts with fewer words than this are not clustered (a CJK character counts as a word).
    min_tokens: int = 6
    #: How long a post can gather near-duplicates, and a quiet cluster stays known.
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
        if self.max_posts * self.num_perm > 2**27:  # the signature index is allocated at start
            raise ValueError("max_posts × num_perm over 134 million: the index would take over 512 MiB")
        if min(self.window, self.rate_window, self.min_age, self.baseline_half_life) <= 0:
            raise ValueError("window, rate_window, min_age and baseline_half_life must be > 0s")


class _Entry:
    """An indexed post."""

    __slots__ = ("post", "author", "parent", "at", "cluster")

    def __init__(self, post: str, author: str, parent: str | None, at: float, cluster: str | None) -> None:
        self.post, self.author, self.parent, self.at, self.cluster = post, author, parent, at, cluster

    def connected(self, mention: Mention, author: str) -> bool:
        return (
            self.author == author
            or self.post == mention.in_reply_to
            or self.post == mention.reshare_of
            or self.parent == mention.id
            or (mention.in_reply_to is not None and self.parent == mention.in_reply_to)
        )


class ViralityScorer(Scorer):
    """Per-post velocity, near-duplicate clusters across unconnected authors, and virality."""

    type_name = "virality"
    description = "reshare/reply velocity, near-duplicate clusters (MinHash LSH), virality in [0, 1]"
    Options = ViralityOptions

    def __init__(self, options: ViralityOptions, context: Any) -> None:
        super().__init__(options, context)
        import numpy as np

        from sentineld.watch import Matcher
        from sentineld_plugins.scorers.virality.index import BandIndex, DatasketchIndex, lsh_params
        from sentineld_plugins.scorers.virality.signatures import Signer

        self._matcher = Matcher(context.watch)
        self._registry = getattr(context, "influencers", None)
        self._signer = Signer(options.num_perm)
        bands, rows = lsh_params(options.threshold, options.num_perm)
        if options.index == "datasketch":
            self._index: Any = DatasketchIndex(options.threshold, options.num_perm, self._signer.seed, self._signer.scheme)
        else:
            self._index = BandIndex(bands, rows)
        capacity = options.max_posts
        self._signatures = np.zeros((capacity, options.num_perm), dtype=np.uint32)
        self._keys: np.ndarray | None = None  # band keys of each slot, shaped on first use
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._next_slot = 0
        self._clusters: dict[str, Cluster] = {}
        #: post id -> [reshares, replies, at]: decayed counts of what the stream did with it.
        self._engagement: OrderedDict[str, list[float]] = OrderedDict()
        self._baseline = [0.0] * _BASELINE_BINS
        self._landmark = 0.0
        self.now = 0.0

    # ------------------------------------------------------------------ scoring

    async def score(self, mentions: Sequence[Mention]) -> None:
        from sentineld_plugins.scorers.virality.signatures import normalize, token_count

        options = self.options
        times = [m.timestamp for m in mentions]
        latest = max(self.now, max(times, default=self.now))
        oldest = latest - options.window
        positions: list[int] = []
        contents: list[bytes] = []
        for position, mention in enumerate(mentions):
            if mention.reshare_of is None and mention.author is not None and times[position] >= oldest:
                content = normalize(mention.text)
                if token_count(content) >= options.min_tokens and mention.author_key is not None:
                    positions.append(position)
                    contents.append(content)
        indexed = self._index_posts(mentions, times, positions, contents, latest)

        engagement = self._engagement
        for position, mention in enumerate(mentions):
            at = times[position]
            if at > self.now:
                self.now = at
            metrics = mention.metrics
            if (
                mention.reshare_of is None and mention.in_reply_to is None
                and (metrics is None or not (metrics.reshares or metrics.replies))
                and mention.id not in engagement
            ):
                reshares = replies = 0.0  # an original post nobody spreads (yet)
            else:
                reshares, replies = self._velocity(mention, at)
            scores = mention.scores
            scores["reshare_velocity"] = reshares
            scores["reply_velocity"] = replies
            spread = reshares + replies
            found = indexed.get(position)
            if found is not None and found[1]:
                cluster = self._join(mention, *found)
                if cluster is not None:
                    growth = cluster.growth_per_hour(self.now, options.rate_window)
                    mention.labels["cluster"] = cluster.id
                    scores["cluster_size"] = float(cluster.size)
                    scores["cluster_growth"] = growth
                    spread += growth
            scores["virality"] = self._virality(spread) if spread > 0.0 else 0.0
        self._expire_clusters()

    def _velocity(self, mention: Mention, at: float) -> tuple[float, float]:
        """(reshares, replies) per hour of the post this mention spreads."""
        tau = self.options.rate_window
        parent = mention.reshare_of or mention.in_reply_to
        if parent is None:
            from_metrics = (0.0, 0.0)
            metrics = mention.metrics
            if metrics is not None and (metrics.reshares or metrics.replies):
                age = max(self.now - at, self.options.min_age) / _HOUR
                from_metrics = (metrics.reshares / age, metrics.replies / age)
            seen = self._engagement.get(mention.id)
            if seen is None:
                return from_metrics
            return (
                max(from_metrics[0], self._rate(seen[0], seen[2])),
                max(from_metrics[1], self._rate(seen[1], seen[2])),
            )
        seen = self._engagement.get(parent)
        if not self._counts(mention, parent):
            return (0.0, 0.0) if seen is None else (self._rate(seen[0], seen[2]), self._rate(seen[1], seen[2]))
        if seen is None:
            seen = self._engagement[parent] = [0.0, 0.0, at]
            if len(self._engagement) > self.options.tracked_posts:
                self._engagement.popitem(last=False)
        else:
            self._engagement.move_to_end(parent)
        which = 0 if mention.reshare_of is not None else 1
        value, since = bump(seen[which], seen[2], at, tau)
        seen[1 - which] = decayed(seen[1 - which], seen[2], since, tau)
        seen[which], seen[2] = value, since
        return self._rate(seen[0], seen[2]), self._rate(seen[1], seen[2])

    def _counts(self, mention: Mention, parent: str) -> bool:
        """Whether this reshare or reply is someone else spreading the post."""
        if self._matcher.is_own_account(mention):
            return False
        if self._registry is not None:
            author = self._registry.post_author(parent)
            if author is not None and author == mention.author_key:
                return False
        return True

    def _rate(self, value: float, since: float) -> float:
        tau = self.options.rate_window
        return decayed(value, since, self.now, tau) * _HOUR / tau

    # ------------------------------------------------------------------ clusters

    def _index_posts(
        self, mentions: Sequence[Mention], times: list[float], positions: list[int],
        contents: list[bytes], now: float,
    ) -> dict[int, tuple[int, list[int]]]:
        """Index the batch's clusterable posts; position -> (slot, candidate slots)."""
        import numpy as np

        found: dict[int, tuple[int, list[int]]] = {}
        if not positions:
            return found
        signatures = self._signer.sign(contents)
        keys = self._index.band_keys(signatures)
        capacity = self.options.max_posts
        if self._keys is None:
            self._keys = np.zeros((capacity, keys.shape[1]), dtype=np.uint64)
        step = max(capacity // 2, 1)
        for start in range(0, len(positions), step):
            chunk = range(start, min(start + step, len(positions)))
            self._expire_posts(now, room=len(chunk))
            slots = list(range(self._next_slot, self._next_slot + len(chunk)))
            self._next_slot += len(chunk)
            rows = [slot % capacity for slot in slots]
            self._signatures[rows] = signatures[chunk.start : chunk.stop]
            self._keys[rows] = keys[chunk.start : chunk.stop]
            for slot, index in zip(slots, chunk, strict=True):
                position = positions[index]
                mention = mentions[position]
                author = mention.author_key
                assert author is not None
                self._entries[slot] = _Entry(mention.id, author, mention.in_reply_to, times[position], None)
            candidates = self._index.add_batch(slots, keys[chunk.start : chunk.stop], signatures[chunk.start : chunk.stop])
            for slot, index, near in zip(slots, chunk, candidates, strict=True):
                found[positions[index]] = (slot, near)
        return found

    def _join(self, mention: Mention, slot: int, candidates: list[int]) -> Cluster | None:
        """Put the post in the cluster of its verified, unconnected near-duplicates, if any."""
        entry = self._entries.get(slot)
        if entry is None or not candidates:
            return None
        options, entries = self.options, self._entries
        live = [c for c in candidates if c in entries]
        if not live:
            return None
        capacity = options.max_posts
        own = self._signatures[slot % capacity]
        similar = (self._signatures[[c % capacity for c in live]] == own).mean(axis=1) >= options.threshold
        matched = [
            entries[c] for c, ok in zip(live, similar, strict=True)
            if ok and not entries[c].connected(mention, entry.author)
        ]  # fmt: skip
        if not matched:
            return None
        clusters = self._clusters
        known = [clusters[e.cluster] for e in matched if e.cluster in clusters]
        if known:
            cluster = min(known, key=lambda c: (c.first_seen, c.id))
        else:
            first = min(matched, key=lambda e: (e.at, e.post))
            cluster = clusters[cluster_id(first.post)] = Cluster(cluster_id(first.post), first.at)
        tau = options.rate_window
        for earlier in matched:
            if earlier.cluster not in clusters:
                earlier.cluster = cluster.id
                cluster.add(earlier.author, earlier.at, tau)
        entry.cluster = cluster.id
        cluster.add(entry.author, entry.at, tau)
        return cluster

    def _expire_posts(self, now: float, room: int) -> None:
        """Drop posts older than the window, and the oldest until `room` more fit."""
        entries, keys = self._entries, self._keys
        assert keys is not None
        oldest, limit = now - self.options.window, self.options.max_posts - room
        capacity = self.options.max_posts
        gone = []
        for slot, entry in entries.items():
            if entry.at >= oldest and len(entries) - len(gone) <= limit:
                break
            gone.append(slot)
        if gone:
            for slot in gone:
                del entries[slot]
            self._index.remove(gone, keys[[slot % capacity for slot in gone]])

    def _expire_clusters(self) -> None:
        oldest = self.now - self.options.window
        stale = [cid for cid, c in self._clusters.items() if c.last_seen < oldest]
        for cid in stale:
            del self._clusters[cid]

    # ------------------------------------------------------------------ virality

    def _virality(self, spread: float) -> float:
        """Weighted mid-rank of `spread` among recent spreading mentions (0 if it does not)."""
        if spread <= 0.0:
            return 0.0
        bins = self._baseline
        rate = math.log2(1.0 + spread) / _BASELINE_BIN
        index = min(int(rate), _BASELINE_BINS - 1)
        age = (self.now - self._landmark) / (self.options.baseline_half_life / math.log(2))
        if age > 30.0 or self._landmark == 0.0:
            shrink = math.exp(-age) if self._landmark else 0.0
            self._baseline = bins = [b * shrink for b in bins]
            self._landmark, age = self.now, 0.0
        weight = math.exp(age)
        bins[index] += weight
        total = sum(bins)  # 96 floats: cheaper than keeping a running total honest
        fraction = min(rate - index, 1.0)
        below = sum(bins[:index]) + fraction * (bins[index] - weight) + 0.5 * weight
        return min(below / total, 1.0)

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> dict[str, Any]:
        capacity = self.options.max_posts
        rows = [slot % capacity for slot in self._entries]
        return {
            "version": _STATE_VERSION,
            "num_perm": self.options.num_perm,
            "now": self.now,
            "next_slot": self._next_slot,
            "entries": [[slot, e.post, e.author, e.parent, e.at, e.cluster] for slot, e in self._entries.items()],
            "signatures": self._signatures[rows].tobytes(),
            "clusters": [c.to_state() for c in self._clusters.values()],
            "engagement": [[post, *seen] for post, seen in self._engagement.items()],
            "baseline": [self._landmark, self._baseline],
        }

    def restore(self, state: Any) -> None:
        import numpy as np

        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            return
        self.now = state["now"]
        self._next_slot = state["next_slot"]
        self._clusters = {c[0]: Cluster.from_state(c) for c in state["clusters"]}
        self._engagement = OrderedDict((e[0], list(e[1:])) for e in state["engagement"])
        self._landmark, self._baseline = state["baseline"][0], list(state["baseline"][1])
        if state["num_perm"] != self.options.num_perm or not state["entries"]:
            return  # signatures of another length cannot be compared: index afresh
        capacity = self.options.max_posts
        saved = np.frombuffer(state["signatures"], dtype=np.uint32).reshape(-1, self.options.num_perm)
        entries = state["entries"][-(capacity - 1) :]
        signatures = saved[len(saved) - len(entries) :]
        keys = self._index.band_keys(signatures)
        self._keys = np.zeros((capacity, keys.shape[1]), dtype=np.uint64)
        slots = [entry[0] for entry in entries]
        rows = [slot % capacity for slot in slots]
        self._signatures[rows] = signatures
        self._keys[rows] = keys
        for slot, post, author, parent, at, cluster in entries:
            self._entries[slot] = _Entry(post, author, parent, at, cluster)
        self._index.add_batch(slots, keys, signatures)


@hookimpl
def register_scorers(register: Any) -> None:
    register(ViralityScorer)
