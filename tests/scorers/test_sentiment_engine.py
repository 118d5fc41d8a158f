"""The fast engine: exactly vaderSentiment's scores in "vader" mode, and the social rules' parts."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SentimentIntensityAnalyzer

from sentineld_plugins.scorers.sentiment.engine import VaderEngine, compound_from_sum
from sentineld_plugins.scorers.sentiment.lexicon import (
    EMOTICON_ANCHORS,
    emoji_rating_scale,
    load_lexicon,
)
from sentineld_plugins.scorers.sentiment.social import non_ascii_replacer

LIBRARY = SentimentIntensityAnalyzer()
VADER = VaderEngine(social=False)
SOCIAL = VaderEngine(social=True)


def library(text: str) -> float:
    return LIBRARY.polarity_scores(text)["compound"]


def data_texts(root: Path) -> list[str]:
    texts = [
        line.split("\t", 2)[2]
        for line in (root / "vader" / "tweets_GroundTruth.txt").read_text("utf-8").splitlines()
    ]
    texts += (root / "tweeteval" / "val_text.txt").read_text("utf-8").splitlines()
    with (root / "twcs" / "sample.csv").open(encoding="utf-8", newline="") as file:
        texts += [row["text"] for row in csv.DictReader(file)]
    return texts


def test_vader_mode_equals_vadersentiment_on_every_data_set_tweet(data_dir: Path) -> None:
    texts = data_texts(data_dir)
    assert len(texts) > 6000
    different = [t for t in texts if library(t) != VADER.compound(t)]
    assert different == []


#: Words that switch on each of VADER's rules, so that random sentences exercise all of them.
RULE_WORDS = sorted(
    {*NEGATE[:12], *list(BOOSTER_DICT)[:15], "kind", "of", "sort", "least", "at", "very", "but",
     "BUT", "no", "or", "nor", "never", "so", "this", "without", "doubt", "the", "bomb", "shit",
     "yeah", "right", "to", "die", "for", "bad", "ass", "GOOD", "good", "great", "GREAT", "bad",
     "hate", "love", "LOVE", "horrible", "okay", "like", "fine", "cool", "cute", "sad", "kiss",
     "death", "beating", "heart", "flight", "bag", "the", "a", ":)", ":(", "<3", "!", "?", "!!",
     "??", "good!", "bad?", "...", "😍", "😡", "😂", "❤", "©", "no!", "Not", "NEVER", "ain't",
     "don't", "isn't", "won't", "yes", "lol", "wtf", "sux", "funny", "uber", "hardly"}
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(RULE_WORDS), min_size=1, max_size=14))
def test_vader_mode_equals_vadersentiment_on_rule_heavy_sentences(words: list[str]) -> None:
    text = " ".join(words)
    assert VADER.compound(text) == library(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_scores_stay_in_range_on_any_text(text: str) -> None:
    for engine in (VADER, SOCIAL):
        assert -1.0 <= engine.compound(text) <= 1.0


CLEAR_CASES = [
    "I love this airline, the crew was amazing!",
    "Great service and a friendly crew :)",
    "Thank you so much, the best flight I have had",
    "The new app is wonderful and easy to use",
    "Happy with the refund, thanks for the help",
    "worst airline ever, they lost my bag again",
    "I hate waiting on hold for two hours",
    "The food was disgusting and the seat was broken :(",
    "Terrible customer service, rude staff and no apology",
    "so angry, my flight got cancelled and nobody cares",
    "This is not good at all",
    "Not happy with the delay",
]


@pytest.mark.parametrize("text", CLEAR_CASES)
def test_social_mode_agrees_in_sign_with_vadersentiment_on_clear_cases(text: str) -> None:
    reference = library(text)
    assert abs(reference) > 0.3, "a clear case for VADER"
    assert (SOCIAL.compound(text) > 0) == (reference > 0)
    assert abs(SOCIAL.compound(text)) > 0.3


def test_but_weighs_words_by_position() -> None:
    """VADER's intent: what follows "but" counts 1.5x, what precedes it 0.5x.

    vaderSentiment 3.3.2 finds each word's value with ``list.index`` and so reweighs the first
    equal value instead, which the "vader" mode reproduces and the social mode fixes.
    """
    text = "love accept but accept"  # love 3.2, accept 1.6: halving love gives 1.6 too
    words = LIBRARY.lexicon
    sentiments, _ = SOCIAL.sentiments(text)
    assert sentiments == pytest.approx(
        [words["love"] * 0.5, words["accept"] * 0.5, 0.0, words["accept"] * 1.5]
    )
    buggy, _ = VADER.sentiments(text)
    assert buggy == pytest.approx([0.8, 0.8, 0.0, 1.6])
    assert VADER.compound(text) == library(text)


def test_emoji_scale_comes_from_vader_emoticon_ratings() -> None:
    lexicon = load_lexicon()
    scale = emoji_rating_scale(lexicon)
    assert 2.5 < scale < 4.5  # the ranking's [-1, 1] spans most of VADER's -4..+4
    assert all(emoticon in lexicon.words for emoticon in EMOTICON_ANCHORS.values())
    assert all(emoji in lexicon.emoji_ranking for emoji in EMOTICON_ANCHORS)


def test_rarely_seen_emoji_are_pulled_towards_neutral() -> None:
    ranking = load_lexicon().emoji_ranking
    assert all(-1 < value < 1 for value in ranking.values())
    assert 0 < ranking["😍"] < 1 and ranking["😡"] < 0


def test_emoji_without_a_ranking_falls_back_to_its_name() -> None:
    lexicon = load_lexicon()
    assert "🥰" not in lexicon.emoji_ranking  # newer than the ranking
    assert SOCIAL.compound("🥰") == library("🥰") > 0


def test_compound_normalisation() -> None:
    assert compound_from_sum(0.0) == 0.0
    assert compound_from_sum(4.0) == pytest.approx(4 / 31**0.5)
    assert compound_from_sum(-1e9) == pytest.approx(-1.0)


def test_loading_the_lexicons_leaves_logging_alone() -> None:
    """emosent's __init__ configures the root logger; the engine reads its data without it."""
    code = (
        "import logging, sys\n"
        "from sentineld_plugins.scorers.sentiment.engine import VaderEngine\n"
        "VaderEngine().compound('ok 😍')\n"
        "assert 'emosent' not in sys.modules, 'emosent was imported'\n"
        "assert not logging.getLogger().handlers, logging.getLogger().handlers\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_emoji_replacer_takes_only_non_ascii_characters() -> None:
    """It looks only at runs of non-ASCII characters, so an ASCII key would be ignored."""
    space = non_ascii_replacer({"😍": " 😍 ", "é": "e"})
    assert space("café😍😍 ok") == "cafe 😍  😍  ok"
    with pytest.raises(ValueError, match="non-ASCII"):
        non_ascii_replacer({":)": "smile"})


def test_round4_is_round_to_four_places() -> None:
    """The engine's fast rounding gives ``round(value, 4)``'s float, ties and zeros included."""
    from sentineld_plugins.scorers.sentiment.engine import _round4

    values = [k / 10000 + offset for k in range(-10000, 10001)
              for offset in (0.0, 5e-5, -5e-5, 5e-5 + 1e-13, 5e-5 - 1e-13, 1e-9, -1e-9)]  # fmt: skip
    values += [1.0, -1.0, 0.0, -0.0, 1e-300, -1e-300, 4.9999e-5, -4.9999e-5, 0.12345, -0.98765]
    for value in values:
        if -1.0 <= value <= 1.0:
            expected = round(value, 4)
            assert repr(_round4(value)) == repr(expected), value
