"""The posts and clusters viral_post follows, and the per-mention work on them.

Compiled with mypyc together with `learned` (decision 0141): `Followed.update` runs for every
spreading mention, and on a busy stream nearly every one starts a followed post, which lets go
of the least recent (learning its peaks). As native classes these are typed attribute reads
and direct calls; as Python (no compiler, or ``SENTINELD_NO_EXTENSIONS=1``) the same code gives
the same results. The alerts themselves (summaries, evidence, the learned thresholds) stay in
the trigger, which `update` hands a post back to when its alert may change.

Values that may come in as ints (a scorer is free to write ``2`` for ``2.0``) are stored with
``float()``, so that the compiled build and the sources keep, and checkpoint, the same floats.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Final

from sentineld.model import from_timestamp
from sentineld_plugins.triggers._common import watched_subject
from sentineld_plugins.triggers.viral_post.learned import DecayedLogHistogram

#: The mentions a followed post lists, at most.
MAX_MENTION_IDS: Final = 20
METRICS: Final = ("reshare_velocity", "reply_velocity", "cluster_growth")

#: A followed post as a checkpoint writes it: its eleven fields in this order (the order of the
#: msgspec struct that held it before, so the bytes are the same).
Row = tuple[str, str, float, float, tuple[str, ...], float, float, float, "str | None", float, float]


class Spread:
    """One post or cluster being followed."""

    __slots__ = ("subject", "channel", "first_at", "last_at", "mentions", "reshare_velocity", "reply_velocity",
                 "cluster_growth", "firing", "crossed", "reported")

    def __init__(self, subject: str, channel: str, first_at: float, last_at: float, mentions: tuple[str, ...] = (),
                 reshare_velocity: float = 0.0, reply_velocity: float = 0.0, cluster_growth: float = 0.0,
                 firing: str | None = None, crossed: float = 0.0, reported: float = 0.0) -> None:
        self.subject = subject
        self.channel = channel
        self.first_at = float(first_at)
        self.last_at = float(last_at)
        #: The first `MAX_MENTION_IDS` mentions that spread it (a tuple, which the garbage
        #: collector stops looking at); empty while the only one is the post itself (most
        #: followed posts: its id is in the key).
        self.mentions = mentions
        #: The highest rate seen, per metric.
        self.reshare_velocity = float(reshare_velocity)
        self.reply_velocity = float(reply_velocity)
        self.cluster_growth = float(cluster_growth)
        #: The metric whose alert is open, the threshold it crossed, the rate last reported.
        self.firing = firing
        self.crossed = float(crossed)
        self.reported = float(reported)

    def row(self) -> Row:
        return (self.subject, self.channel, self.first_at, self.last_at, self.mentions, self.reshare_velocity,
                self.reply_velocity, self.cluster_growth, self.firing, self.crossed, self.reported)

    def peaks(self) -> dict[str, float]:
        return {metric: peak for metric, peak in zip(METRICS, self.row()[5:8]) if peak}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Spread) and self.row() == other.row()

    def __repr__(self) -> str:
        return f"Spread{self.row()!r}"


class Followed:
    """The followed posts, least recently heard of first, and the learned peak rates they feed.

    `owner` is the trigger: `firing_rates()` gives the rate that fires for each of `METRICS`
    (asked again after what was learned moved)."""

    def __init__(self, learned: list[DecayedLogHistogram], quiet: float, most: int, warmup: int, owner: Any) -> None:
        self.tracked: OrderedDict[str, Spread] = OrderedDict()
        self.reshares = learned[0]
        self.replies = learned[1]
        self.growth = learned[2]
        self.quiet = float(quiet)
        self.most = most
        self.warmup = warmup
        self.owner = owner
        #: The rates that fire, valid while `fresh`.
        self.fresh = False
        self.fire_reshares = 0.0
        self.fire_replies = 0.0
        self.fire_growth = 0.0

    def forget_rates(self) -> None:
        self.fresh = False

    def observe(self, mentions: Sequence[Any], subjects: list[str], min_cluster_size: Any, alerts: Any) -> None:
        """`ViralPost.observe`: each mention that spreads a post (reshares, replies: the post it
        reshares, or itself) or a cluster (growth) of a subject watched updates what is
        followed; the owner's `alert(spread, post, mention, alerts)` decides the alert when
        `update` says it may change. The rates are read as the scores hold them (an int
        stays one for the alert), and stored as floats."""
        every = "*" in subjects
        owner = self.owner
        for mention in mentions:
            scores: dict[str, Any] = mention.scores
            matches: list[str] = mention.matches
            if not scores or not matches:
                continue
            # float(): a score may be an int or a numpy scalar, which a native float is not
            reshares = float(scores.get("reshare_velocity") or 0.0)
            replies = float(scores.get("reply_velocity") or 0.0)
            growth = float(scores.get("cluster_growth") or 0.0)
            if reshares <= 0 and replies <= 0 and growth <= 0:
                continue  # the fast path: not spreading at all
            # watched_subject, with its usual answer (the first match) tried first
            subject: str | None = matches[0]
            if not every and subject not in subjects:
                subject = watched_subject(matches, subjects)
                if subject is None:
                    continue
            moment: float = mention.timestamp
            ident: str = mention.id
            if reshares > 0 or replies > 0:
                reshare_of: str | None = mention.reshare_of
                post = reshare_of or ident
                spread = self.update(f"{subject}/post:{post}", mention.source, post, ident, moment, reshares,
                                     replies, 0.0, alerts)
                if spread is not None:
                    owner.alert(spread, post, mention, alerts)
            if growth > 0:
                labels: dict[str, str] = mention.labels
                cluster = labels.get("cluster")
                if cluster is not None and scores.get("cluster_size", 0) >= min_cluster_size:
                    spread = self.update(f"{subject}/cluster:{cluster}", "*", None, ident, moment, 0.0, 0.0, growth,
                                         alerts)
                    if spread is not None:
                        owner.alert(spread, None, mention, alerts)

    def update(self, key: str, channel: str, post: str | None, mention: str, moment: float,
               reshares: float, replies: float, growth: float, alerts: Any) -> Spread | None:
        """A mention (id `mention`) spreads the post (reshares, replies) or the cluster (growth)
        `key` names (`post`: the post's id, None for a cluster). The post when its alert may
        change (it is firing, or a rate reached the rate that fires), else None."""
        tracked = self.tracked
        spread = tracked.get(key)
        if spread is None:
            if tracked:
                self.make_room(moment, alerts)
            mentions: tuple[str, ...] = () if post == mention else (mention,)
            spread = Spread(key, sys.intern(channel), moment, moment, mentions, reshares, replies, growth)
            tracked[key] = spread
        else:
            tracked.move_to_end(key)
            spread.last_at = moment
            known = spread.mentions
            if not known and post is not None:
                known = (post,)
            if len(known) < MAX_MENTION_IDS and (not known or known[-1] != mention):
                spread.mentions = (*known, mention)
            if reshares > spread.reshare_velocity:
                spread.reshare_velocity = float(reshares)
            if replies > spread.reply_velocity:
                spread.reply_velocity = float(replies)
            if growth > spread.cluster_growth:
                spread.cluster_growth = float(growth)
        if spread.firing is not None:
            return spread
        if not self.fresh:
            self.fire_reshares, self.fire_replies, self.fire_growth = self.owner.firing_rates()
            self.fresh = True
        if reshares >= self.fire_reshares or replies >= self.fire_replies or growth >= self.fire_growth:
            return spread
        return None

    def make_room(self, moment: float, alerts: Any) -> None:
        """Before following one more: let go of the quiet, then of the least recent if full."""
        tracked, quiet, most = self.tracked, self.quiet, self.most
        while tracked:
            if len(tracked) >= most:  # full (the usual case on a busy stream): the least recent goes
                spread = tracked.popitem(last=False)[1]
                if spread.last_at + quiet > moment:
                    self.let_go(spread, moment, alerts)
                    return
            else:
                spread = next(iter(tracked.values()))
                if spread.last_at + quiet > moment:
                    return
                tracked.popitem(last=False)
            self.let_go(spread, spread.last_at + quiet, alerts)

    def expire(self, moment: float, alerts: Any) -> None:
        """Let go of every post not heard of for `quiet`."""
        tracked, quiet = self.tracked, self.quiet
        while tracked:
            spread = next(iter(tracked.values()))
            if spread.last_at + quiet > moment:
                return
            tracked.popitem(last=False)
            self.let_go(spread, spread.last_at + quiet, alerts)

    def let_go(self, spread: Spread, at: float, alerts: Any) -> None:
        """Stop following a post: learn its peak rates, resolve its alert if open."""
        warmup, last = self.warmup, spread.last_at
        if spread.reshare_velocity:
            learned = self.reshares
            if learned.add(spread.reshare_velocity, last) or learned.observations <= warmup:
                self.fresh = False
        if spread.reply_velocity:
            learned = self.replies
            if learned.add(spread.reply_velocity, last) or learned.observations <= warmup:
                self.fresh = False
        if spread.cluster_growth:
            learned = self.growth
            if learned.add(spread.cluster_growth, last) or learned.observations <= warmup:
                self.fresh = False
        if spread.firing is not None:
            alerts.clear(subject=spread.subject, channel=spread.channel, at=from_timestamp(at))

    def rows(self) -> list[Row]:
        return [spread.row() for spread in self.tracked.values()]

    def load(self, spreads: list[Spread]) -> None:
        self.tracked = OrderedDict((spread.subject, spread) for spread in spreads)
        self.fresh = False
