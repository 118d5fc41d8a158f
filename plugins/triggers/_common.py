"""Small pieces the built-in triggers share: which watched subject a mention is about, a short
excerpt for summaries, and tail probabilities for the evidence."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["excerpt", "poisson_tail", "watched_subject"]


def watched_subject(matches: Sequence[str], subjects: Sequence[str]) -> str | None:
    """The first of `matches` the trigger watches (`subjects` holds names, or "*" for all)."""
    if not matches:
        return None
    if "*" in subjects:
        return matches[0]
    for subject in matches:
        if subject in subjects:
            return subject
    return None


def excerpt(text: str, limit: int = 120) -> str:
    """`text` on one line, whitespace runs made one space, cut to `limit` characters with "…"."""
    if len(text) > limit > 0:
        # Only the first `limit` characters can show. When they are already flat (printable, so
        # their only whitespace is the ASCII space; no run of spaces; no leading space) and a
        # word follows them, the flattened text starts with them and is longer than `limit`:
        # a long e-mail is not checked and flattened as a whole for its first line.
        head = text[:limit]
        if head.isprintable() and "  " not in head and head[:1] != " " and not text[limit:].isspace():
            return head[: limit - 1].rstrip() + "…"
    # A printable text's only whitespace is the ASCII space: already flat unless spaces pile up
    # or pad it, which spares splitting and joining most short posts.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        flat = text
    else:
        flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def poisson_tail(observed: int, expected: float) -> float:
    """P(X ≥ observed) for X ~ Poisson(expected): how surprising a count is under the baseline."""
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    log_rate = math.log(expected)
    if observed <= expected:
        below = sum(math.exp(k * log_rate - expected - math.lgamma(k + 1)) for k in range(observed))
        return max(0.0, 1.0 - below)
    # Above the mean the terms fall fast: sum them in log space until they stop mattering.
    log_term = observed * log_rate - expected - math.lgamma(observed + 1)
    total, k = 0.0, observed
    while log_term > -745 and k < observed + 10_000:
        total += math.exp(log_term)
        k += 1
        log_term += log_rate - math.log(k)
    return min(1.0, total)
