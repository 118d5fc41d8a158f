"""Reshare and reply velocities, per mention: the virality scorer's first pass over a batch.

A native class when compiled with `clusters`, `joins` and `sketch` (decision 0140): it runs
once for every mention. `Rates.engagement` follows what the stream did with each post it saw
reshared or answered (decayed counts), least recently spread first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Final

from sentineld.model import Mention
from sentineld_plugins.scorers.virality.clusters import bump, decayed

_HOUR: Final = 3600.0


class Rates:
    """Velocities of a batch, and the engagement of the posts followed (`tracked` at most)."""

    def __init__(self, tau: float, min_age: float, tracked: int, counts: Callable[[Mention, str], bool]) -> None:
        self.tau = tau
        #: `min_age` in hours.
        self.min_age = min_age / _HOUR
        self.tracked = tracked
        #: Whether a reshare or reply (of the post named) is someone else spreading the post.
        self.counts = counts
        #: post id -> [reshares, replies, at]: decayed counts of what the stream did with it.
        self.engagement: OrderedDict[str, list[float]] = OrderedDict()

    def velocities(self, mentions: Sequence[Mention], times: list[float], nows: list[float]) -> list[float]:
        """Score the reshares and replies per hour of what each mention spreads; their sums."""
        min_age = self.min_age
        engagement = self.engagement
        spreads = [0.0] * len(mentions)
        for position in range(len(mentions)):
            mention = mentions[position]
            parent = mention.reshare_of or mention.in_reply_to
            if parent is not None:
                reshares, replies = self.spread_of(mention, parent, times[position], nows[position])
            else:
                metrics = mention.metrics
                if metrics is not None and (metrics.reshares or metrics.replies):
                    age = (nows[position] - times[position]) / _HOUR
                    if min_age > age:  # max(age, min_age), as Python's max picks
                        age = min_age
                    reshares, replies = metrics.reshares / age, metrics.replies / age
                else:
                    reshares = replies = 0.0
                seen = engagement.get(mention.id) if engagement else None
                if seen is not None:  # an original post whose reshares and replies the stream carried
                    now = nows[position]
                    carried = self.rate(seen[0], seen[2], now)
                    if carried > reshares:
                        reshares = carried
                    carried = self.rate(seen[1], seen[2], now)
                    if carried > replies:
                        replies = carried
            scores = mention.scores
            scores["reshare_velocity"] = reshares
            scores["reply_velocity"] = replies
            spreads[position] = reshares + replies
        return spreads

    def spread_of(self, mention: Mention, parent: str, at: float, now: float) -> tuple[float, float]:
        """(reshares, replies) per hour of the post a reshare or reply spreads, this one counted."""
        engagement = self.engagement
        seen = engagement.get(parent)
        if not self.counts(mention, parent):
            if seen is None:
                return 0.0, 0.0
            return self.rate(seen[0], seen[2], now), self.rate(seen[1], seen[2], now)
        if seen is None:
            seen = [0.0, 0.0, at]
            engagement[parent] = seen
            if len(engagement) > self.tracked:
                engagement.popitem(last=False)
        else:
            engagement.move_to_end(parent)
        tau = self.tau
        which = 0 if mention.reshare_of is not None else 1
        value, since = bump(seen[which], seen[2], at, tau)
        seen[1 - which] = decayed(seen[1 - which], seen[2], since, tau)
        seen[which] = value
        seen[2] = since
        return self.rate(seen[0], seen[2], now), self.rate(seen[1], seen[2], now)

    def rate(self, value: float, since: float, now: float) -> float:
        tau = self.tau
        return decayed(value, since, now, tau) * _HOUR / tau
