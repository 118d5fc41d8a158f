"""influencer_mention: an influential author (a connector, a maven, or someone on the watchlist)
mentions a watched subject — negatively, or at all, as configured.

One alert per author and subject: the alert's subject is ``"<subject>/author:<author key>"``
(e.g. ``brand/author:bluesky:did:plc:abc``) and its channel the mention's source, because the
core keeps one open alert per (trigger, subject, channel) and two influencers ranting at once
must be two alerts. Further mentions by the same author update the open alert (a negative one
raises its severity); it resolves once the author has been quiet about the subject for `quiet`
in event time. ``subject_root`` (``brand``) lets `[alerting]` group and silence them together.

Scores consumed (from the scoring stage): ``connector``, ``maven`` and ``influence`` in [0, 1],
``labels["watchlist"] == "yes"``, ``labels["sentiment"]`` (or ``scores["sentiment"]``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal

import msgspec

from sentineld import AlertSink, Mention, Options, Trigger, hookimpl
from sentineld.components import StateParts
from sentineld.model import Severity, from_timestamp
from sentineld.options import Duration
from sentineld.state_parts import ChunkedState, ChunkMemo, decoded_chunks, recency_ordered
from sentineld.watch import Matcher
from sentineld_plugins.triggers._common import excerpt, watched_subject

MAX_MENTION_IDS = 20
NEGATIVE_SCORE = -0.05


class InfluencerMentionOptions(Options):
    #: Subjects watched: "brand", "competitor:NAME", "topic:NAME", or "*" for all.
    subjects: list[str] = msgspec.field(default_factory=lambda: ["brand"])
    #: Connector score (reach) at or above which an author counts as influential.
    connector: float = 0.8
    #: Maven score (topical authority in this stream) at or above which an author counts.
    maven: float = 0.8
    #: Combined influence score at or above which an author counts (unset: not used).
    influence: float | None = None
    #: Authors on the watchlist (``labels["watchlist"] == "yes"``) count whatever their scores.
    watchlist: bool = True
    #: Which mentions alert: "negative" ones only, or "any".
    sentiment: Literal["negative", "any"] = "negative"
    #: Watchlisted authors alert on any mention, whatever `sentiment` says.
    watchlist_any_sentiment: bool = True
    #: The alert resolves once the author has said nothing more about the subject for this long.
    quiet: Duration = Duration(6 * 3600)
    #: Severity when the mention is negative…
    severity: Severity = "high"
    #: …and when it is not (sentiment = "any", or a watchlisted author).
    severity_other: Severity = "medium"
    #: Open author alerts followed at once; beyond, the quietest is resolved to make room.
    max_open: int = 10_000


class _Rant(msgspec.Struct, array_like=True, gc=False):
    """What one influential author has said about one subject while the alert is open: the
    alert's subject, the author, and the checkpoint row as it is (encoded at C speed)."""

    subject: str
    author: str
    channel: str
    first_at: float
    last_at: float
    count: int = 0
    negative: int = 0
    mentions: list[str] = msgspec.field(default_factory=list)


_encode_rants = msgspec.msgpack.Encoder().encode
_decode_rants = msgspec.msgpack.Decoder(list[_Rant]).decode


def is_negative(mention: Mention) -> bool:
    label = mention.labels.get("sentiment")
    if label is not None:
        return label == "negative"
    return mention.scores.get("sentiment", 0.0) <= NEGATIVE_SCORE


class InfluencerMention(Trigger):
    type_name = "influencer_mention"
    description = "an influencer (connector, maven or watchlisted author) mentions a watched subject"
    Options = InfluencerMentionOptions

    def __init__(self, options: InfluencerMentionOptions, context: Any) -> None:
        super().__init__(options, context)
        self.own = Matcher(context.watch)
        #: (alert subject, author key) -> what was said; ordered by the last mention's time
        #: (a rant said again is put back last, see `recency_ordered`).
        self.rants: OrderedDict[tuple[str, str], _Rant] = OrderedDict()
        self._parts = ChunkedState()
        #: the chunks of the last checkpoint (`_record` counts every change to a rant)
        self._memo = ChunkMemo(attrgetter("count"))
        self._quiet_text = str(options.quiet)

    def _criterion(self, mention: Mention) -> tuple[str, float, float] | None:
        """Why the author counts (criterion, observed score, threshold), or None."""
        options, scores = self.options, mention.scores
        best: tuple[str, float, float] | None = None
        for name, threshold in (("connector", options.connector), ("maven", options.maven),
                                ("influence", options.influence)):
            if threshold is None:
                continue
            value = scores.get(name)
            if value is not None and value >= threshold:
                if best is None or value / max(threshold, 1e-9) > best[1] / max(best[2], 1e-9):
                    best = (name, value, threshold)
        if best is None and options.watchlist and mention.labels.get("watchlist") == "yes":
            best = ("watchlist", 1.0, 1.0)
        return best

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        options = self.options
        connector, maven, influence = options.connector, options.maven, options.influence
        negative_only = options.sentiment == "negative"
        watchlist_any = options.watchlist_any_sentiment
        for mention in mentions:
            if not mention.matches:
                continue
            scores = mention.scores
            watchlisted = mention.labels.get("watchlist") == "yes"
            if (scores.get("connector", 0.0) < connector and scores.get("maven", 0.0) < maven
                    and (influence is None or scores.get("influence", 0.0) < influence)
                    and not watchlisted):
                continue  # the fast path: not an influencer
            # Sentiment before the subject and the criterion: most influencers' mentions are not
            # negative (decision 0237). The "watchlist" criterion implies the label.
            negative = is_negative(mention)
            if not negative and negative_only and not (watchlisted and watchlist_any):
                continue
            subject = watched_subject(mention.matches, options.subjects)
            if subject is None:
                continue
            criterion = self._criterion(mention)
            if criterion is None:
                continue
            author = mention.author_key
            if author is None or self.own.is_own_account(mention):
                continue
            self._expire(mention.timestamp, alerts)
            self._record(subject, author, mention, criterion, negative, alerts)

    def _record(self, subject: str, author: str, mention: Mention,
                criterion: tuple[str, float, float], negative: bool, alerts: AlertSink) -> None:
        moment = mention.timestamp
        key = (f"{subject}/author:{author}", author)
        rant = self.rants.get(key)
        if rant is None:
            if len(self.rants) >= self.options.max_open:
                self._resolve(*self.rants.popitem(last=False), moment, alerts)
            rant = self.rants[key] = _Rant(key[0], author, mention.source, moment, moment)
        else:
            self.rants[key] = self.rants.pop(key)
        rant.last_at = moment
        rant.count += 1
        rant.negative += negative
        if len(rant.mentions) < MAX_MENTION_IDS:
            rant.mentions.append(mention.id)
        name, observed, threshold = criterion
        person = mention.author
        handle = (person.handle or person.name or person.id) if person else author
        followers = person.followers if person else None
        how = "negatively " if negative else ""
        why = "on the watchlist" if name == "watchlist" else f"{name} {observed:.2f} ≥ {threshold:.2f}"
        reach = f", {followers:,} followers" if followers is not None else ""
        scores = mention.scores
        alerts.fire(
            subject=key[0],
            channel=rant.channel,
            at=mention.created_at,
            severity=self.options.severity if negative else self.options.severity_other,
            summary=(f"influencer {handle} ({why}{reach}) mentioned {subject} {how}on "
                     f"{mention.source}: “{excerpt(mention.text)}”"),
            evidence={
                "author": handle,
                "author_key": author,
                "followers": followers,
                "criterion": name,
                "observed": round(observed, 3),
                "threshold": threshold,
                "factor": round(observed / threshold, 2) if threshold else None,
                "connector": scores.get("connector"),
                "maven": scores.get("maven"),
                "influence": scores.get("influence"),
                "sentiment": mention.labels.get("sentiment"),
                "sentiment_score": scores.get("sentiment"),
                "mentions_in_window": rant.count,
                "negative_in_window": rant.negative,
                "window": str(Duration(moment - rant.first_at)),
                "quiet_resolves_after": self._quiet_text,
                "text": excerpt(mention.text, 280),
                "url": mention.url,
            },
            mentions=rant.mentions,
        )

    def _resolve(self, key: tuple[str, str], rant: _Rant, moment: float, alerts: AlertSink) -> None:
        alerts.clear(subject=key[0], channel=rant.channel, at=from_timestamp(moment))

    def _expire(self, moment: float, alerts: AlertSink) -> None:
        quiet = self.options.quiet
        while self.rants:
            key, rant = next(iter(self.rants.items()))
            if rant.last_at + quiet > moment:
                return
            del self.rants[key]
            self._resolve(key, rant, rant.last_at + quiet, alerts)

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        self._expire(now.timestamp(), alerts)

    def snapshot(self) -> bytes:
        """One row per open rant (subject, author, channel, first and last time, how many
        mentions and negative ones, the mention ids), encoded now: the pipeline writes it
        later, while later mentions change the rants."""
        return _encode_rants(recency_ordered(self.rants))

    def restore(self, state: Any) -> None:
        rants = _decode_rants(state) if isinstance(state, bytes) else msgspec.convert(state, list[_Rant])
        self._load(rants)

    def _load(self, rants: list[_Rant]) -> None:
        self._memo.clear()
        self.rants = OrderedDict()
        for rant in rants:
            self.rants[(rant.subject, rant.author)] = rant

    def snapshot_parts(self, complete: bool) -> StateParts:
        """The rants in chunks, of which a checkpoint writes those that changed (decision 0015)."""
        rants = self._memo.chunks(recency_ordered(self.rants), attrgetter("subject", "author"), _encode_rants, complete)
        return self._parts.snapshot(b"", {"rants": rants}, complete)

    def restore_parts(self, parts: dict[str, bytes]) -> None:
        _head, sequences = self._parts.restore(parts)
        self._load(decoded_chunks(sequences["rants"], _decode_rants))


@hookimpl
def register_triggers(register: Any) -> None:
    register(InfluencerMention)
