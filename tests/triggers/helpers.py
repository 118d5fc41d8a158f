"""Constructed mentions with the scores the scoring stage would give them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sentineld.model import Mention
from sentineld.testing import EPOCH, make_mention
from sentineld.watch import Matcher, WatchConfig

WATCH = WatchConfig(brand=["acme", "@acme"], accounts=["acme"])
_matcher = Matcher(WATCH)


def scored(text: str, *, minutes: float = 0.0, author: str = "jo", source: str = "bluesky",
           scores: dict[str, float] | None = None, labels: dict[str, str] | None = None,
           at: datetime | None = None, **fields: Any) -> Mention:
    """A mention as the triggers see it: matched, with `scores` and `labels` set — and the same
    under ``extra["preset"]``, so that it keeps them through the pipeline (see conftest)."""
    scores, labels = dict(scores or {}), dict(labels or {})
    mention = make_mention(text, minutes=minutes, author=author, source=source, at=at or EPOCH,
                           extra={"preset": {"scores": scores, "labels": labels}}, **fields)
    mention.scores, mention.labels = scores, labels
    mention.matches = _matcher.match(text)
    return mention
