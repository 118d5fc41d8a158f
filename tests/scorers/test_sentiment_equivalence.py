"""The shipped engine gives exactly the outputs of the engine it replaced (`sentiment_reference`).

The engine was rewritten for speed on the rule that no score may change. Equality here is
exact, as in `test_sentiment_engine.py`'s comparison with vaderSentiment: every token valence,
the normalised text whose "!" and "?" count, and the rounded compound score, float for float.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentineld_plugins.scorers.sentiment.engine import VaderEngine
from tests.scorers.sentiment_reference import VaderEngine as ReferenceEngine
from tests.scorers.test_sentiment_engine import RULE_WORDS, data_texts

#: Watched names as a deployment would give them: a handle, a hashtag, a name that is an
#: English word ("united" +1.8), two words, one with punctuation, one that is not ASCII.
TERMS = ["sentineld", "@sentineld", "#sentineld", "rivald", "@rivald", "United", "Best Buy",
         "acme.com", "Café Olé"]  # fmt: skip

#: The throughput bench's watched names: all ASCII, so the engine takes its fast path for
#: locating them (`TERMS` has a non-ASCII name, which sends every text down the general one).
ASCII_TERMS = [term for term in TERMS if term.isascii()]

ENGINES = {
    "social": (VaderEngine(social=True, neutral_terms=TERMS),
               ReferenceEngine(social=True, neutral_terms=TERMS)),
    "social, ASCII terms": (VaderEngine(social=True, neutral_terms=ASCII_TERMS),
                            ReferenceEngine(social=True, neutral_terms=ASCII_TERMS)),
    "social, no terms": (VaderEngine(social=True), ReferenceEngine(social=True)),
    "vader": (VaderEngine(social=False), ReferenceEngine(social=False)),
}  # fmt: skip


def assert_same(text: str) -> None:
    for name, (engine, reference) in ENGINES.items():
        assert engine.sentiments(text) == reference.sentiments(text), (name, text)
        assert engine.compound(text) == reference.compound(text), (name, text)


def test_every_data_set_tweet_scores_as_before(data_dir: Path) -> None:
    texts = data_texts(data_dir)
    assert len(texts) > 6000
    for text in texts:
        assert_same(text)


@pytest.mark.parametrize("prefix", ["sentineld ", "@sentineld ", "SENTINELD: ", "#BestBuy "])
def test_data_set_tweets_naming_the_brand_score_as_before(data_dir: Path, prefix: str) -> None:
    """The throughput bench's mentions: a real tweet that names the watched brand."""
    for text in data_texts(data_dir)[::3]:
        assert_same(prefix + text)


#: Pieces that switch on each social rule and each branch of the fast paths: handles, URLs,
#: watched names in every case, camelCase hashtags, elongation, emoji with selectors and skin
#: tones, entities, curly apostrophes, "like", and characters whose lower case is longer or
#: depends on context (İ, final sigma) or folds to ASCII (the Kelvin sign, the long s).
SOCIAL_PIECES = sorted(
    {*RULE_WORDS, "@united", "@sentineld", "sentineld", "Sentineld's", "SENTINELD", "#sentineld",
     "rivald,", "United", "united!", "best buy", "BEST BUY", "Best", "Buy", "acme.com", "ACME.COM",
     "café olé", "CAFÉ OLÉ", "#WorstAirlineEver", "#LOLFail", "#NeverAgain", "#fail",
     "https://t.co/x?y!", "www.acme.com", "Www.x.com", "WWW.AA.COM", "http://goood.com",
     "goooood", "sooo", "NOOOO", "loooove", "baaaad", "zzz", "hmmm", "aaa", "!!!", "...",
     "😍", "😡", "❤️", "👍🏽", "🥰", "💔", "😂😂", "don’t", "DON’T", "&lt;3", "&amp;", "a&#97;a",
     "&nbsp;", "I like", "looks like", "like", "LIKE", "İstanbul", "ΟΔΟΣ", "K", "ſo", "n't",
     "N'T", "can't", "cannnn't", "no", "NO", "least", "at least", "kind of", "sort of", "but",
     "BUT", ":)", ":(", "<3", ":D", "\x00", "\u00a0", "café", "so", "this", "never", "without",
     "doubt", "very", "extremely", "the bomb", "yeah right", "I", "a,", "it.", "me!"}
)  # fmt: skip
SEPARATORS = [" ", " ", " ", "", ",", "\n", "  ", "\u2003"]


@st.composite
def social_texts(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(SOCIAL_PIECES), min_size=1, max_size=16))
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(st.sampled_from(SEPARATORS)) + piece
    return text


@settings(max_examples=1500, deadline=None)
@given(social_texts())
def test_rule_heavy_social_text_scores_as_before(text: str) -> None:
    assert_same(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_any_text_scores_as_before(text: str) -> None:
    assert_same(text)


#: More watched names than the engine looks for one by one: it locates them with one regex.
MANY_TERMS = [*ASCII_TERMS, "acme", "globex", "initech", "hooli", "umbrella", "buy", "best"]
MANY_TERMS_ENGINES = (VaderEngine(social=True, neutral_terms=MANY_TERMS),
                      ReferenceEngine(social=True, neutral_terms=MANY_TERMS))  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(social_texts())
def test_many_watched_names_score_as_before(text: str) -> None:
    engine, reference = MANY_TERMS_ENGINES
    for variant in (text, "Hooli " + text + " ACME"):
        assert engine.sentiments(variant) == reference.sentiments(variant), variant


@pytest.mark.parametrize(
    "text",
    ["sooo good 😍", "SooO gOOOd ❤️", "sſs good 😍", "goood ſo 😍", "KKK okkk 😍", "ıii nice 😍",
     "noooo İii 😍", "ΣΣΣ baaad 😡", "café sooo bad", "naïve loooove"],
)  # fmt: skip
def test_elongation_in_non_ascii_text_as_before(text: str) -> None:
    """Non-ASCII texts look for elongation in their lower case unless ı, ſ or K could fold."""
    assert_same(text)
