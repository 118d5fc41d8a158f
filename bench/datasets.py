"""Readers for the public data sets in ``../shared/data`` (read-only), shared by the benchmarks.

The directory is ``$SENTINELD_DATA``, by default ``shared/data`` beside the repository.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Rated", "data_dir", "tweet_texts", "tweeteval_val", "twcs_texts", "vader_ground_truth"]

TWEETEVAL_LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class Rated:
    """A text and its human judgement: a mean rating (VADER) or a class label (TweetEval)."""

    text: str
    rating: float | None = None
    label: str | None = None


def data_dir() -> Path:
    configured = os.environ.get("SENTINELD_DATA")
    if configured:
        return Path(configured)
    return (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def vader_ground_truth(root: Path | None = None) -> list[Rated]:
    """VADER's 4,200 tweets with the mean of 20+ people's ratings on -4..+4."""
    path = (root or data_dir()) / "vader" / "tweets_GroundTruth.txt"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t", 2)
        if len(fields) == 3:
            rows.append(Rated(text=fields[2], rating=float(fields[1])))
    return rows


def tweeteval_val(root: Path | None = None) -> list[Rated]:
    """TweetEval's sentiment validation split: 2,000 tweets labelled negative/neutral/positive."""
    folder = (root or data_dir()) / "tweeteval"
    texts = (folder / "val_text.txt").read_text(encoding="utf-8").split("\n")
    labels = (folder / "val_labels.txt").read_text(encoding="utf-8").split()
    return [
        Rated(text=text, label=TWEETEVAL_LABELS[int(label)])
        for text, label in zip(texts, labels, strict=False)
    ]


def twcs_texts(root: Path | None = None) -> list[str]:
    """The texts of the Customer Support on Twitter sample (customers and brands)."""
    path = (root or data_dir()) / "twcs" / "sample.csv"
    with path.open(encoding="utf-8", newline="") as file:
        return [row["text"] for row in csv.DictReader(file)]


def tweet_texts(root: Path | None = None) -> list[str]:
    """Every tweet text of the three sets (about 6,300 tweets, 89 characters on average)."""
    return (
        [row.text for row in vader_ground_truth(root)]
        + [row.text for row in tweeteval_val(root)]
        + twcs_texts(root)
    )
