"""Sentiment quality: our engines beside the vaderSentiment library, on the same texts, one run.

    .venv/bin/python bench/sentiment_quality.py

Prints, per engine and label thresholds:

- Pearson r between the compound score and the mean human rating of VADER's 4,200 tweets
  (``vader/tweets_GroundTruth.txt``; the VADER paper reports 0.881);
- macro-averaged recall (TweetEval's measure) and macro F1 of the three labels on TweetEval's
  sentiment validation split (2,000 tweets).

Each figure is given on the whole set and on its two halves: "dev" (even lines), the half that
was looked at while the social-text rules were designed and chosen, and "held-out" (odd lines),
which played no part in designing the rules. No threshold is fitted to these files: the
default band is VADER's ±0.05; the "half-point" band (±0.128, where the summed valence is
under half a point of VADER's rating scale) was chosen from that principle beforehand and is
printed for comparison (the scorer's README says why it is not the default).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import (  # noqa: E402
    TWEETEVAL_LABELS,
    Rated,
    data_dir,
    tweeteval_val,
    vader_ground_truth,
)

from sentineld_plugins.scorers.sentiment import (  # noqa: E402
    VADER_BAND,
    SentimentOptions,
    build_compound,
    label_for,
)
from sentineld_plugins.scorers.sentiment.engine import compound_from_sum  # noqa: E402

#: The compound score of a summed valence of half a rating point.
HALF_POINT_BAND = round(compound_from_sum(0.5), 3)

HALVES: dict[str, Callable[[Sequence[Rated]], Sequence[Rated]]] = {
    "all": lambda rows: rows,
    "dev": lambda rows: rows[0::2],
    "held-out": lambda rows: rows[1::2],
}


@dataclass(frozen=True)
class Variant:
    name: str
    engine: str
    band: float


VARIANTS = (
    Variant("vaderSentiment 3.3.2 (library)", "vadersentiment", VADER_BAND),
    Variant("engine=vader (fast, same scores)", "vader", VADER_BAND),
    Variant("engine=social (the default)", "social", VADER_BAND),
    Variant("engine=social, half-point band", "social", HALF_POINT_BAND),
)


def pearson(rows: Sequence[Rated], scores: Sequence[float]) -> float:
    return statistics.correlation([row.rating or 0.0 for row in rows], list(scores))


def macro_recall_and_f1(gold: Sequence[str], predicted: Sequence[str]) -> tuple[float, float]:
    recalls, f1s = [], []
    for label in TWEETEVAL_LABELS:
        hits = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        relevant = sum(1 for g in gold if g == label)
        chosen = sum(1 for p in predicted if p == label)
        recall = hits / relevant if relevant else 0.0
        precision = hits / chosen if chosen else 0.0
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return 100 * statistics.fmean(recalls), 100 * statistics.fmean(f1s)


def evaluate(variant: Variant, truth: list[Rated], tweeteval: list[Rated]) -> dict[str, str]:
    compound = build_compound(SentimentOptions(engine=variant.engine))  # type: ignore[arg-type]
    truth_scores = [compound(row.text) for row in truth]
    tweeteval_labels = [
        label_for(compound(row.text), -variant.band, variant.band) for row in tweeteval
    ]
    cells: dict[str, str] = {}
    for half, pick in HALVES.items():
        r = pearson(pick(truth), pick(truth_scores))  # type: ignore[arg-type]
        recall, f1 = macro_recall_and_f1(
            [row.label or "" for row in pick(tweeteval)],
            pick(tweeteval_labels),  # type: ignore[arg-type]
        )
        cells[half] = f"{r:.4f}  {recall:5.1f}  {f1:5.1f}"
    return cells


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="default: $SENTINELD_DATA")
    args = parser.parse_args(argv)
    root = args.data or data_dir()
    truth, tweeteval = vader_ground_truth(root), tweeteval_val(root)
    print(f"VADER ground truth: {len(truth)} tweets; TweetEval validation: {len(tweeteval)} tweets")
    print("r = Pearson r on VADER ground truth; recall / F1 = macro over 3 labels on TweetEval")
    print("dev = even lines (looked at while designing the rules), held-out = odd lines\n")
    header = f"{'':36} {'band':>6}  " + "  ".join(f"{h:^20}" for h in HALVES)
    print(header)
    print(f"{'':36} {'':>6}  " + "  ".join(f"{'r    recall   F1':^20}" for _ in HALVES))
    for variant in VARIANTS:
        cells = evaluate(variant, truth, tweeteval)
        print(
            f"{variant.name:36} ±{variant.band:<5}  "
            + "  ".join(f"{cells[h]:^20}" for h in HALVES)
        )


if __name__ == "__main__":
    main()
