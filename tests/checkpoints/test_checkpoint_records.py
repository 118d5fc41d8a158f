"""`checkpoint_records` bounds the influencer records that wait in memory for a checkpoint
(decision 0042): when that many have changed, the score stage places a barrier before
`checkpoint_interval` says so, and every record still reaches the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sentineld.pipeline import GROUP_MENTIONS
from sentineld.registry import AuthorWrite, Tracking
from sentineld.replay import replay
from sentineld.store import open_store
from sentineld.testing import Harness, make_mention

AUTHORS = 12_000


def new_authors(core: Harness) -> Path:
    """One mention from each of `AUTHORS` authors: every one a new, hence changed, record."""
    return core.write_jsonl([make_mention(f"acme {i}", minutes=i / 60, author=f"a{i}") for i in range(AUTHORS)])


async def replay_taking_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **daemon: Any) -> tuple[list[int], Any]:
    """Replay the stream; the rows each checkpoint barrier took from the registry, in order."""
    taken: list[int] = []
    at_barrier = Tracking.at_barrier

    def counting(self: Tracking) -> AuthorWrite | None:
        write = at_barrier(self)
        taken.append(0 if write is None else len(write.rows))
        return write

    monkeypatch.setattr(Tracking, "at_barrier", counting)
    core = Harness(tmp_path).configure(sentineld={"checkpoint_interval": "1h", "batch_size": 100, **daemon},
                                       watch={"brand": ["acme"]})
    seen: dict[str, Any] = {}
    await replay(core.config(), [str(new_authors(core))], state_dir=tmp_path / "state",
                 watch=lambda p: seen.update(pipeline=p))
    return taken, seen["pipeline"]


async def test_changed_records_ask_for_a_checkpoint_before_the_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken, pipeline = await replay_taking_rows(tmp_path, monkeypatch, checkpoint_records=1_000)
    # The stage looks after each group of batches it scores: at most a group past the budget.
    assert max(taken) <= 1_000 + GROUP_MENTIONS
    assert sum(taken) == AUTHORS
    assert len(taken) >= AUTHORS // (1_000 + GROUP_MENTIONS) + 1
    assert pipeline.stats.checkpoints == len(taken)
    store = open_store(tmp_path / "state")
    try:
        assert store.count_authors() == AUTHORS
        assert store.load_checkpoint("pipeline")[0] == AUTHORS
    finally:
        store.close()


@pytest.mark.parametrize("budget", [{"checkpoint_records": AUTHORS + 1}, {}], ids=["within", "default"])
async def test_within_the_budget_or_without_one_only_the_interval_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: dict[str, int]
) -> None:
    taken, pipeline = await replay_taking_rows(tmp_path, monkeypatch, **budget)
    assert taken == [AUTHORS]  # the final checkpoint alone: an hour apart by the clock
    assert pipeline.stats.checkpoints == 1
