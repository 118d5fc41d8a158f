"""A component asks for a checkpoint sooner than `checkpoint_interval` through its context
(`ComponentContext.request_checkpoint`, decision 0130): the pipeline places a barrier after the
batches it is scoring, and the component's state is stored with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentineld import Trigger, hookimpl
from sentineld.replay import replay
from sentineld.store import open_store
from sentineld.testing import Harness, make_mention


class CountingTrigger(Trigger):
    """Counts mentions; asks for a checkpoint each time another 2,000 have come."""

    type_name = "counting"

    def __init__(self, options: Any, context: Any) -> None:
        super().__init__(options, context)
        self.seen = 0

    async def observe(self, mentions: Any, alerts: Any) -> None:
        before, self.seen = self.seen, self.seen + len(mentions)
        if self.seen // 2000 > before // 2000 and self.context.request_checkpoint is not None:
            self.context.request_checkpoint("another 2,000 mentions counted")

    async def tick(self, now: Any, alerts: Any) -> None:
        return None

    def snapshot(self) -> Any:
        return {"seen": self.seen}

    def restore(self, state: Any) -> None:
        self.seen = state["seen"]


class CountingPlugin:
    @hookimpl
    def register_triggers(self, register: Any) -> None:
        register(CountingTrigger)


async def test_a_trigger_asks_for_checkpoints_and_gets_them(tmp_path: Path) -> None:
    core = Harness(tmp_path).with_plugins(CountingPlugin()).configure(
        sentineld={"checkpoint_interval": "1h", "batch_size": 100},
        watch={"brand": ["acme"]},
        triggers={"count": {"type": "counting"}},
    )
    path = core.write_jsonl([make_mention(f"acme {i}", minutes=i) for i in range(10_000)])
    seen: dict[str, Any] = {}
    await replay(core.config(), [str(path)], state_dir=tmp_path / "state", watch=lambda p: seen.update(pipeline=p))
    # An hour apart by the clock, a replay of seconds would store one checkpoint, at its end.
    # A trigger's request is placed by the score stage after the next group of batches it
    # scores (up to 4,096 mentions): at least every other request gets a checkpoint of its own.
    assert seen["pipeline"].stats.checkpoints >= 3
    store = open_store(tmp_path / "state")
    try:
        assert store.load_checkpoint("pipeline") is not None
    finally:
        store.close()
