"""new_term: a hashtag or word never seen with a subject in the last `horizon` days suddenly
appears at volume (``#boycottacme``).

For each (subject, term) the trigger keeps one small record, O(1). About once a day of event time
the terms unseen for `horizon` are forgotten; at `max_terms`, the tenth unseen for longest goes. A term's uses form *runs* (uses less than `window` apart). When a run
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
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

import msgspec

from sentineld import AlertSink, Mention, Options, Trigger, hookimpl
from sentineld.model import Severity, format_time, from_timestamp
from sentineld.options import Duration
from sentineld_plugins.triggers._common import poisson_tail, watched_subject

_URLS: Final = re.compile(r"(?:https?://|www\.)\S+")
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
    #: Which terms: hashtags, words, or both (words cost about 6 µs a mention; see the README).
    terms: list[Literal["hashtag", "word"]] = msgspec.field(default_factory=lambda: ["hashtag"])
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
        #: subject -> term -> record
        self.terms: dict[str, dict[str, _Term]] = {}
        self.size = 0
        self.firing: set[tuple[str, str]] = set()
        self.started: float | None = None
        self.next_sweep: float | None = None
        self.hashtags = "hashtag" in options.terms
        self.words = "word" in options.terms
        watch = context.watch
        own = [*watch.brand, *watch.accounts, *(t for ts in watch.competitors.values() for t in ts)]
        bare = {t.lower().lstrip("@#$") for t in own}
        self.ignored = frozenset(STOPWORDS | bare | {f"#{word}" for word in bare})
        if self.words:
            self.pattern = re.compile(r"[@#$]?[^\W\d_][\w'’]{%d,}" % (options.min_length - 1))
        else:
            self.pattern = re.compile(r"(?<![\w&])#\w{2,}")

    def terms_of(self, text: str) -> set[str]:
        """The hashtags and words of a text that may be terms (lower-cased, deduplicated)."""
        text = text.lower()
        if "http" in text or "www." in text:
            text = _URLS.sub(" ", text)
        found = set(self.pattern.findall(text))
        found -= self.ignored
        if not self.words:
            return found
        if "@" in text or "$" in text:
            found = {t for t in found if t[0] != "@" and t[0] != "$"}
        if not self.hashtags:
            return {t for t in found if t[0] != "#"}
        return found

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        subjects, window = self.options.subjects, self.options.window
        horizon, max_prior = self.options.horizon, self.options.max_prior
        for mention in mentions:
            if not mention.matches:
                continue
            subject = watched_subject(mention.matches, subjects)
            if subject is None:
                continue
            moment = mention.timestamp
            if self.next_sweep is None or moment >= self.next_sweep:
                self._sweep(moment, alerts)
            if not self.words and "#" not in mention.text:
                continue
            found = self.terms_of(mention.text)
            if not found:
                continue
            table = self.terms.get(subject)
            if table is None:
                table = self.terms[subject] = {}
            bit = 0
            for term in found:
                entry = table.get(term)
                if entry is not None and not entry.fresh:
                    # The hot path: a known term, in its run or starting a run that cannot be new.
                    gap = moment - entry.last_seen
                    if gap <= window:
                        entry.last_seen = moment
                        entry.run_count += 1
                        continue
                    if gap <= horizon and entry.prior + entry.run_count > max_prior:
                        entry.prior += entry.run_count
                        entry.run_start = entry.last_seen = moment
                        entry.run_count = 1
                        continue
                bit = bit or author_bit(mention)
                self._use(table, subject, term, entry, moment, bit, mention, alerts)

    def _use(self, table: dict[str, _Term], subject: str, term: str, entry: _Term | None,
             moment: float, bit: int, mention: Mention, alerts: AlertSink) -> None:
        options = self.options
        if entry is None:
            if self.size >= options.max_terms:
                self._make_room(moment, alerts)
            entry = table[term] = _Term(moment)
            self.size += 1
        else:
            gap = moment - entry.last_seen
            if gap > options.horizon:
                entry.prior = 0
                entry.start_run(moment, fresh=True)
                entry.mentions = None
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
        in_buckets = entry.count + entry.prev
        if entry.firing or in_buckets * 2 >= options.min_count:
            # Near volume: keep the mentions that make the alert (the first uses of a term that
            # never gets there are not worth a list).
            if entry.mentions is None:
                entry.mentions = []
            if len(entry.mentions) < MAX_MENTION_IDS:
                entry.mentions.append(mention.id)
        if entry.firing:
            return
        if entry.run_count - in_buckets > options.max_prior + options.min_count:
            entry.fresh = False  # in use for a while already, just never at volume
            entry.mentions = None
            return
        if in_buckets < options.min_count:
            return
        observed = entry.in_window(moment, window)
        if self.started is None or moment - self.started < options.warmup:
            return
        if observed >= options.min_count and entry.authors() >= options.min_authors:
            entry.firing = True
            self.firing.add((subject, term))
            self._fire((subject, term), entry, observed, mention.created_at, alerts)

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

    # ------------------------------------------------------------------ forgetting

    def _sweep(self, moment: float, alerts: AlertSink) -> None:
        """Forget the terms unseen for `horizon` (about once a day of event time)."""
        if self.started is None:
            self.started = moment
        horizon = self.options.horizon
        self.next_sweep = moment + max(self.options.window, horizon / 30)
        self._drop_where(lambda entry: entry.last_seen + horizon <= moment, moment, alerts)

    def _make_room(self, moment: float, alerts: AlertSink) -> None:
        """At `max_terms`, forget the tenth of the terms unseen for longest."""
        ages = sorted(entry.last_seen for table in self.terms.values() for entry in table.values())
        cutoff = ages[max(0, len(ages) // 10 - 1)]
        self._drop_where(lambda entry: entry.last_seen <= cutoff, moment, alerts)

    def _drop_where(self, condition: Any, moment: float, alerts: AlertSink) -> None:
        for subject, table in self.terms.items():
            old = [term for term, entry in table.items() if condition(entry)]
            for term in old:
                if table.pop(term).firing:
                    self.firing.discard((subject, term))
                    alerts.clear(subject=f"{subject}/term:{term}", channel="*",
                                 at=from_timestamp(moment))
            self.size -= len(old)

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        moment = now.timestamp()
        if self.next_sweep is not None and moment >= self.next_sweep:
            self._sweep(moment, alerts)
        if not self.firing:
            return
        window, options = self.options.window, self.options
        for key in sorted(self.firing):
            entry = self.terms[key[0]][key[1]]
            entry.roll(moment, window)
            if entry.in_window(moment, window) < options.resolve_ratio * options.min_count:
                entry.firing = False
                self.firing.discard(key)
                alerts.clear(subject=f"{key[0]}/term:{key[1]}", channel="*", at=now)

    def snapshot(self) -> Any:
        """Per subject, one row per term: known terms (most of them) need five fields only."""
        tables = {}
        for subject, table in self.terms.items():
            tables[subject] = [
                [t, e.last_seen, e.prior, e.run_start, e.run_count]
                if not e.fresh and not e.firing else
                [t, e.last_seen, e.prior, e.run_start, e.run_count, e.fresh, e.bucket_start, e.count,
                 e.prev, e.bits, e.prev_bits, e.firing, e.mentions]
                for t, e in table.items()
            ]
        return {"started": self.started, "next_sweep": self.next_sweep, "terms": tables}

    def restore(self, state: Any) -> None:
        self.started = state.get("started")
        self.next_sweep = state.get("next_sweep")
        self.terms, self.firing, self.size = {}, set(), 0
        for subject, rows in state.get("terms", {}).items():
            table = self.terms[subject] = {}
            for term, last_seen, prior, run_start, run_count, *detail in rows:
                entry = table[term] = _Term(last_seen)
                entry.prior, entry.run_start, entry.run_count = prior, run_start, run_count
                entry.fresh = False
                if detail:
                    entry.fresh, bucket_start, count, prev, bits, prev_bits, firing, mentions = detail
                    entry.bucket_start, entry.count, entry.prev = bucket_start, count, prev
                    entry.bits, entry.prev_bits, entry.firing = bits, prev_bits, firing
                    entry.mentions = list(mentions) if mentions is not None else None
                    if firing:
                        self.firing.add((subject, term))
                self.size += 1


@hookimpl
def register_triggers(register: Any) -> None:
    register(NewTerm)
