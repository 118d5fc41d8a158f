"""A fast re-implementation of VADER (Hutto & Gilbert, ICWSM 2014), plus rules for social text.

`VaderEngine(social=False)` gives the same compound score as vaderSentiment 3.3.2 (tests pin
this on thousands of tweets), several times faster: the text is lower-cased and split once,
its lexicon words are found in one pass over its tokens, and VADER's window rules (boosters,
the negation window, idioms, "least") run only for a sentiment word that has one of the words
they look for near it; the others keep their lexicon value, with the capitals and
punctuation rules. The rule constants and word lists are imported from vaderSentiment itself,
so they cannot drift apart. Decisions 0100 and 0103 give the reasons.

`VaderEngine(social=True)` (the default) keeps every VADER rule and adds, from `.social`:
neutral @handles, URLs and watched names; split camelCase hashtags; elongated words read as
the word they stretch, with emphasis; emoji valued by how they are used in tweets (the Emoji
Sentiment Ranking) instead of by the words of their names; "like" counted only as a verb;
and the contrastive "but" applied by position (vaderSentiment finds the words to reweigh with
``list.index``, by value, which mis-weights repeated values).
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable
from typing import Final

from vaderSentiment import vaderSentiment as _vader
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SPECIAL_CASES

from .lexicon import Lexicon, emoji_rating_scale, load_lexicon
from .social import (
    COMPILED,
    ELONGATED,
    SocialNormaliser,
    has_elongation,
    non_ascii_replacer,
    resolve_word_senses,
    unelongate,
)

__all__ = ["ALPHA", "VaderEngine", "compound_from_sum"]

# Module constants are `Final` (and typed where their source is untyped): the compiled engine
# reads them as C variables instead of looking them up in the module's dict (decision 0105).
#: VADER's normalisation constant: compound = sum / sqrt(sum² + ALPHA).
ALPHA: Final = 15.0
#: VADER's increments: a booster word, a word in capitals, and its negation scalar.
B_INCR: Final[float] = _vader.B_INCR
C_INCR: Final[float] = _vader.C_INCR
N_SCALAR: Final[float] = _vader.N_SCALAR
_PUNCTUATION: Final = string.punctuation
_NEGATIONS: Final[frozenset[str]] = frozenset(NEGATE)
_BOOSTERS: Final[dict[str, float]] = dict(BOOSTER_DICT)
_IDIOMS: Final[list[str]] = [phrase for phrase in (*SPECIAL_CASES, *BOOSTER_DICT) if " " in phrase]
_MULTIWORD_BOOSTERS: Final[dict[str, float]] = {
    phrase: value for phrase, value in BOOSTER_DICT.items() if " " in phrase
}
#: Words too common to announce an idiom ("the" of "the bomb"); see `_idiom_keywords`.
_FUNCTION_WORDS: Final = frozenset({"the", "to", "for", "of", "just"})


def _idiom_keywords(idioms: Iterable[str]) -> frozenset[str]:
    """One or more words of each idiom that any text containing the idiom contains: its words
    other than `_FUNCTION_WORDS`, or all its words if it has no other."""
    keywords: set[str] = set()
    for idiom in idioms:
        words = idiom.split()
        keywords.update([word for word in words if word not in _FUNCTION_WORDS] or words)
    return frozenset(keywords)


#: Without one of these near a sentiment word, no idiom ("the bomb", "kind of") is there.
_IDIOM_KEYWORDS: Final = _idiom_keywords(_IDIOMS)
#: Words that change a sentiment word's valence from anywhere in VADER's window (three words
#: before it to two after it): negations, boosters, "no" and idiom keywords.
_WINDOW_RULE_WORDS: Final = frozenset({*_NEGATIONS, *_BOOSTERS, *_IDIOM_KEYWORDS, "no"})
#: Words that change the valence of the sentiment word right after them.
_PREVIOUS_WORD_RULE_WORDS: Final = frozenset({"so", "this", "least"})
_RULE_WORDS: Final = _WINDOW_RULE_WORDS | _PREVIOUS_WORD_RULE_WORDS


def compound_from_sum(total: float) -> float:
    """VADER's normalisation of a valence sum into (-1, 1) (clamped: a huge sum rounds to ±1)."""
    value = total / math.sqrt(total * total + ALPHA)
    return 1.0 if value > 1.0 else -1.0 if value < -1.0 else value


def _round4(value: float) -> float:
    """``round(value, 4)`` for a value in [-1, 1], the same float, without its decimal conversion.

    ``value * 10000`` is within 1e-12 of the exact product, so when it is farther than that
    from a tie, the nearest integer ``n`` is the exact product's, and ``n / 10000`` (one correctly
    rounded division) is the float nearest ``n``/10⁴, which is what ``round`` returns. Near a
    tie, and for a zero (whose sign ``round`` keeps), ``round`` itself decides.
    """
    scaled = value * 10000.0
    nearest = round(scaled)
    if nearest and -0.4999 < scaled - nearest < 0.4999:
        return nearest / 10000.0
    return round(value, 4)


def _vader_tokens(text: str) -> list[str]:
    """VADER's tokens: split on whitespace, each stripped of surrounding punctuation unless
    that leaves 2 characters or fewer (so ``:)`` and ``:(`` survive)."""
    if COMPILED:
        return [_vader_token(word) for word in text.split()]
    return [s if len(s := word.strip(_PUNCTUATION)) > 2 else word for word in text.split()]


def _vader_token(word: str) -> str:
    """A word as `_vader_tokens` leaves it. Compiled, testing its first and last characters
    costs a fraction of `str.strip` with a set of characters, and most words need no strip
    (run as Python, the extra call per word would cost more than it saves)."""
    if _is_punctuation(ord(word[0])) or _is_punctuation(ord(word[-1])):
        stripped = word.strip(_PUNCTUATION)
        if len(stripped) > 2:
            return stripped
    return word


def _is_punctuation(code: int) -> bool:
    """Whether a code point is in `string.punctuation` (the ASCII punctuation)."""
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126


def _punctuation_emphasis(text: str) -> float:
    """VADER: each "!" (up to 4) adds 0.292; 2-3 "?" add 0.18 each, more add 0.96."""
    exclamations = text.count("!")
    emphasis = (4 if exclamations > 4 else exclamations) * 0.292
    questions = text.count("?")
    if questions > 1:
        emphasis += questions * 0.18 if questions <= 3 else 0.96
    return emphasis


def _is_negation(word: str) -> bool:
    return word in _NEGATIONS or "n't" in word


def _as_written(cased: str | list[str] | None) -> list[str]:
    """The words VADER's capitals rule reads (see `VaderEngine._score_tokens`)."""
    if cased is None:
        return []
    return cased.split() if isinstance(cased, str) else cased


def _in_capitals(words: list[str], i: int) -> bool:
    """VADER's capitals rule: the word at ``i`` is emphasis if it is upper case and some but
    not all of the words are (given the first, "not all" stops at the first word that is not:
    no need to count them all)."""
    return bool(words) and words[i].isupper() and not all(map(str.isupper, words))


class VaderEngine:
    """Scores a text's sentiment as VADER's compound value in [-1, 1].

    ``social=False`` reproduces vaderSentiment 3.3.2; ``social=True`` adds the rules above.
    Instances are immutable after construction and cheap to share.
    """

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        *,
        social: bool = True,
        neutral_terms: Iterable[str] = (),
    ) -> None:
        self.lexicon = lexicon or load_lexicon()
        self.social = social
        self._words: dict[str, float] = dict(self.lexicon.words)
        #: Emoji token → valence; such a token takes no modifier (see `_emoji_valences`).
        self._emoji: dict[str, float] = {}
        names = {e: n for e, n in self.lexicon.emoji_names.items() if len(e) == 1}
        if social:
            self._emoji = self._emoji_valences()
            self._words.update(self._emoji)
            emoji_chars = {e for e in (*names, *self.lexicon.emoji_ranking) if len(e) == 1}
            self._normalise = SocialNormaliser(emoji_chars, neutral_terms)
        else:
            # vaderSentiment replaces each emoji by its name; a space before the name is what
            # its character loop amounts to once the text is split on whitespace.
            self._replace_emoji = non_ascii_replacer({e: " " + name for e, name in names.items()})

    # ------------------------------------------------------------------ public

    def compound(self, text: str) -> float:
        """The compound score in [-1, 1], rounded to 4 decimals as vaderSentiment rounds it."""
        sentiments, emphasis_text = self.sentiments(text)
        total = sum(sentiments)
        if total == 0:
            return 0.0
        # _punctuation_emphasis and compound_from_sum, inlined: this runs for every text
        exclamations = emphasis_text.count("!")
        emphasis = (4 if exclamations > 4 else exclamations) * 0.292
        questions = emphasis_text.count("?")
        if questions > 1:
            emphasis += questions * 0.18 if questions <= 3 else 0.96
        total = total + emphasis if total > 0 else total - emphasis
        value = total / math.sqrt(total * total + ALPHA)
        return _round4(1.0 if value > 1.0 else -1.0 if value < -1.0 else value)

    def sentiments(self, text: str) -> tuple[list[float], str]:
        """Each token's valence after VADER's rules, and the text whose "!" and "?" count."""
        if self.social:
            text = self._normalise(text)
        elif not text.isascii():
            text = self._replace_emoji(text)
        is_ascii = text.isascii()
        cased: str | list[str] | None
        in_place = is_ascii or ("\u0130" not in text and "\u03a3" not in text)
        if in_place:
            # Lower-casing changes no character's place (only İ lengthens, only Σ looks at its
            # neighbours): the text is lower-cased once, and the capitals rule reads the words
            # as written only when it may apply (never in an ASCII text without capitals).
            lowered_text = text.lower()
            lowered = _vader_tokens(lowered_text)
            if is_ascii:
                cased = None if lowered_text == text else text
            else:
                cased = text.split()
        else:
            cased = _vader_tokens(text)
            lowered = [token.lower() for token in cased]
            lowered_text = " ".join(lowered)
        if is_ascii or (
            in_place and "\u0131" not in text and "\u017f" not in text and "\u212a" not in text
        ):
            # The case-insensitive ELONGATED matches three letters in the text where the
            # faster ELONGATED_LOWER matches them in its lower case, the characters being in
            # place, unless one of them folds to an ASCII letter of another case: ı, ſ, the
            # Kelvin sign (and İ, which is never lower-cased in place).
            elongated = self.social and has_elongation(lowered_text)
        else:
            elongated = self.social and ELONGATED.search(text) is not None
        emphasised: set[int] | tuple[()] = ()
        if elongated:
            emphasised = unelongate(lowered, self._is_known)
            # the words read for the stretched ones, so that the text holds every token
            lowered_text += " " + " ".join(lowered[i] for i in emphasised)
        if self.social and "like" in lowered_text:
            resolve_word_senses(lowered)
        return self._score_tokens(cased, lowered, lowered_text, emphasised), text

    # ------------------------------------------------------------------ social text

    def _is_known(self, word: str) -> bool:
        return word in self._words or word in _BOOSTERS or _is_negation(word)

    def _emoji_valences(self) -> dict[str, float]:
        """Each emoji's valence in VADER rating units.

        From the Emoji Sentiment Ranking where it has the emoji (times `emoji_rating_scale`),
        otherwise VADER's reading of the emoji's name as a phrase. Neutral emoji are left out.
        """
        plain = VaderEngine(self.lexicon, social=False)
        scale = emoji_rating_scale(self.lexicon)
        valences: dict[str, float] = {}
        for emoji, name in self.lexicon.emoji_names.items():
            if len(emoji) == 1:
                valences[emoji] = sum(plain.sentiments(name)[0])
        for emoji, score in self.lexicon.emoji_ranking.items():
            if len(emoji) == 1:
                valences[emoji] = score * scale
        return {emoji: value for emoji, value in valences.items() if value != 0}

    # ------------------------------------------------------------------ VADER's rules

    def _score_tokens(
        self,
        cased: str | list[str] | None,
        lowered: list[str],
        lowered_text: str,
        emphasised: set[int] | tuple[()],
    ) -> list[float]:
        """Each token's valence.

        ``cased`` is what VADER's capitals rule reads: the tokens as written, or an ASCII text
        whose words are upper case where its tokens are, or None if the text has no capital.
        ``lowered_text`` contains every token of ``lowered``, for cheap tests of the text.
        """
        count = len(lowered)
        sentiments = [0.0] * count
        words = self._words
        #: The positions of the text's lexicon words (a token is "known" if it is in `words`).
        positions = [i for i, word in enumerate(lowered) if word in words]
        if not positions:
            return sentiments
        # A sentiment word with no rule word around it (nor a token with "n't") keeps its
        # lexicon value, with the capitals and elongation increments; the others go through
        # all of VADER's rules in `_valence`.
        negations = {word for word in lowered if "n't" in word} if "n't" in lowered_text else None
        all_plain = negations is None and _RULE_WORDS.isdisjoint(lowered)
        emoji = self._emoji
        capitals: list[str] | None = None
        for i in positions:
            word = lowered[i]
            value = words[word]
            if word in emoji:
                sentiments[i] = value
                continue
            if not all_plain:
                window = lowered[i - 3 if i > 3 else 0 : i + 3]
                if (
                    lowered[i - 1] in _PREVIOUS_WORD_RULE_WORDS  # (a false alarm when i = 0)
                    or not _WINDOW_RULE_WORDS.isdisjoint(window)
                    or (negations and not negations.isdisjoint(window))
                ):
                    if not (
                        word in _BOOSTERS
                        or (word == "kind" and i + 1 < count and lowered[i + 1] == "of")
                    ):
                        if capitals is None:
                            capitals = _as_written(cased)
                        sentiments[i] = self._valence(i, value, capitals, lowered, words, emphasised)
                    continue
            # In an ASCII text, a token in capitals has letters and is found upper-cased in
            # the text: a cheap test that spares splitting the text in most cases.
            if cased is not None and (
                type(cased) is list
                or i in emphasised
                or ((upper := word.upper()) != word and upper in cased)
            ):
                if capitals is None:
                    capitals = _as_written(cased)
                if _in_capitals(capitals, i):
                    value += C_INCR if value > 0 else -C_INCR
            if i in emphasised:
                value += B_INCR if value > 0 else -B_INCR
            sentiments[i] = value
        if "but" in lowered_text and "but" in lowered:
            if self.social:
                _weigh_around_but(sentiments, lowered.index("but"))
            else:
                _weigh_around_but_as_vadersentiment(sentiments, lowered.index("but"))
        return sentiments

    def _valence(
        self,
        i: int,
        value: float,
        capitals: list[str],
        lowered: list[str],
        known: dict[str, float],
        emphasised: set[int] | tuple[()],
    ) -> float:
        """VADER's ``sentiment_valence`` for the lexicon word at position ``i``; a token is a
        lexicon word if it is in ``known``."""
        count = len(lowered)
        valence = value
        if lowered[i] == "no" and i != count - 1 and lowered[i + 1] in known:
            valence = 0.0  # "no" negates the next word instead of counting itself
        if (
            (i > 0 and lowered[i - 1] == "no")
            or (i > 1 and lowered[i - 2] == "no")
            or (i > 2 and lowered[i - 3] == "no" and lowered[i - 1] in ("or", "nor"))
        ):
            valence = value * N_SCALAR
        if _in_capitals(capitals, i):
            valence += C_INCR if valence > 0 else -C_INCR
        if i in emphasised:
            valence += B_INCR if valence > 0 else -B_INCR
        for distance in (1, 2, 3):
            j = i - distance
            if j < 0:
                break
            if lowered[j] in known:
                continue
            booster = _BOOSTERS.get(lowered[j])
            if booster is not None:
                scalar = booster if valence >= 0 else -booster
                if _in_capitals(capitals, j):
                    scalar += C_INCR if valence > 0 else -C_INCR
                if j in emphasised:
                    scalar += B_INCR if valence > 0 else -B_INCR
                if distance == 2:
                    scalar *= 0.95
                elif distance == 3:
                    scalar *= 0.9
                valence += scalar
            valence = _negation_check(valence, lowered, distance, i)
            if distance == 3 and not _IDIOM_KEYWORDS.isdisjoint(lowered[i - 3 : i + 3]):
                valence = _idiom_check(valence, lowered, i)
        return _least_check(valence, lowered, known, i)


def _negation_check(valence: float, lowered: list[str], distance: int, i: int) -> float:
    """VADER's ``_negation_check`` for the word ``distance`` places before position ``i``."""
    if distance == 1:
        return valence * N_SCALAR if _is_negation(lowered[i - 1]) else valence
    if distance == 2:
        if lowered[i - 2] == "never" and lowered[i - 1] in ("so", "this"):
            return valence * 1.25
        if lowered[i - 2] == "without" and lowered[i - 1] == "doubt":
            return valence
        return valence * N_SCALAR if _is_negation(lowered[i - 2]) else valence
    # vaderSentiment's operator precedence makes any "so"/"this" right before the word count.
    if (lowered[i - 3] == "never" and lowered[i - 2] in ("so", "this")) or lowered[i - 1] in (
        "so",
        "this",
    ):
        return valence * 1.25
    if lowered[i - 3] == "without" and "doubt" in (lowered[i - 2], lowered[i - 1]):
        return valence
    return valence * N_SCALAR if _is_negation(lowered[i - 3]) else valence


def _idiom_check(valence: float, lowered: list[str], i: int) -> float:
    """VADER's ``_special_idioms_check`` (``i`` ≥ 3): "the bomb", "yeah right", "kind of"…"""
    before = (
        f"{lowered[i - 1]} {lowered[i]}",
        f"{lowered[i - 2]} {lowered[i - 1]} {lowered[i]}",
        f"{lowered[i - 2]} {lowered[i - 1]}",
        f"{lowered[i - 3]} {lowered[i - 2]} {lowered[i - 1]}",
        f"{lowered[i - 3]} {lowered[i - 2]}",
    )
    for phrase in before:
        if phrase in SPECIAL_CASES:
            valence = SPECIAL_CASES[phrase]
            break
    count = len(lowered)
    if count - 1 > i:
        phrase = f"{lowered[i]} {lowered[i + 1]}"
        if phrase in SPECIAL_CASES:
            valence = SPECIAL_CASES[phrase]
    if count - 1 > i + 1:
        phrase = f"{lowered[i]} {lowered[i + 1]} {lowered[i + 2]}"
        if phrase in SPECIAL_CASES:
            valence = SPECIAL_CASES[phrase]
    for phrase in (before[3], before[4], before[2]):
        if phrase in _MULTIWORD_BOOSTERS:
            valence += _MULTIWORD_BOOSTERS[phrase]
    return valence


def _least_check(valence: float, lowered: list[str], known: dict[str, float], i: int) -> float:
    """"least" before a word negates it, except in "at least" and "very least"."""
    if i > 0 and lowered[i - 1] == "least" and lowered[i - 1] not in known:
        if i == 1 or lowered[i - 2] not in ("at", "very"):
            return valence * N_SCALAR
    return valence


def _weigh_around_but(sentiments: list[float], but: int) -> None:
    """Words before the first "but" count half, words after it one and a half."""
    for i in range(len(sentiments)):
        if i < but:
            sentiments[i] *= 0.5
        elif i > but:
            sentiments[i] *= 1.5


def _weigh_around_but_as_vadersentiment(sentiments: list[float], but: int) -> None:
    """vaderSentiment 3.3.2's version: it locates each value with ``list.index``."""
    for sentiment in list(sentiments):
        at = sentiments.index(sentiment)
        if at < but:
            sentiments[at] = sentiment * 0.5
        elif at > but:
            sentiments[at] = sentiment * 1.5
