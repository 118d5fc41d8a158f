"""The registry skips the store's look-up of authors it knows the store does not hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sentineld.authors import KeyFilter
from sentineld.registry import InfluencerOptions, InfluencerRegistry, Tracking
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld.testing import make_mention
from sentineld.watch import Matcher

from .conftest import WATCH


def test_a_key_filter_finds_every_key_added_and_few_others() -> None:
    keys = KeyFilter(capacity=1 << 10)
    added = [f"bluesky:did:plc:{n}" for n in range(20_000)]  # five layers
    for key in added:
        keys.add(key)
    assert all(keys.may_hold(key) for key in added)
    others = sum(keys.may_hold(f"mastodon:{n}") for n in range(20_000))
    assert others < 5 * 0.03 * 20_000  # at most about 3 % per layer (2.4 % for an ideal filter)
    assert keys.size <= 2 * len(added)


def test_a_key_filter_capacity_is_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of two"):
        KeyFilter(capacity=1000)


class _Counting:
    """A store worker that counts the author keys the registry asks it for."""

    def __init__(self, worker: StoreWorker) -> None:
        self.worker = worker
        self.asked: list[str] = []

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "load_authors":
            self.asked.extend(args[0])
        return await self.worker.call(method, *args, **kwargs)


async def _track(tracking: Tracking, worker: StoreWorker, mentions: list[Any], batch: int) -> None:
    Matcher(WATCH).apply(mentions)
    stored = await worker.call("ingest", "src", mentions, None)
    for start in range(0, len(stored), batch):
        part = stored[start : start + batch]
        await tracking.before_scoring(part)
        await tracking.after_scoring(part)
    await tracking.flush()


async def test_first_time_authors_are_not_looked_up_and_stored_ones_are(tmp_path: Path) -> None:
    worker = StoreWorker(open_store(tmp_path))
    try:
        first = [make_mention("@acmeair hi", author=f"old{n}", minutes=n) for n in range(300)]
        await _track(Tracking(InfluencerRegistry(matcher=Matcher(WATCH)), worker), worker, first, 50)
        # A restart: the stored keys are read a few at a time while batches go on, and an
        # author stored before must never be taken for a new one (a fresh record would
        # overwrite their row).
        counting = _Counting(worker)
        registry = InfluencerRegistry(InfluencerOptions(hot_authors=20, flush_every=10), Matcher(WATCH))
        tracking = Tracking(registry, counting)  # type: ignore[arg-type]
        tracking.KEYS_PER_BATCH = 64  # type: ignore[misc]
        later = [
            make_mention("@acmeair again", author=f"old{n}" if n % 2 else f"new{n}", minutes=1000 + n)
            for n in range(300)
        ]
        await _track(tracking, worker, later, 20)
        assert registry.stored_keys_complete
        rows, _ = await worker.call("load_authors", [f"test:{kind}{n}" for kind in ("old", "new") for n in range(300)])
    finally:
        worker.close()
    mentions = {row[0]: row[10] for row in rows}
    assert mentions == {
        **{f"test:old{n}": 2 if n % 2 else 1 for n in range(300)},
        **{f"test:new{n}": 1 for n in range(0, 300, 2)},
    }
    asked = set(counting.asked)
    assert {f"test:old{n}" for n in range(1, 300, 2)} <= asked  # every stored author was loaded
    # Once the 300 stored keys were read (five batches of 20 mentions), new authors are asked
    # for only when the filter errs.
    late_new = {f"test:new{n}" for n in range(100, 300, 2)}
    assert len(late_new & asked) < 10
