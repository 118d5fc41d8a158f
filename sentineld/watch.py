"""`[watch]`: what counts as a mention of the brand, of each competitor, of each topic, and which
accounts are the brand's own. The `Matcher` fills each mention's ``matches``.

Terms match case-insensitively on word boundaries. A term written ``@acme`` matches only the
handle, ``#acme`` only the hashtag, ``$ACME`` only the cashtag; a bare ``acme`` matches the word,
``@acme``, ``#acme`` and ``$acme``. `exclude` phrases blank out their span before matching, so
``exclude = ["american idol"]`` keeps ``american`` in "American Idol" from counting as the brand.
"""

from __future__ import annotations

import re
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

    def subjects(self) -> list[str]:
        """Every subject an alert can be about: ``brand``, ``competitor:NAME``, ``topic:NAME``."""
        names = ["brand"] if self.brand else []
        names += [f"competitor:{name}" for name in self.competitors]
        names += [f"topic:{name}" for name in self.topics]
        return names


_WORD_CHAR = r"[^\W_]"  # a letter or digit in any script


def _term_pattern(term: str) -> str:
    term = term.strip()
    if term[:1] in "@#$":
        prefix, body = term[0], term[1:]
        return rf"(?<![\w@#$]){re.escape(prefix)}{re.escape(body)}(?!{_WORD_CHAR})"
    return rf"(?<![\w]){re.escape(term)}(?!{_WORD_CHAR})"


def _compile(terms: Iterable[str]) -> re.Pattern[str] | None:
    patterns = [_term_pattern(t) for t in terms if t.strip()]
    if not patterns:
        return None
    # Longest first so that "acme air" wins over "acme" in the alternation.
    patterns.sort(key=len, reverse=True)
    return re.compile("|".join(patterns), re.IGNORECASE)


class Matcher:
    """Compiled `[watch]` terms; `match(text)` returns what the text is about."""

    def __init__(self, watch: WatchConfig) -> None:
        self.watch = watch
        self._subjects: list[tuple[str, re.Pattern[str]]] = []
        for subject, terms in self._subject_terms(watch):
            pattern = _compile(terms)
            if pattern is not None:
                self._subjects.append((subject, pattern))
        self._exclude = _compile(watch.exclude)
        self._accounts = {a.lower().lstrip("@") for a in watch.accounts}

    @staticmethod
    def _subject_terms(watch: WatchConfig) -> Iterable[tuple[str, Sequence[str]]]:
        yield "brand", watch.brand
        for name, terms in watch.competitors.items():
            yield f"competitor:{name}", terms
        for name, terms in watch.topics.items():
            yield f"topic:{name}", terms

    def match(self, text: str) -> list[str]:
        if self._exclude is not None:
            text = self._exclude.sub(" ", text)
        return [subject for subject, pattern in self._subjects if pattern.search(text)]

    def is_own_account(self, mention: Mention) -> bool:
        """True when the mention was written by one of the brand's own `accounts`."""
        author = mention.author
        if author is None or not self._accounts:
            return False
        return any(
            (value or "").lower().lstrip("@") in self._accounts
            for value in (author.handle, author.id)
        )

    def apply(self, mentions: Sequence[Mention]) -> None:
        for mention in mentions:
            mention.matches = self.match(mention.text)
