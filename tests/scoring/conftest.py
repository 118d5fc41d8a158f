"""Fixtures for the scoring and tracking tests: scorers built as the host builds them, and a
stream of authors shaped like a brand's audience."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sentineld.components import ComponentContext
from sentineld.model import Author, Mention, Metrics
from sentineld.testing import EPOCH, make_mention
from sentineld.watch import Matcher, WatchConfig

WATCH = WatchConfig(brand=["acmeair", "@acmeair", "#acmeair"], accounts=["acmeair"])


def context(watch: WatchConfig = WATCH, influencers: Any = None) -> ComponentContext:
    return ComponentContext("test", "scorer", watch, Path("."), influencers=influencers)


async def score(mentions: list[Mention], *scorers: Any, watch: WatchConfig = WATCH, batch: int = 64) -> None:
    """Match and score `mentions` in stream order, `batch` at a time, as the pipeline does."""
    matcher = Matcher(watch)
    for start in range(0, len(mentions), batch):
        part = mentions[start : start + batch]
        matcher.apply(part)
        for scorer in scorers:
            await scorer.score(part)


def audience(count: int, *, seed: int = 5, start_minutes: float = 0.0) -> list[Mention]:
    """`count` ordinary authors, one on-topic mention each: log-normal followers around a few
    hundred, following of the same order, a few likes at most."""
    rng = random.Random(seed)
    mentions = []
    for i in range(count):
        followers = int(10 ** rng.gauss(2.5, 0.6))
        author = Author(
            id=f"fan{i}", handle=f"fan{i}.example", followers=followers,
            following=int(followers * rng.uniform(0.5, 1.5)), posts=rng.randint(200, 8000),
            created_at=EPOCH - timedelta(days=rng.randint(200, 3000)),
        )
        mentions.append(
            make_mention(
                f"@acmeair flight {i} {rng.choice(['was fine', 'ran late', 'had wifi', 'lost a bag'])}",
                author=author, minutes=start_minutes + i * 0.5, metrics=Metrics(likes=rng.randint(0, 3)),
            )
        )
    return mentions


@pytest.fixture
def watch() -> WatchConfig:
    return WATCH
