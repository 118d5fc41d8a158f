"""What social text needs before VADER's rules see it (the engine's ``social=True`` mode).

Each step is a rule about how people write on social platforms, not a fit to any data set;
``docs/decisions/0101-sentiment-rules-for-social-text.md`` gives the reasons.
"""

from __future__ import annotations

import html
import re
import types
from collections.abc import Callable, Collection, Iterable
from typing import Final

__all__ = [
    "ELONGATED",
    "ELONGATED_LOWER",
    "NEUTRAL",
    "SocialNormaliser",
    "has_elongation",
    "neutralise_handles",
    "non_ascii_replacer",
    "resolve_word_senses",
    "unelongate",
]

#: Placeholder token for an @handle, a URL or a watched name: in no lexicon or word list.
NEUTRAL: Final = "\x00"
_SPACED_NEUTRAL: Final = " " + NEUTRAL + " "

_URL: Final = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
#: An "@" not preceded by a word character or another "@", then a word. The look-behind comes
#: after the "@" so that the regex engine can skip to each "@" instead of trying every position.
_HANDLE: Final = re.compile(r"@(?<![\w@]@)\w+")
_CAMEL_HASHTAG: Final = re.compile(r"#(\w*[a-z]\w*[A-Z]\w*)")
_CAMEL_PART: Final = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
ELONGATED: Final = re.compile(r"([a-z])\1\1", re.IGNORECASE)
#: `ELONGATED` for a text already lower-cased: the same matches, found faster by testing any
#: character for a repeat first and only a repeated one for being a letter.
ELONGATED_LOWER: Final = re.compile(r"(.)\1(?<=[a-z])\1", re.DOTALL)
_RUN_OF_THREE_OR_MORE: Final = re.compile(r"([a-z])\1{2,}")
#: Code points that decorate an emoji without changing its meaning: variation selectors, the
#: zero-width joiner, the keycap mark and the five skin tones.
_EMOJI_DECORATION: Final = re.compile("[\ufe0e\ufe0f\u200d\u20e3\U0001f3fb-\U0001f3ff]")
_APOSTROPHES: Final = ("\u2019", "\u2018", "\u02bc")
_NON_ASCII_RUN: Final = re.compile(r"[^\x00-\x7f]+")
#: The non-ASCII characters that a case-insensitive regex matches with an ASCII letter:
#: İ and ı with "i", ſ with "s", the Kelvin sign with "k".
_FOLDS_TO_ASCII: Final = re.compile("[\u0130\u0131\u017f\u212a]")
_MOST_TERMS_TO_FIND_ONE_BY_ONE: Final = 8

#: Words after which "like" is the verb: subject pronouns, auxiliaries
#: and modals, negations, the infinitive "to", and adverbs that modify a verb. Elsewhere it is
#: a preposition, a comparison or a filler ("looks like rain", "just like that", "was like…").
_VERB_CONTEXT_FOR_LIKE: Final = frozenset(
    "i you u ya we they ppl people who to do does did dont don't doesnt doesn't didnt didn't "
    "would wouldnt wouldn't i'd you'd we'd they'd i'll will gonna wanna might may must should "
    "could can cant can't not never really actually also totally kinda still".split()
)


def non_ascii_replacer(replacements: dict[str, str]) -> Callable[[str], str]:
    """A function that replaces, in a text, each character that is a key of `replacements`
    (non-ASCII characters only) by its value.

    A regex of all the keys as one character class does the same, but when the keys lie
    beyond the Basic Multilingual Plane, as emoji do, Python's regex engine compares each
    position with them one by one: about 120 µs for a tweet. Here only the text's runs of
    non-ASCII characters are translated, a character at a time, through a dict.
    """
    if any(key.isascii() for key in replacements):
        raise ValueError("only non-ASCII characters can be replaced")
    table = {ord(key): value for key, value in replacements.items()}

    def replace_run(match: re.Match[str]) -> str:
        return match.group().translate(table)

    return lambda text: _NON_ASCII_RUN.sub(replace_run, text)


def _neutralise_urls(text: str) -> str:
    """``_URL.sub(_SPACED_NEUTRAL, text)``, with the regex run only from the first place a URL
    can start.

    The case-insensitive regex tries every position of the text (about 2 µs for a tweet),
    and a URL is usually at its end. In an ASCII text a match starts where the lower-cased
    text has "http" or "www." (only ASCII letters match ASCII letters there, in place), and
    nothing before it matters to the regex, which looks only forward.
    """
    if not text.isascii():
        return _URL.sub(_SPACED_NEUTRAL, text)
    lowered = text.lower()
    http = lowered.find("http")
    www = lowered.find("www.")
    begin = http if www < 0 or 0 <= http < www else www
    if begin <= 0:
        return text if begin < 0 else _URL.sub(_SPACED_NEUTRAL, text)
    return text[:begin] + _URL.sub(_SPACED_NEUTRAL, text[begin:])


def _is_word_character(char: str) -> bool:
    """What ``\\w`` matches in a regex of text (`str.isalnum` is true for exactly the other
    characters it matches)."""
    return char.isalnum() or char == "_"


def neutralise_handles(text: str) -> str:
    """``_HANDLE.sub(_SPACED_NEUTRAL, text)``, written as a loop.

    Compiled, the loop runs in C and costs a fraction of the regex's substitution machinery
    (most mentions hold one or two handles, a few characters long).
    """
    at = text.find("@")
    pieces: list[str] = []
    start = 0
    length = len(text)
    while at >= 0:
        end = at + 1
        before = text[at - 1] if at > 0 else " "
        if not (_is_word_character(before) or before == "@"):
            while end < length and _is_word_character(text[end]):
                end += 1
        if end > at + 1:
            pieces.append(text[start:at])
            pieces.append(_SPACED_NEUTRAL)
            start = end
        at = text.find("@", end)
    if not pieces:
        return text
    pieces.append(text[start:])
    return "".join(pieces)


def _split_camel_hashtag(match: re.Match[str]) -> str:
    return " " + " ".join(_CAMEL_PART.findall(match.group(1))) + " "


class SocialNormaliser:
    """Rewrites a text so that VADER's whitespace tokens mean what the writer meant.

    - @handles, URLs and the ``neutral_terms`` (the brand's own name, say: "United" must not
      read as +1.8) become a neutral placeholder, so they keep their place in VADER's word
      windows but carry no sentiment, and a "?" in a URL is not emphasis;
    - camelCase hashtags are split into words (``#NeverAgain`` → never again);
    - HTML entities are decoded (platform APIs send ``&lt;3``), curly apostrophes straightened
      (``don’t`` is a negation);
    - every emoji becomes a token of its own, without variation selectors or skin tones.
    """

    def __init__(self, emoji: Collection[str], neutral_terms: Iterable[str] = ()) -> None:
        self._space_emoji = non_ascii_replacer({e: f" {e} " for e in emoji}) if emoji else None
        terms = sorted({t.strip().lstrip("@#$") for t in neutral_terms} - {""}, key=len)
        #: Lower-cased terms, to find cheaply where the word-boundary regex may match.
        self._lowered_terms = tuple(dict.fromkeys([term.lower() for term in terms]))
        self._terms = (
            re.compile(
                r"(?<!\w)(?:" + "|".join(re.escape(t) for t in reversed(terms)) + r")(?!\w)",
                re.IGNORECASE,
            )
            if terms
            else None
        )
        self._terms_are_ascii = all(term.isascii() for term in terms)
        #: Where a lower-cased term occurs in a lower-cased text (a case-sensitive search of
        #: literals, which the regex engine skips through quickly).
        self._find_term = re.compile("|".join(map(re.escape, self._lowered_terms))).search
        self._longest_term = max(map(len, terms), default=0)
        #: Up to this many terms, a `str.find` per term beats one search of their alternation
        #: (0.42 against 0.89 µs for two terms in a tweet; even at eight, 1.2 against 1.4).
        self._find_each_term = len(self._lowered_terms) <= _MOST_TERMS_TO_FIND_ONE_BY_ONE

    def __call__(self, text: str) -> str:
        if "&" in text:
            text = html.unescape(text)
        if "//" in text or "www." in text or "WWW." in text:
            text = _neutralise_urls(text)
        if "@" in text:
            text = neutralise_handles(text)
        if self._terms is not None:
            text = self._neutralise_terms(text)
        if "#" in text:
            text = _CAMEL_HASHTAG.sub(_split_camel_hashtag, text)
        if not text.isascii():
            for apostrophe in _APOSTROPHES:
                if apostrophe in text:
                    text = text.replace(apostrophe, "'")
            text = _EMOJI_DECORATION.sub("", text)
            if self._space_emoji is not None:
                text = self._space_emoji(text)
        return text

    def _neutralise_terms(self, text: str) -> str:
        """Replace the neutral terms (whole words, any case) by the placeholder.

        The case-insensitive regex is slow when run over a whole text (it tries every
        position), and a mention usually names the brand once. For ASCII terms, a match can
        only start where `str.find` finds a term in the lower-cased text (lower-casing keeps
        every character in place, and no character of the text but `_FOLDS_TO_ASCII` matches
        an ASCII letter of another case), so the regex is tried there alone.
        """
        lowered = text.lower()
        terms = self._lowered_terms
        if not self._terms_are_ascii or (
            not text.isascii() and _FOLDS_TO_ASCII.search(text) is not None
        ):
            if any(term in lowered for term in terms):
                return self._terms.sub(_SPACED_NEUTRAL, text)  # type: ignore[union-attr]
            return text
        first, length = self._single_place(lowered)
        if first == -1:
            return text
        if first >= 0:  # a single place to try, the usual case
            if length:
                # One term, found once, and no other term in the text: the regex matches
                # there if and only if the term is a whole word.
                end = first + length
                if (first > 0 and _is_word_character(text[first - 1])) or (
                    end < len(text) and _is_word_character(text[end])
                ):
                    return text
            else:
                match = self._terms.match(text, first)  # type: ignore[union-attr]
                if match is None:
                    return text
                end = match.end()
            return text[:first] + _SPACED_NEUTRAL + text[end:]
        begin = max(min(at for at in map(lowered.find, terms) if at >= 0) - 1, 0)
        end = max(map(lowered.rfind, terms)) + self._longest_term + 1
        stretch = self._terms.sub(_SPACED_NEUTRAL, text[begin:end])  # type: ignore[union-attr]
        return text[:begin] + stretch + text[end:]

    def _single_place(self, lowered: str) -> tuple[int, int]:
        """Where the terms occur in the lower-cased text: the position if at one place only
        (-1 if nowhere, -2 if at several places), and the length of the term found there if it
        is the only term in the text (else 0: terms that start at the same place are found as
        one place when there are too many terms to find one by one)."""
        if not self._find_each_term:
            found = self._find_term(lowered)
            if found is None:
                return -1, 0
            first = found.start()
            return (first if self._find_term(lowered, first + 1) is None else -2), 0
        first = -1
        length = 0
        for term in self._lowered_terms:
            at = lowered.find(term)
            if at >= 0:
                if first >= 0 or lowered.find(term, at + 1) >= 0:
                    return -2, 0
                first = at
                length = len(term)
        return first, length


def unelongate(lowered: list[str], is_known: Callable[[str], bool]) -> set[int]:
    """Replace elongated tokens (``goooood``, ``sooo``) by the word they stretch, in place.

    A run of three or more equal letters is tried as two letters ("good"), then one ("so");
    the first form `is_known` accepts wins. Returns the positions that were stretched: the
    writer's emphasis, which the engine counts like capitals.
    """
    emphasised: set[int] = set()
    for i, word in enumerate(lowered):
        if is_known(word) or not ELONGATED.search(word):
            continue
        for candidate in (
            _RUN_OF_THREE_OR_MORE.sub(r"\1\1", word),
            _RUN_OF_THREE_OR_MORE.sub(r"\1", word),
        ):
            if is_known(candidate):
                lowered[i] = candidate
                emphasised.add(i)
                break
    return emphasised


def run_of_three_letters(lowered: str) -> bool:
    """``ELONGATED_LOWER.search(lowered) is not None``, as a loop over the code points: three
    equal letters a-z in a row."""
    previous = -1
    run = 0
    for i in range(len(lowered)):
        code = ord(lowered[i])
        if code != previous:
            previous = code
            run = 1
        else:
            run += 1
            if run == 3 and 97 <= code <= 122:
                return True
    return False


#: Whether this module runs compiled (mypyc makes its functions built-in functions).
COMPILED: Final = not isinstance(run_of_three_letters, types.FunctionType)


def has_elongation(lowered: str) -> bool:
    """Whether a lower-cased text holds three equal letters a-z in a row (`ELONGATED_LOWER`).

    Compiled, `run_of_three_letters` reads the text's code points in C, five times faster
    than the regex (0.2 against 1.0 µs for a tweet); run as Python that loop would be several
    times slower than the regex, so the regex runs there (decision 0105).
    """
    if COMPILED:
        return run_of_three_letters(lowered)
    return ELONGATED_LOWER.search(lowered) is not None


def resolve_word_senses(lowered: list[str]) -> None:
    """Read "like" as positive (VADER's 1.5) only where it is the verb, in place.

    After a subject, an auxiliary, a negation, "to" or a verb-modifying adverb it is the verb
    ("I like it", "don't like"); elsewhere it is a preposition, a comparison or a filler
    ("looks like rain", "just like that", "I was like…") and carries no sentiment. It is the
    most frequent lexicon word in tweets, so its misreadings add up.
    """
    if "like" in lowered:
        for i, word in enumerate(lowered):
            if word == "like" and (i == 0 or lowered[i - 1] not in _VERB_CONTEXT_FOR_LIKE):
                lowered[i] = NEUTRAL
