"""Influence scores do not depend on where the stream's batches end: each mention is scored
against its author as the stream had shown them up to that mention, as live and as in replay."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sentineld.model import Author, Mention, Metrics
from sentineld.registry import InfluencerRegistry, Tracking
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld.testing import make_mention
from sentineld.watch import Matcher
from sentineld_plugins.scorers.influence import InfluenceOptions, InfluenceScorer

from .conftest import WATCH, context


def stream() -> list[Mention]:
    """Authors who come back within a few mentions with a new follower count, replies and
    reshares that credit an author seen a moment before, and the brand's own account."""
    rng = random.Random(11)
    mentions: list[Mention] = []
    for i in range(600):
        n = rng.randrange(40)
        handle = "acmeair" if n == 0 else f"fan{n}.example"
        author = Author(id=handle, handle=handle, followers=50 * n + 10 * i, following=100 + n, posts=400 + i)
        parent = {}
        if mentions and rng.random() < 0.4:
            key = "reshare_of" if rng.random() < 0.5 else "in_reply_to"
            parent[key] = rng.choice(mentions[-8:]).id
        mentions.append(make_mention(f"@acmeair flight {i} was {rng.choice(['late', 'fine', 'loud'])}",
                                     id=f"test:{i}", author=author, minutes=i * 0.1,
                                     metrics=Metrics(likes=rng.randrange(6), reshares=rng.randrange(3)),
                                     **parent))
    return mentions


async def scores_in_batches(tmp_path: Path, batch: int) -> list[dict[str, float]]:
    worker = StoreWorker(open_store(tmp_path / f"batches-{batch}"))
    try:
        registry = InfluencerRegistry(matcher=Matcher(WATCH))
        tracking = Tracking(registry, worker)
        await tracking.start()
        # 40 authors: the audience is counted grown at its 20th, inside a batch (decision 0238).
        scorer = InfluenceScorer(InfluenceOptions(min_audience=20), context(influencers=registry))
        mentions = stream()
        Matcher(WATCH).apply(mentions)
        stored = await worker.call("ingest", "src", mentions, None)
        for start in range(0, len(stored), batch):
            part = stored[start : start + batch]
            await tracking.before_scoring(part)
            await scorer.score([m for _, m in part])
            await tracking.after_scoring(part)
    finally:
        worker.close()
    return [dict(m.scores) for m in mentions]


@pytest.mark.parametrize("batch", [7, 64, 512])
async def test_scores_equal_those_of_one_mention_at_a_time(tmp_path: Path, batch: int) -> None:
    one_by_one = await scores_in_batches(tmp_path, 1)
    batched = await scores_in_batches(tmp_path, batch)
    assert batched == one_by_one
    assert len({s["connector"] for s in one_by_one}) > 100  # the scores do move along the stream
