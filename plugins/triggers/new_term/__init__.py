"""new_term: a hashtag or word never seen with a subject in the last `horizon` days suddenly
appears at volume (``#boycottacme``).

For each (subject, term) the trigger keeps one small record, O(1), ordered by when the term was
last seen, so terms unseen for `horizon` are forgotten first (and the oldest are dropped when
`max_terms` is reached). A term's uses form *runs* (uses less than `window` apart). When a run
starts, the term is *fresh* if it was used at most `max_prior` times in the `horizon` before (a
stray earlier use does not make a term known); it stays fresh until more than `max_prior` +
`min_count` of the run's uses lie before the current window (a slow build-up is still new; a word
in steady low use is not). A fresh run fires as soon as the uses in the last
`window` (a sliding estimate over two buckets) reach `min_count` from at least `min_authors`
distinct authors (counted in a 64-bit linear-counting bitmap). Nothing fires during `warmup`,
while the everyday vocabulary is being learned.

One alert per term: subject ``"<subject>/term:<term>"``, channel ``"*"``. It resolves when the
sliding count falls under `resolve_ratio` × `min_count`.

The evidence: the count in the window against `min_count`, the authors, the uses in the
`horizon` before (`prior`), the expected count under a baseline of (prior + 1) uses per horizon,
the factor and the Poisson tail probability of the count under that baseline.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

import msgspec

from sentineld import AlertSink, Mention, Options, Trigger, hookimpl
from sentineld.model import Severity, format_time, from_timestamp
from sentineld.options import Duration
from sentineld_plugins.triggers._common import poisson_tail, watched_subject

_TOKENS: Final = re.compile(r"https?://\S+|[@#$]?\w[\w'’-]*")
MAX_MENTION_IDS: Final = 20
#: Frequent English function words: never terms (they would only cost memory).
STOPWORDS: Final = frozenset(
    "the and for you your are was were this that with have has had not but all any can our out "
    "from they them their there what when who why how its it's i'm i've don't can't won't "
    "about just like get got one she his her him will would could should been being into more "
    "some than then too very also only even much many most such here over after before again "
    "because did does doing done each few other same so own off once both which while where "
    "these those until down through during above below between under further yes now via amp "
    "rt http https www com".split()
)


class NewTermOptions(Options):
    #: Subjects watched: "brand", "competitor:NAME", "topic:NAME", or "*" for all.
    subjects: list[str] = msgspec.field(default_factory=lambda: ["brand"])
    #: Which terms: hashtags, words, or both.
    terms: list[Literal["hashtag", "word"]] = msgspec.field(default_factory=lambda: ["hashtag", "word"])
    #: Uses within this window make "volume" (and uses further apart end a run).
    window: Duration = Duration(3600)
    #: Fewest uses within the window…
    min_count: int = 20
    #: …by at least this many distinct authors (at most 20: counted in a 64-bit bitmap).
    min_authors: int = 10
    #: A term is new when it was used at most `max_prior` times in this horizon before.
    horizon: Duration = Duration(30 * 86400)
    max_prior: int = 2
    #: Event time learned before any alert (the everyday vocabulary becomes known meanwhile).
    warmup: Duration = Duration(3 * 86400)
    #: Shortest word counted (hashtags count from two characters).
    min_length: int = 3
    #: Terms remembered at once; beyond, the longest unseen are forgotten.
    max_terms: int = 100_000
    #: The alert resolves when the count in the window falls below this share of `min_count`.
    resolve_ratio: float = 0.5
    severity: Severity = "high"

    def __post_init__(self) -> None:
        if not 1 <= self.min_authors <= 20:
            raise ValueError("min_authors must be between 1 and 20")
        if self.window <= 0 or self.horizon < self.window:
            raise ValueError("window must be positive and horizon at least as long")


class _Term:
    """What is known of one term with one subject."""

    __slots__ = ("last_seen", "prior", "run_start", "run_count", "fresh", "bucket_start",
                 "count", "prev", "bits", "prev_bits", "firing", "mentions")

    def __init__(self, at: float) -> None:
        self.last_seen = at
        self.prior = 0
        self.firing = False
        self.mentions: list[str] | None = None
        self.start_run(at, fresh=True)

    def start_run(self, at: float, *, fresh: bool) -> None:
        self.run_start = at
        self.run_count = 0
        self.fresh = fresh
        self.bucket_start = at
        self.count = self.prev = 0
        self.bits = self.prev_bits = 0

    def roll(self, moment: float, window: float) -> None:
        """Advance the two buckets of the sliding window to `moment`."""
        elapsed = moment - self.bucket_start
        if elapsed < window:
            return
        if elapsed < 2 * window:
            self.prev, self.prev_bits = self.count, self.bits
        else:
            self.prev, self.prev_bits = 0, 0
        self.bucket_start = moment - elapsed % window
        self.count, self.bits = 0, 0

    def in_window(self, moment: float, window: float) -> float:
        """Uses in the `window` ending at `moment` (the previous bucket weighted by overlap)."""
        overlap = 1.0 - (moment - self.bucket_start) / window
        return self.count + self.prev * max(0.0, overlap)

    def authors(self) -> int:
        """Distinct authors in the two buckets (linear counting on a 64-bit bitmap)."""
        zeros = 64 - (self.bits | self.prev_bits).bit_count()
        return 64 if zeros == 0 else round(-64 * math.log(zeros / 64))


def author_bit(mention: Mention) -> int:
    key = mention.author_key or mention.id
    return 1 << (zlib.crc32(key.encode()) & 63)


class NewTerm(Trigger):
    type_name = "new_term"
    description = "a hashtag or word never seen with a subject in the last N days appears at volume"
    Options = NewTermOptions

    def __init__(self, options: NewTermOptions, context: Any) -> None:
        super().__init__(options, context)
        self.terms: OrderedDict[tuple[str, str], _Term] = OrderedDict()
        self.firing: set[tuple[str, str]] = set()
        self.started: float | None = None
        self.hashtags = "hashtag" in options.terms
        self.words = "word" in options.terms
        watch = context.watch
        own = [*watch.brand, *watch.accounts, *(t for ts in watch.competitors.values() for t in ts)]
        self.ignored = STOPWORDS | {t.lower().lstrip("@#$") for t in own}

    def terms_of(self, text: str) -> set[str]:
        found: set[str] = set()
        min_length, ignored = self.options.min_length, self.ignored
        for token in _TOKENS.findall(text.lower()):
            first = token[0]
            if first == "#":
                if self.hashtags and len(token) > 2 and token[1:] not in ignored:
                    found.add(token.rstrip("'’-"))
            elif first in "@$" or token.startswith(("http://", "https://")):
                continue
            elif self.words:
                word = token.strip("'’-")
                if len(word) >= min_length and word not in ignored and not word.isdigit():
                    found.add(word)
        return found

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        subjects = self.options.subjects
        for mention in mentions:
            if not mention.matches:
                continue
            subject = watched_subject(mention.matches, subjects)
            if subject is None:
                continue
            moment = mention.timestamp
            if self.started is None:
                self.started = moment
            found = self.terms_of(mention.text)
            if not found:
                continue
            self._forget(moment, alerts)
            bit = author_bit(mention)
            for term in found:
                self._use((subject, term), moment, bit, mention, alerts)

    def _use(self, key: tuple[str, str], moment: float, bit: int, mention: Mention,
             alerts: AlertSink) -> None:
        options = self.options
        entry = self.terms.get(key)
        if entry is None:
            if len(self.terms) >= options.max_terms:
                self._drop(*self.terms.popitem(last=False), moment, alerts)
            entry = self.terms[key] = _Term(moment)
        else:
            self.terms.move_to_end(key)
            gap = moment - entry.last_seen
            if gap > options.horizon:
                entry.prior = 0
                entry.start_run(moment, fresh=True)
            elif gap > options.window:
                entry.prior += entry.run_count
                entry.start_run(moment, fresh=entry.prior <= options.max_prior)
                entry.mentions = None
        entry.last_seen = moment
        entry.run_count += 1
        if not entry.fresh:
            return
        window = options.window
        entry.roll(moment, window)
        entry.count += 1
        entry.bits |= bit
        if entry.mentions is None:
            entry.mentions = []
        if len(entry.mentions) < MAX_MENTION_IDS:
            entry.mentions.append(mention.id)
        if entry.firing:
            return
        observed = entry.in_window(moment, window)
        if entry.run_count - observed > options.max_prior + options.min_count:
            entry.fresh = False  # in use for a while already, just never at volume
            entry.mentions = None
            return
        if self.started is None or moment - self.started < options.warmup:
            return
        if observed >= options.min_count and entry.authors() >= options.min_authors:
            entry.firing = True
            self.firing.add(key)
            self._fire(key, entry, observed, mention.created_at, alerts)

    def _fire(self, key: tuple[str, str], entry: _Term, observed: float, at: datetime,
              alerts: AlertSink) -> None:
        options = self.options
        subject, term = key
        count = int(observed)
        expected = (entry.prior + 1) * options.window / options.horizon
        authors = entry.authors()
        kind = "hashtag" if term.startswith("#") else "word"
        alerts.fire(
            subject=f"{subject}/term:{term}",
            channel="*",
            at=at,
            severity=options.severity,
            summary=(f"new {kind} {term} with {subject}: {count} mentions from about {authors} "
                     f"authors in the last {options.window}; used {entry.prior} times in the "
                     f"{options.horizon} before"),
            evidence={
                "term": term,
                "term_kind": kind,
                "observed": count,
                "threshold": options.min_count,
                "authors": authors,
                "min_authors": options.min_authors,
                "prior": entry.prior,
                "earlier_in_run": max(0, entry.run_count - count),
                "max_prior": options.max_prior,
                "horizon": str(options.horizon),
                "expected": round(expected, 6),
                "factor": round(count / expected, 1),
                "tail_probability": poisson_tail(count, expected),
                "first_seen": format_time(from_timestamp(entry.run_start)),
                "window": str(options.window),
            },
            mentions=entry.mentions or [],
        )

    def _drop(self, key: tuple[str, str], entry: _Term, moment: float, alerts: AlertSink) -> None:
        if entry.firing:
            self.firing.discard(key)
            alerts.clear(subject=f"{key[0]}/term:{key[1]}", channel="*", at=from_timestamp(moment))

    def _forget(self, moment: float, alerts: AlertSink) -> None:
        horizon = self.options.horizon
        while self.terms:
            key, entry = next(iter(self.terms.items()))
            if entry.last_seen + horizon > moment:
                return
            del self.terms[key]
            self._drop(key, entry, moment, alerts)

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        moment = now.timestamp()
        self._forget(moment, alerts)
        if not self.firing:
            return
        window, options = self.options.window, self.options
        for key in list(self.firing):
            entry = self.terms[key]
            entry.roll(moment, window)
            if entry.in_window(moment, window) < options.resolve_ratio * options.min_count:
                entry.firing = False
                self.firing.discard(key)
                alerts.clear(subject=f"{key[0]}/term:{key[1]}", channel="*", at=now)

    def snapshot(self) -> Any:
        rows = [
            [s, t, e.last_seen, e.prior, e.run_start, e.run_count, e.fresh, e.bucket_start,
             e.count, e.prev, e.bits, e.prev_bits, e.firing, e.mentions]
            for (s, t), e in self.terms.items()
        ]
        return {"started": self.started, "terms": rows}

    def restore(self, state: Any) -> None:
        self.started = state.get("started")
        self.terms, self.firing = OrderedDict(), set()
        for row in state.get("terms", []):
            subject, term, last_seen, prior, run_start, run_count, fresh, *rest = row
            bucket_start, count, prev, bits, prev_bits, firing, mentions = rest
            entry = _Term(last_seen)
            entry.prior, entry.run_start, entry.run_count, entry.fresh = prior, run_start, run_count, fresh
            entry.bucket_start, entry.count, entry.prev = bucket_start, count, prev
            entry.bits, entry.prev_bits, entry.firing = bits, prev_bits, firing
            entry.mentions = list(mentions) if mentions is not None else None
            self.terms[(subject, term)] = entry
            if firing:
                self.firing.add((subject, term))


@hookimpl
def register_triggers(register: Any) -> None:
    register(NewTerm)
