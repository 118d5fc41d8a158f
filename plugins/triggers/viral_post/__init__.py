"""viral_post: one post, or one cluster of near-duplicate posts, spreading unusually fast.

A *post* spreads by reshares and replies: the scoring stage puts ``reshare_velocity`` and
``reply_velocity`` (per hour) on the mentions, and a mention that reshares a post speaks for the
post it reshares (``reshare_of``), any other mention for itself. A *cluster* spreads by new
authors: ``labels["cluster"]`` names it, ``scores["cluster_size"]`` counts its distinct authors
and ``scores["cluster_growth"]`` is their rate per hour.

A rate fires when it reaches the fixed threshold (`velocity`, `cluster_growth`) **or** the
learned one: the `quantile` of the peak rates of the posts (clusters) seen over the last weeks
(a decayed log-binned histogram, see `learned.py`), never below the floor (`min_velocity`,
`min_cluster_growth`) and only after `warmup` posts were learned. The evidence gives the rate,
the threshold and where it came from, the factor, and the tail probability: the share of past
posts that spread at least as fast.

One alert per post or cluster: subject ``"<subject>/post:<post id>"`` on the post's channel, or
``"<subject>/cluster:<id>"`` on channel ``"*"``. It resolves when the rate falls under
`resolve_ratio` of the threshold it crossed, or when nothing was heard of it for `quiet`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

import msgspec

from sentineld import AlertSink, Mention, Options, Trigger, hookimpl
from sentineld.components import StateParts
from sentineld.model import Severity
from sentineld.options import Duration
from sentineld.state_parts import ChunkedState, decoded_chunks, encode_chunks
from sentineld_plugins.triggers._common import excerpt
from sentineld_plugins.triggers.viral_post.followed import METRICS, Followed, Spread
from sentineld_plugins.triggers.viral_post.learned import DecayedLogHistogram

CLUSTER_METRIC = "cluster_growth"
UNITS = {"reshare_velocity": "reshares/h", "reply_velocity": "replies/h",
         "cluster_growth": "new authors/h"}


class ViralPostOptions(Options):
    #: Subjects watched: "brand", "competitor:NAME", "topic:NAME", or "*" for all.
    subjects: list[str] = msgspec.field(default_factory=lambda: ["brand"])
    #: A post fires when its reshares or replies per hour reach this, whatever was learned
    #: (0: only the learned threshold).
    velocity: float = 500.0
    #: A cluster fires when its new authors per hour reach this (0: only the learned threshold).
    cluster_growth: float = 100.0
    #: …or when a rate reaches this quantile of the peak rates of past posts (clusters)…
    quantile: float = 0.999
    #: …but never below these floors (0 → 2 reshares an hour is not virality).
    min_velocity: float = 20.0
    min_cluster_growth: float = 10.0
    #: Fewest distinct authors a cluster needs before it can fire.
    min_cluster_size: int = 5
    #: Posts (clusters) learned before the learned threshold speaks.
    warmup: int = 200
    #: Half-life of the learned distribution: older posts weigh less.
    half_life: Duration = Duration(14 * 86400)
    #: The alert resolves when the rate falls below this share of the threshold it crossed…
    resolve_ratio: float = 0.5
    #: …or when nothing was heard of the post (cluster) for this long.
    quiet: Duration = Duration(6 * 3600)
    #: Severity, and the factor over the threshold from which it is "critical".
    severity: Severity = "high"
    critical_factor: float = 5.0
    #: Posts and clusters followed at once (the longest-quiet is let go first). Whether one fires
    #: does not depend on it being followed: following gives its alert a lifecycle, its
    #: evidence a history, and the learned rates one peak per post (decision 0118).
    max_tracked: int = 20_000

    def __post_init__(self) -> None:
        if not 0 < self.quantile < 1:
            raise ValueError("quantile must be between 0 and 1")
        if not 0 < self.resolve_ratio <= 1:
            raise ValueError("resolve_ratio must be in (0, 1]")


class _SpreadRecord(msgspec.Struct, array_like=True, gc=False):
    """A followed post (`Spread`) as a checkpoint holds it: its fields in this order, all of
    them (msgspec writes every field of an array-like struct). Only read: `Spread.row` writes
    the same array."""

    subject: str
    channel: str
    first_at: float
    last_at: float
    mentions: tuple[str, ...] = ()
    reshare_velocity: float = 0.0
    reply_velocity: float = 0.0
    cluster_growth: float = 0.0
    firing: str | None = None
    crossed: float = 0.0
    reported: float = 0.0


class _State(msgspec.Struct):
    """The state as a checkpoint holds it (written as a map with these two keys, in order)."""

    learned: dict[str, list[Any]]
    tracked: list[_SpreadRecord]


_encode_state = msgspec.msgpack.Encoder(enc_hook=Spread.row).encode
_decode_state = msgspec.msgpack.Decoder(_State).decode
_decode_learned = msgspec.msgpack.Decoder(dict[str, list[Any]]).decode
_decode_spreads = msgspec.msgpack.Decoder(list[_SpreadRecord]).decode
_astuple = msgspec.structs.astuple


class ViralPost(Trigger):
    type_name = "viral_post"
    description = "one post or near-duplicate cluster spreading faster than a threshold or its learned rate"
    Options = ViralPostOptions

    def __init__(self, options: ViralPostOptions, context: Any) -> None:
        super().__init__(options, context)
        self.learned = {metric: DecayedLogHistogram(options.half_life) for metric in METRICS}
        self._followed = Followed(list(self.learned.values()), options.quiet, options.max_tracked, options.warmup, self)
        self._parts = ChunkedState()

    @property
    def tracked(self) -> OrderedDict[str, Spread]:
        """The followed posts and clusters by key, least recently heard of first."""
        return self._followed.tracked

    # ------------------------------------------------------------------ thresholds

    def threshold(self, metric: str) -> tuple[float, str]:
        """The rate that fires for `metric` now, and where it comes from."""
        rate, learned = self._threshold(metric)
        if not learned:
            return rate, "fixed" if rate < math.inf else "none"
        observations = self.learned[metric].observations
        return rate, f"learned: q{self.options.quantile:g} of {observations} past peaks"

    def _threshold(self, metric: str) -> tuple[float, bool]:
        """The rate that fires for `metric` now (always above 0), and whether it was learned."""
        options = self.options
        fixed = options.cluster_growth if metric == CLUSTER_METRIC else options.velocity
        best = fixed if fixed > 0 else math.inf
        learned = self.learned[metric]
        if learned.observations >= options.warmup:
            floor = options.min_cluster_growth if metric == CLUSTER_METRIC else options.min_velocity
            rate = max(floor, learned.quantile(options.quantile))
            if rate < best:
                return rate, True
        return best, False

    def firing_rates(self) -> tuple[float, float, float]:
        """The rate that fires for each of `METRICS`: every spreading mention compares its rates
        with them (`Followed` keeps them until what was learned moves)."""
        reshares, replies, growth = (self._threshold(metric)[0] for metric in METRICS)
        return reshares, replies, growth

    # ------------------------------------------------------------------ the stream

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        self._followed.observe(mentions, self.options.subjects, self.options.min_cluster_size, alerts)

    def alert(self, spread: Spread, post: str | None, mention: Mention, alerts: AlertSink) -> None:
        """`Followed.update` says the alert of `spread` may change: open it when a rate reaches
        its threshold, resolve it when the rate it crossed falls, update it when that rate rises
        (`post`: the post's id, None for a cluster, whose mention's reshares and replies do
        not count)."""
        scores = mention.scores
        if post is None:
            reshares = replies = 0.0
            growth = scores.get("cluster_growth") or 0.0
        else:
            reshares = scores.get("reshare_velocity") or 0.0
            replies = scores.get("reply_velocity") or 0.0
            growth = 0.0
        if spread.firing is None:
            for metric, rate in (("reshare_velocity", reshares), ("reply_velocity", replies), (CLUSTER_METRIC, growth)):
                threshold, source = self.threshold(metric)
                if rate >= threshold:
                    spread.firing, spread.crossed = metric, threshold
                    self._fire(spread, metric, rate, threshold, source, mention, post, alerts)
                    return
            return
        rate = reshares if spread.firing == "reshare_velocity" else replies if spread.firing == "reply_velocity" else growth
        if rate < self.options.resolve_ratio * spread.crossed:
            alerts.clear(subject=spread.subject, channel=spread.channel, at=mention.created_at)
            spread.firing = None
        elif rate > spread.reported:
            threshold, source = self.threshold(spread.firing)
            self._fire(spread, spread.firing, rate, spread.crossed, source, mention, post, alerts)

    def _fire(self, spread: Spread, metric: str, rate: float, threshold: float, source: str,
              mention: Mention, post: str | None, alerts: AlertSink) -> None:
        spread.reported = float(rate)
        options = self.options
        factor = rate / threshold if threshold > 0 else math.inf
        learned = self.learned[metric]
        tail = learned.tail(rate) if learned.observations else None
        subject, _, spreading = spread.subject.partition("/")
        what, _, ident = spreading.partition(":")
        unit = UNITS[metric]
        if what == "post":
            author = mention.author.handle if mention.author and mention.author.handle else "?"
            headline = f"a post about {subject} is spreading fast on {mention.source}"
            detail = f"“{excerpt(mention.text)}” (by {author})"
        else:
            headline = f"near-duplicate cluster {ident} about {subject} is spreading"
            detail = f"{int(mention.scores.get('cluster_size', 0))} authors so far: “{excerpt(mention.text)}”"
        alerts.fire(
            subject=spread.subject,
            channel=spread.channel,
            at=mention.created_at,
            severity="critical" if factor >= options.critical_factor else options.severity,
            summary=f"{headline}: {rate:,.0f} {unit}, {factor:.1f}x the threshold of "
                    f"{threshold:,.0f} — {detail}",
            evidence={
                "spread": what,
                "id": ident,
                "metric": metric,
                "observed": round(rate, 3),
                "threshold": round(threshold, 3),
                "threshold_source": source,
                "factor": round(factor, 2),
                "tail_probability": None if tail is None else round(tail, 6),
                "peak": round(getattr(spread, metric) or rate, 3),
                "cluster_size": mention.scores.get("cluster_size"),
                "window": str(Duration(max(0.0, mention.timestamp - spread.first_at))),
                "url": mention.url,
            },
            mentions=spread.mentions or (post,),
        )

    # ------------------------------------------------------------------ forgetting and learning

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        self._followed.expire(now.timestamp(), alerts)

    def snapshot(self) -> bytes:
        """The state, encoded now (the pipeline writes it later, while triggering goes on):
        each followed post as the array of its fields (`Spread.row`)."""
        learned = {metric: h.snapshot() for metric, h in self.learned.items()}
        return _encode_state({"learned": learned, "tracked": list(self.tracked.values())})

    def restore(self, state: Any) -> None:
        if isinstance(state, dict):  # written before the state was a struct
            state = _State(state.get("learned", {}), [_spread_of_row(row) for row in state.get("tracked", [])])
        else:
            state = _decode_state(state)
        self._load(state)

    def _load(self, state: _State) -> None:
        for metric, saved in state.learned.items():
            if metric in self.learned:
                self.learned[metric].restore(saved)
        self._followed.load([Spread(*_astuple(record)) for record in state.tracked])

    def snapshot_parts(self, complete: bool) -> StateParts:
        """The followed posts in chunks (a checkpoint writes those that changed), in the order
        they are let go in; the learned rates in the head (decision 0015)."""
        learned = {metric: h.snapshot() for metric, h in self.learned.items()}
        tracked = encode_chunks(list(self.tracked.values()), attrgetter("subject"), _encode_state)
        return self._parts.snapshot(_encode_state(learned), {"tracked": tracked}, complete)

    def restore_parts(self, parts: dict[str, bytes]) -> None:
        head, sequences = self._parts.restore(parts)
        self._load(_State(_decode_learned(head), decoded_chunks(sequences["tracked"], _decode_spreads)))


def _spread_of_row(row: list[Any]) -> _SpreadRecord:
    subject, channel, first_at, last_at, peaks, firing, crossed, reported, mentions = row
    return _SpreadRecord(subject, channel, first_at, last_at, **{m: float(v) for m, v in peaks.items() if m in METRICS},
                   firing=firing, crossed=crossed, reported=reported, mentions=tuple(mentions))


@hookimpl
def register_triggers(register: Any) -> None:
    register(ViralPost)
