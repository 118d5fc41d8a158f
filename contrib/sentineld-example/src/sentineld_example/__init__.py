"""An example sentineld plugin: one scorer and one trigger, registered through the hooks."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sentineld import AlertSink, Duration, Mention, Options, Scorer, Trigger, hookimpl


class ShoutingOptions(Options):
    #: Share of capital letters above which a mention is labelled as shouting.
    threshold: float = 0.6
    #: Mentions with fewer letters than this are never labelled as shouting.
    min_letters: int = 8


class ShoutingScorer(Scorer):
    """scores.shouting: the share of capital letters; labels.shouting: "yes" or "no"."""

    type_name = "shouting"
    description = "share of capital letters in a mention"
    Options = ShoutingOptions

    async def score(self, mentions: Sequence[Mention]) -> None:
        for mention in mentions:
            letters = [c for c in mention.text if c.isalpha()]
            share = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
            mention.scores["shouting"] = round(share, 3)
            loud = len(letters) >= self.options.min_letters and share >= self.options.threshold
            mention.labels["shouting"] = "yes" if loud else "no"


class KeywordOptions(Options):
    #: Words that make a mention count (case-insensitive, anywhere in the text).
    keywords: list[str]
    #: The sliding window of event time the count covers.
    window: Duration = Duration(1800)
    #: Mentions with a keyword, within the window, that open an alert.
    min_count: int = 3


class KeywordTrigger(Trigger):
    """Alerts when at least `min_count` mentions of a subject carry a keyword within `window`."""

    type_name = "keyword"
    description = "alerts on a cluster of mentions carrying configured keywords"
    Options = KeywordOptions

    def __init__(self, options: KeywordOptions, context: Any) -> None:
        super().__init__(options, context)
        self.words = [k.lower() for k in options.keywords]
        self.hits: dict[str, deque[tuple[float, str]]] = {}

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        for mention in mentions:
            text = mention.text.lower()
            found = [w for w in self.words if w in text]
            if not found:
                continue
            for subject in mention.matches:
                hits = self.hits.setdefault(subject, deque())
                hits.append((mention.timestamp, mention.id))
                self._expire(hits, mention.timestamp)
                if len(hits) >= self.options.min_count:
                    alerts.fire(
                        subject=subject,
                        channel="*",
                        at=mention.created_at,
                        severity="high",
                        summary=f"{len(hits)} mentions of {subject} with {', '.join(found)} "
                        f"within {self.options.window}",
                        evidence={"observed": len(hits), "threshold": self.options.min_count,
                                  "window": str(self.options.window), "keywords": found},
                        mentions=[mention_id for _, mention_id in hits],
                    )

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        for subject, hits in self.hits.items():
            self._expire(hits, now.timestamp())
            if len(hits) < self.options.min_count:
                alerts.clear(subject=subject, channel="*", at=now)

    def _expire(self, hits: deque[tuple[float, str]], now: float) -> None:
        while hits and hits[0][0] <= now - self.options.window:
            hits.popleft()

    def snapshot(self) -> Any:
        return {subject: list(hits) for subject, hits in self.hits.items()}

    def restore(self, state: Any) -> None:
        self.hits = {s: deque((t, i) for t, i in hits) for s, hits in state.items()}


@hookimpl
def register_scorers(register: Any) -> None:
    register(ShoutingScorer)


@hookimpl
def register_triggers(register: Any) -> None:
    register(KeywordTrigger)


