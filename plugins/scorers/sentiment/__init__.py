"""Sentiment scorer: ``scores["sentiment"]`` in [-1, 1] and ``labels["sentiment"]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sentineld import Mention, Options, Scorer, hookimpl


class SentimentOptions(Options):
    #: Scores below this are labelled negative.
    negative_below: float = -0.05
    #: Scores above this are labelled positive; in between, neutral.
    positive_above: float = 0.05


class SentimentScorer(Scorer):
    """VADER's compound score (vaderSentiment), the field's standard for social text."""

    type_name = "sentiment"
    description = "sentiment in [-1, 1] and a negative/neutral/positive label"
    Options = SentimentOptions

    def __init__(self, options: SentimentOptions, context: Any) -> None:
        super().__init__(options, context)
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()

    async def score(self, mentions: Sequence[Mention]) -> None:
        negative, positive = self.options.negative_below, self.options.positive_above
        polarity = self.analyzer.polarity_scores
        for mention in mentions:
            value = polarity(mention.text)["compound"]
            mention.scores["sentiment"] = value
            mention.labels["sentiment"] = (
                "negative" if value < negative else "positive" if value > positive else "neutral"
            )


@hookimpl
def register_scorers(register: Any) -> None:
    register(SentimentScorer)
