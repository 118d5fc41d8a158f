"""Sentiment scorer: ``scores["sentiment"]`` in [-1, 1] and ``labels["sentiment"]``.

The engine (``.engine``) is a fast re-implementation of VADER with rules for social text; it is
imported when a scorer is built, not when the plugin is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from sentineld import Mention, Options, Scorer, hookimpl

__all__ = ["VADER_BAND", "SentimentOptions", "SentimentScorer", "build_compound", "label_for"]

#: VADER's recommended neutral band for the compound score, the field's usual thresholds.
VADER_BAND = 0.05

Engine = Literal["social", "vader", "vadersentiment"]


class SentimentOptions(Options):
    #: "social": VADER's rules plus rules for social text (handles, URLs, hashtags,
    #: elongation, emoji by usage, "like" as a verb). "vader": the same fast engine with
    #: exactly vaderSentiment's scores. "vadersentiment": the vaderSentiment library itself
    #: (several times slower; for comparison).
    engine: Engine = "social"
    #: Scores below this are labelled negative.
    negative_below: float = -VADER_BAND
    #: Scores above this are labelled positive; from negative_below to here, neutral.
    positive_above: float = VADER_BAND
    #: Names that carry no sentiment in this stream (a brand called "Joy", a product "Best").
    #: The social engine only.
    neutral_terms: list[str] = []
    #: Also treat the [watch] brand, accounts and competitor names as neutral, so that
    #: "United lost my bag" is not read as +1.8 for "united". The social engine only.
    neutral_watch_terms: bool = True

    def __post_init__(self) -> None:
        for name in ("negative_below", "positive_above"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [-1, 1], the range of the score")
        if self.negative_below > self.positive_above:
            raise ValueError("negative_below must not be greater than positive_above")


def label_for(score: float, negative_below: float, positive_above: float) -> str:
    """"negative" below `negative_below`, "positive" above `positive_above`, else "neutral"."""
    if score < negative_below:
        return "negative"
    if score > positive_above:
        return "positive"
    return "neutral"


def _watch_terms(watch: Any) -> list[str]:
    if watch is None:
        return []
    terms = [*watch.brand, *watch.accounts]
    for names in watch.competitors.values():
        terms.extend(names)
    return terms


def build_compound(options: SentimentOptions, watch: Any = None) -> Callable[[str], float]:
    """The text → compound score function the options ask for."""
    if options.engine == "vadersentiment":
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        polarity = SentimentIntensityAnalyzer().polarity_scores
        return lambda text: polarity(text)["compound"]

    from .engine import VaderEngine

    if options.engine == "vader":
        return VaderEngine(social=False).compound
    neutral = list(options.neutral_terms)
    if options.neutral_watch_terms:
        neutral += _watch_terms(watch)
    return VaderEngine(social=True, neutral_terms=neutral).compound


class SentimentScorer(Scorer):
    """How each mention feels: VADER's compound score, fast, with rules for social text."""

    type_name = "sentiment"
    description = "sentiment in [-1, 1] and a negative/neutral/positive label (VADER, fast)"
    Options = SentimentOptions

    def __init__(self, options: SentimentOptions, context: Any) -> None:
        super().__init__(options, context)
        self._compound = build_compound(options, getattr(context, "watch", None))

    async def score(self, mentions: Sequence[Mention]) -> None:
        compound = self._compound
        negative, positive = self.options.negative_below, self.options.positive_above
        for mention in mentions:
            value = compound(mention.text)
            mention.scores["sentiment"] = value
            # label_for, inlined: this loop runs for every mention of the stream
            mention.labels["sentiment"] = (
                "negative" if value < negative else "positive" if value > positive else "neutral"
            )


@hookimpl
def register_scorers(register: Any) -> None:
    register(SentimentScorer)
