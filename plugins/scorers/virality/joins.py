"""The per-post part of clustering: which cluster each new post joins, and its labels.

The virality scorer sorts a batch's near-duplicate pairs out in numpy (`ViralityScorer._join_all`);
what is left is a loop over the posts that found some, with dict lookups and `Cluster.add`
for each. That loop lives here, in a native class over the ring's columns (lists shared with
the scorer, which writes them), so that mypyc compiles it with `clusters` and `sketch` as one
group (decision 0140). Run as Python it gives the same results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from sentineld.model import Mention
from sentineld_plugins.scorers.virality.clusters import Cluster, cluster_code, cluster_id

_HOUR: Final = 3600.0


class Joins:
    """The indexed posts' columns that joining reads and writes, and the live clusters.

    The lists are the scorer's ring (row ``slot % capacity``); the scorer writes new posts into
    them, and lets posts go with `let_go`."""

    def __init__(self, capacity: int, tau: float) -> None:
        self.tau = tau
        self.times: list[float] = [0.0] * capacity
        self.posts: list[str | None] = [None] * capacity
        self.authors: list[str | None] = [None] * capacity
        self.parents: list[str | None] = [None] * capacity
        self.cluster_of: list[str | None] = [None] * capacity
        self.clusters: dict[str, Cluster] = {}
        #: The same clusters, by `cluster_code`.
        self.by_code: dict[int, Cluster] = {}

    def set_clusters(self, clusters: dict[str, Cluster]) -> None:
        self.clusters = clusters
        self.by_code = {cluster_code(name): c for name, c in clusters.items()}

    def join_groups(
        self,
        mentions: Sequence[Mention],
        positions: list[int],
        first: int,
        capacity: int,
        slots: list[int],
        lowest: list[int],
        alone: list[bool],
        bounds: list[int],
        near: list[int],
        nows: list[float],
        spreads: list[float],
    ) -> tuple[list[int], list[int]]:
        """Put each new post in its cluster and label it: group ``g`` is the post at slot
        ``slots[g]``, its near-duplicates the rows ``near[bounds[g]:bounds[g + 1]]``, and
        ``lowest[g]`` their lowest cluster code, the only one when ``alone[g]``. Returns the
        rows whose cluster changed and their new cluster codes."""
        by_code, cluster_of, authors, times, tau = self.by_code, self.cluster_of, self.authors, self.times, self.tau
        touched: list[int] = []
        codes_now: list[int] = []
        for group in range(len(slots)):
            row = slots[group] % capacity
            code = lowest[group]
            cluster = by_code.get(code) if alone[group] else None
            if cluster is not None:  # every near-duplicate in this live cluster: join it
                cluster_of[row] = cluster.id
                cluster.posts += 1
                cluster.add(authors[row] or "", times[row], tau)
                touched.append(row)
                codes_now.append(code)
            else:
                before = len(touched)
                cluster = self.join(row, near[bounds[group] : bounds[group + 1]], touched)
                new_code = cluster_code(cluster.id)
                for _ in range(len(touched) - before):
                    codes_now.append(new_code)
            position = positions[slots[group] - first]
            # cluster.growth_per_hour(now, tau), inline (once per post that joins a cluster)
            growth, since, now = cluster.growth, cluster.growth_at, nows[position]
            growth = (growth * math.exp((since - now) / tau) if now > since else growth) * _HOUR / tau
            mention = mentions[position]
            mention.labels["cluster"] = cluster.id
            scores = mention.scores
            scores["cluster_size"] = float(cluster.size)
            scores["cluster_growth"] = growth
            spreads[position] += growth
        return touched, codes_now

    def connected(self, row: int, other: int) -> bool:
        """Whether the authors of two indexed posts are connected: the same author, one post
        answering the other, or both answering the same post."""
        posts, parents = self.posts, self.parents
        replying_to = parents[row]
        return self.authors[other] == self.authors[row] or parents[other] == posts[row] or (
            replying_to is not None and (posts[other] == replying_to or parents[other] == replying_to)
        )

    def connections(self, rows: list[int], others: list[int]) -> list[bool]:
        """`connected` for each pair."""
        return [self.connected(row, other) for row, other in zip(rows, others)]

    def join(self, row: int, matched: list[int], touched: list[int]) -> Cluster:
        """Put the post in `row` in the cluster of its near-duplicates (the rows `matched`,
        by unconnected authors): the oldest live cluster among theirs, else a new one; those
        of them in no live cluster join it too. The rows whose cluster changed go to
        `touched`."""
        clusters, times, posts, authors, cluster_of = self.clusters, self.times, self.posts, self.authors, self.cluster_of
        known: list[Cluster] = []
        for other in matched:
            name = cluster_of[other]
            if name is not None:
                found = clusters.get(name)
                if found is not None:
                    known.append(found)
        if known:
            cluster = known[0]
            for candidate in known[1:]:  # min by (first_seen, id): the first of equals stays
                if (candidate.first_seen, candidate.id) < (cluster.first_seen, cluster.id):
                    cluster = candidate
        else:
            first = matched[0]
            for other in matched[1:]:  # min by (time, post id): the first of equals stays
                if (times[other], posts[other] or "") < (times[first], posts[first] or ""):
                    first = other
            name = cluster_id(posts[first] or "")
            cluster = Cluster.start(name, times[first])
            clusters[name] = cluster
            self.by_code[cluster_code(name)] = cluster
        tau = self.tau
        for other in matched:
            belongs = cluster_of[other]
            if belongs is None or belongs not in clusters:
                cluster_of[other] = cluster.id
                cluster.posts += 1
                cluster.add(authors[other] or "", times[other], tau)
                touched.append(other)
        cluster_of[row] = cluster.id
        cluster.posts += 1
        cluster.add(authors[row] or "", times[row], tau)
        touched.append(row)
        return cluster

    def let_go(self, gone: list[str | None]) -> None:
        """Posts of these clusters left the ring: a cluster none of whose posts is left goes."""
        counts: dict[str, int] = {}
        for name in gone:
            if name is not None:
                counts[name] = counts.get(name, 0) + 1
        clusters = self.clusters
        for name, count in counts.items():
            cluster = clusters.get(name)
            if cluster is not None:
                cluster.posts -= count
                if cluster.posts <= 0:
                    del clusters[name], self.by_code[cluster_code(name)]
