"""The engine's loops that stand in for regexes (decision 0105) match what the regexes match.

`neutralise_handles` replaces ``_HANDLE.sub``, `run_of_three_letters` replaces
``ELONGATED_LOWER.search`` (in the compiled build; run as Python, `has_elongation` keeps the
regex), a watched name found once is checked for word boundaries with `_is_word_character`
instead of the names' regex, `_vader_token` strips a word only when an end of it is
punctuation (compiled), and `_neutralise_urls` runs the URL regex from where a URL can
start. Each is compared with what it replaces on every code point in each place that decides
the result, or on generated texts; with the compiled build installed they run compiled here.
"""

from __future__ import annotations

import re
import string
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from sentineld_plugins.scorers.sentiment.engine import _is_punctuation, _vader_token, _vader_tokens
from sentineld_plugins.scorers.sentiment.social import (
    _HANDLE,
    _SPACED_NEUTRAL,
    _URL,
    COMPILED,
    ELONGATED_LOWER,
    SocialNormaliser,
    _is_word_character,
    _neutralise_urls,
    has_elongation,
    neutralise_handles,
    run_of_three_letters,
)

#: Every code point, in chunks (one text per chunk keeps the test fast).
CHUNKS = [
    range(start, min(start + 4096, sys.maxunicode + 1))
    for start in range(0, sys.maxunicode + 1, 4096)
]


def handles_by_regex(text: str) -> str:
    return _HANDLE.sub(_SPACED_NEUTRAL, text)


def elongated_by_regex(text: str) -> bool:
    return ELONGATED_LOWER.search(text) is not None


def test_compiled_flag_says_how_the_module_runs() -> None:
    from sentineld.compiled import is_compiled
    from sentineld_plugins.scorers.sentiment import social

    assert COMPILED == is_compiled(social)


def test_handles_beside_every_code_point() -> None:
    for chunk in CHUNKS:
        chars = [chr(code) for code in chunk]
        # before the "@" (the look-behind), inside the handle, right after the "@", and a
        # handle that starts right where the previous one ends
        text = " ".join(f"{c}@ab @a{c}b @{c} x@{c}@y{c}@@z" for c in chars)
        assert neutralise_handles(text) == handles_by_regex(text)


def test_elongation_beside_every_code_point() -> None:
    for chunk in CHUNKS:
        for c in map(chr, chunk):
            for text in (c * 3, f"a{c}{c}{c}b", f"{c}aa", f"aa{c}a", f"x{c}{c}"):
                assert run_of_three_letters(text) == elongated_by_regex(text), repr(text)
                assert has_elongation(text) == elongated_by_regex(text), repr(text)


ALPHABET = st.sampled_from(
    list("@@@__aAbz09 .!#\n") + ["é", "١", "Σ", "ß", "\u200d", "🙂", "ı", "ſ"]
)


@settings(max_examples=1500, deadline=None)
@given(st.text(ALPHABET, max_size=40))
def test_handles_in_generated_text(text: str) -> None:
    assert neutralise_handles(text) == handles_by_regex(text)


@settings(max_examples=1500, deadline=None)
@given(st.text(st.sampled_from(list("aaabbz yY.!!!") + ["é", "ı", "ſ", "K"]), max_size=30))
def test_elongation_in_generated_text(text: str) -> None:
    lowered = text.lower()
    assert run_of_three_letters(lowered) == elongated_by_regex(lowered)
    assert has_elongation(lowered) == elongated_by_regex(lowered)


def test_empty_and_short_texts() -> None:
    for text in ("", "@", "a", "aa", "aaa", "@_", "_@a"):
        assert neutralise_handles(text) == handles_by_regex(text)
        assert run_of_three_letters(text) == elongated_by_regex(text)


def test_word_character_is_what_the_regex_calls_a_word_character() -> None:
    word = re.compile(r"\w")
    for chunk in CHUNKS:
        for c in map(chr, chunk):
            assert _is_word_character(c) == (word.match(c) is not None), hex(ord(c))


TERMS = ("United", "Best Buy", "delta_air")


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["united", "UNITED", "Best buy", "best  buy", "delta_air", "DELTA"]),
            st.text(
                st.sampled_from(list("ab_9 .@#'") + ["é", "١", "ı", "ſ", "\u212a", "İ"]),
                max_size=3,
            ),
        ),
        max_size=6,
    ).map("".join)
)
def test_watched_names_replaced_where_the_regex_replaces_them(text: str) -> None:
    """One term found once is checked for word boundaries without the regex."""
    for terms in (TERMS[:1], TERMS):
        normaliser = SocialNormaliser((), terms)
        expected = normaliser._terms.sub(_SPACED_NEUTRAL, text)  # type: ignore[union-attr]
        assert normaliser._neutralise_terms(text) == expected


def stripped_as_vader(word: str) -> str:
    return s if len(s := word.strip(string.punctuation)) > 2 else word


def test_punctuation_is_string_punctuation() -> None:
    punctuation = [chr(c) for c in range(sys.maxunicode + 1) if _is_punctuation(c)]
    assert punctuation == sorted(string.punctuation)


def test_token_beside_every_code_point() -> None:
    for chunk in CHUNKS:
        for c in map(chr, chunk):
            for word in (c, f"{c}ab", f"ab{c}", f"{c}abc!", f"!{c}", f"..{c}x", f"{c}:)"):
                assert _vader_token(word) == stripped_as_vader(word), repr(word)


@settings(max_examples=1500, deadline=None)
@given(
    st.text(
        st.sampled_from(list("ab:)(!?.' \t\n\x1c_-") + ["é", "\u00a0", "\u2019", "🙂"]),
        max_size=30,
    )
)
def test_tokens_of_generated_text(text: str) -> None:
    expected = [stripped_as_vader(word) for word in text.split()]
    assert _vader_tokens(text) == expected
    assert [_vader_token(word) for word in text.split()] == expected


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["http://", "HTTPS://", "hTtP://", "www.", "WwW.", "//", "http"]),
            st.text(
                st.sampled_from(list("ab.:/ ?!hwS") + ["é", "ſ", "\u212a", "İ"]), max_size=4
            ),
        ),
        max_size=6,
    ).map("".join)
)
def test_urls_replaced_where_the_regex_replaces_them(text: str) -> None:
    assert _neutralise_urls(text) == _URL.sub(_SPACED_NEUTRAL, text)
