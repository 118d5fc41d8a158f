"""`[watch]`: what counts as a mention of the brand, of each competitor, of each topic, which
accounts are the brand's own, and which authors are on the watchlist. The `Matcher` fills each
mention's ``matches`` (and ``labels["watchlist"]``).

Terms match case-insensitively on word boundaries. A term written ``@acme`` matches only the
handle, ``#acme`` only the hashtag, ``$ACME`` only the cashtag; a bare ``acme`` matches the word,
``@acme``, ``#acme`` and ``$acme``. A handle, hashtag or word goes on through letters, digits and
``_`` (so ``@acme`` does not match ``@acme_fans``), and a handle through ``.name`` (``@acme`` does
not match ``@acme.bsky.social``). A space in a term matches any run of white space.

Scripts written without spaces between words (Chinese, Japanese, Thai, Khmer, Lao, Myanmar) and
Korean, whose particles attach to the noun, have no word boundaries to respect: next to such a
character a term always ends. Text is NFKC-normalised first, so full-width ``＠ａｃｍｅ`` and
half-width katakana match like their usual forms.

``exclude`` phrases blank out their span before matching, so ``exclude = ["american idol"]``
keeps ``american`` in "American Idol" from counting, while "flying American to watch American
Idol" still matches on its first "American". ``subject_exclude`` does the same for one subject
only (``brand``, ``competitor:NAME`` or ``topic:NAME``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from sentineld.model import Mention
from sentineld.options import Options

__all__ = ["Matcher", "WatchConfig"]


class WatchConfig(Options):
    """The `[watch]` section."""

    brand: list[str] = []
    accounts: list[str] = []
    competitors: dict[str, list[str]] = {}
    topics: dict[str, list[str]] = {}
    exclude: list[str] = []
    #: Phrases excluded for one subject only, keyed by subject (``brand``, ``competitor:NAME``,
    #: ``topic:NAME``).
    subject_exclude: dict[str, list[str]] = {}
    #: Authors always tracked, whose every mention is labelled ``watchlist = "yes"``: a handle
    #: (``@jo`` or ``jo.bsky.social``), a platform author id, or ``source:author-id``.
    watchlist: list[str] = []

    def __post_init__(self) -> None:
        known = self.subjects()
        for subject in self.subject_exclude:
            if subject not in known:
                choices = ", ".join(known) or "none: [watch] names no subject yet"
                raise ValueError(
                    f"subject_exclude names unknown subject {subject!r} (known: {choices})"
                )

    def subjects(self) -> list[str]:
        """Every subject an alert can be about: ``brand``, ``competitor:NAME``, ``topic:NAME``."""
        names = ["brand"] if self.brand else []
        names += [f"competitor:{name}" for name in self.competitors]
        names += [f"topic:{name}" for name in self.topics]
        return names


#: Scripts without spaces between words, and Hangul (particles attach to nouns).
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u312f"  # Bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uff66-\uff9f"  # half-width Katakana
)
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
#: A character that continues a word of a spaced script (letters, digits and ``_``).
_WORD = rf"[^\W{_UNSPACED}]"


def _term_pattern(term: str) -> str:
    """The regex of one (case-folded) term. The boundary before it is checked right after its
    first character, so that every alternative starts with a literal and `re` can skip ahead
    to the places where a term may begin."""
    term = " ".join(term.split())
    first, rest = term[0], term[1:]
    body = rest if first in "@#$" else term
    escaped_rest = r"\s+".join(re.escape(part) for part in rest.split(" "))
    if first in "@#$":
        before = rf"(?<!{_WORD}.)(?<![@#$].)"
    else:
        before = "" if _UNSPACED_CHAR.match(first) else rf"(?<!{_WORD}.)"
    if _UNSPACED_CHAR.match(body[-1]):
        after = ""
    elif first == "@":
        after = rf"(?!{_WORD}|\.{_WORD})"
    else:
        after = rf"(?!{_WORD})"
    return f"{re.escape(first)}{before}{escaped_rest}{after}"


def _clean(terms: Iterable[str]) -> list[str]:
    """Terms in the form text is matched in (NFKC, case-folded), without empty ones."""
    folded = (normalize_text(t.strip()) for t in terms)
    return [t for t in folded if t and t not in "@#$"]


def _compile(terms: Iterable[str]) -> re.Pattern[str] | None:
    patterns = [_term_pattern(t) for t in _clean(terms)]
    if not patterns:
        return None
    # Longest first so that "acme air" wins over "acme" in the alternation.
    patterns.sort(key=len, reverse=True)
    return re.compile("|".join(patterns))


def _needles(terms: Iterable[str]) -> tuple[str, ...]:
    """Substrings one of which must be in the text for a term to match (a cheap first test)."""
    return tuple({t.lstrip("@#$").split(" ")[0] for t in _clean(terms)})


def normalize_text(text: str) -> str:
    """The form terms are matched in: case-folded, and NFKC for what is not plain ASCII."""
    return text.casefold() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()


def _identity(value: str) -> str:
    return value.strip().lower().lstrip("@")


class Matcher:
    """Compiled `[watch]` terms; `match(text)` returns what the text is about."""

    def __init__(self, watch: WatchConfig) -> None:
        self.watch = watch
        self._subjects: list[tuple[str, tuple[str, ...], re.Pattern[str], re.Pattern[str] | None]] = []
        for subject, terms in self._subject_terms(watch):
            pattern = _compile(terms)
            if pattern is not None:
                own_exclude = _compile(watch.subject_exclude.get(subject, ()))
                self._subjects.append((subject, _needles(terms), pattern, own_exclude))
        self._exclude = _compile(watch.exclude)
        self._exclude_needles = _needles(watch.exclude)
        self._accounts = {_identity(a) for a in watch.accounts}
        self._watchlist = {_identity(a) for a in watch.watchlist if a.strip()}

    @property
    def has_subjects(self) -> bool:
        """False when `[watch]` names no term at all (then nothing ever matches)."""
        return bool(self._subjects)

    @staticmethod
    def _subject_terms(watch: WatchConfig) -> Iterable[tuple[str, Sequence[str]]]:
        yield "brand", watch.brand
        for name, terms in watch.competitors.items():
            yield f"competitor:{name}", terms
        for name, terms in watch.topics.items():
            yield f"topic:{name}", terms

    def match(self, text: str) -> list[str]:
        # Plain loops over the needles, not any() over a generator: this runs for every
        # mention, and the generators cost half of it when the terms are few (decision 0040).
        text = normalize_text(text)
        if self._exclude is not None:
            for needle in self._exclude_needles:
                if needle in text:
                    text = self._exclude.sub(" ", text)
                    break
        found = []
        for subject, needles, pattern, own_exclude in self._subjects:
            for needle in needles:
                if needle in text:
                    break
            else:
                continue
            target = own_exclude.sub(" ", text) if own_exclude is not None else text
            if pattern.search(target):
                found.append(subject)
        return found

    def _author_in(self, mention: Mention, identities: set[str]) -> bool:
        author = mention.author
        if author is None or not identities:
            return False
        for value in (author.handle, author.id):
            if value and _identity(value) in identities:
                return True
        key = mention.author_key
        return key is not None and key.lower() in identities

    def is_own_account(self, mention: Mention) -> bool:
        """True when the mention was written by one of the brand's own `accounts`."""
        return self._author_in(mention, self._accounts)

    def is_watchlisted(self, mention: Mention) -> bool:
        """True when the mention's author is on the `watchlist` (by handle, id or author key)."""
        return self._author_in(mention, self._watchlist)

    def apply(self, mentions: Sequence[Mention]) -> None:
        watchlist = bool(self._watchlist)
        for mention in mentions:
            mention.matches = self.match(mention.text)
            if watchlist and self.is_watchlisted(mention):
                mention.labels["watchlist"] = "yes"
