"""Quality floors on the public data sets (deterministic, never timed).

The default engine must not fall below the vaderSentiment library measured in the same run,
on either half of each set: the "dev" half (even lines) was looked at while the social rules
were designed; the "held-out" half (odd lines) was not. ``bench/sentiment_quality.py`` prints
the figures.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentineld_plugins.scorers.sentiment import SentimentOptions, build_compound, label_for

LABELS = ("negative", "neutral", "positive")
LIBRARY = SentimentIntensityAnalyzer()


def ground_truth(root: Path) -> list[tuple[float, str]]:
    lines = (root / "vader" / "tweets_GroundTruth.txt").read_text("utf-8").splitlines()
    return [(float(rating), text) for _, rating, text in (line.split("\t", 2) for line in lines)]


def tweeteval(root: Path) -> list[tuple[str, str]]:
    folder = root / "tweeteval"
    texts = (folder / "val_text.txt").read_text("utf-8").splitlines()
    labels = (folder / "val_labels.txt").read_text("utf-8").split()
    return [(LABELS[int(label)], text) for label, text in zip(labels, texts, strict=True)]


def macro_recall(gold: list[str], predicted: list[str]) -> float:
    return statistics.fmean(
        sum(1 for g, p in zip(gold, predicted) if g == p == label) / gold.count(label)
        for label in LABELS
    )


@pytest.fixture(scope="module")
def engine():
    return build_compound(SentimentOptions())


@pytest.mark.parametrize("half", [slice(0, None, 2), slice(1, None, 2)], ids=["dev", "held-out"])
def test_pearson_r_on_vader_ground_truth_not_below_vadersentiment(
    data_dir: Path, engine, half: slice
) -> None:
    rows = ground_truth(data_dir)[half]
    ratings = [rating for rating, _ in rows]
    ours = statistics.correlation(ratings, [engine(text) for _, text in rows])
    theirs = statistics.correlation(
        ratings, [LIBRARY.polarity_scores(text)["compound"] for _, text in rows]
    )
    assert ours > 0.86
    assert ours >= theirs


@pytest.mark.parametrize("half", [slice(0, None, 2), slice(1, None, 2)], ids=["dev", "held-out"])
def test_macro_recall_on_tweeteval_not_below_vadersentiment(
    data_dir: Path, engine, half: slice
) -> None:
    rows = tweeteval(data_dir)[half]
    gold = [label for label, _ in rows]
    options = SentimentOptions()
    band = (options.negative_below, options.positive_above)
    ours = macro_recall(gold, [label_for(engine(text), *band) for _, text in rows])
    library = [LIBRARY.polarity_scores(text)["compound"] for _, text in rows]
    theirs = macro_recall(gold, [label_for(value, -0.05, 0.05) for value in library])
    assert ours > 0.58
    assert ours >= theirs
