"""A plugin that raises, hangs or keeps failing is isolated: logged, counted, the stream goes on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sentineld import Mention, Scorer, Trigger, hookimpl
from sentineld.testing import Harness, make_mention


class Faulty:
    """Plugin registering scorers and a trigger that misbehave on purpose."""

    class RaisingScorer(Scorer):
        type_name = "raising"

        async def score(self, mentions: Sequence[Mention]) -> None:
            if any("boom" in m.text for m in mentions):
                raise RuntimeError("scorer exploded")
            for m in mentions:
                m.scores["raising_ok"] = 1.0

    class HangingScorer(Scorer):
        type_name = "hanging"

        async def score(self, mentions: Sequence[Mention]) -> None:
            if any("hang" in m.text for m in mentions):
                await asyncio.sleep(3600)

    class BlockingScorer(Scorer):
        """A synchronous scorer that blocks the thread: run in a worker thread, timed out."""

        type_name = "blocking"

        def score(self, mentions: Sequence[Mention]) -> None:  # type: ignore[override]
            if any("block" in m.text for m in mentions):
                time.sleep(2)
            for m in mentions:
                m.scores["blocking_ok"] = 1.0

    class AlwaysFailing(Scorer):
        type_name = "always_failing"
        built = 0

        def __init__(self, options: Any, context: Any) -> None:
            super().__init__(options, context)
            type(self).built += 1

        async def score(self, mentions: Sequence[Mention]) -> None:
            raise ValueError("never works")

    class CountingTrigger(Trigger):
        type_name = "counting"

        async def observe(self, mentions: Sequence[Mention], alerts: Any) -> None:
            for m in mentions:
                alerts.fire(subject="brand", channel="*", at=m.created_at, summary="seen",
                            mentions=[m.id])

    @hookimpl
    def register_scorers(self, register: Any) -> None:
        for cls in (self.RaisingScorer, self.HangingScorer, self.BlockingScorer, self.AlwaysFailing):
            register(cls)

    @hookimpl
    def register_triggers(self, register: Any) -> None:
        register(self.CountingTrigger)


def alerted_mentions(harness: Harness) -> list[str]:
    """The mention ids on the (one) stored alert: what reached the trigger."""
    from sentineld.store import open_store

    store = open_store(harness.config().state_dir)
    try:
        (alert,) = store.alerts()
        return alert.mentions
    finally:
        store.close()


def batch_of_one(harness: Harness) -> Harness:
    """One mention per batch, so that a failure hits exactly one mention."""
    return harness.configure(sentineld={"batch_size": 1})


async def test_scorer_that_raises_is_logged_with_ids_and_the_mention_goes_on(
    sentineld_harness: Harness,
) -> None:
    from structlog.testing import capture_logs

    harness = sentineld_harness.with_plugins(Faulty())
    harness.configure(scorers={"bad": {"type": "raising"}}, triggers={"c": {"type": "counting"}})
    mentions = [make_mention("@acme fine", id="t:1"), make_mention("@acme boom", id="t:2", minutes=1),
                make_mention("@acme fine again", id="t:3", minutes=2)]
    harness.write_jsonl(mentions)
    from sentineld.replay import replay

    config = harness.config()
    with capture_logs() as logs:
        summary = await replay(config, [str(harness.directory / "mentions.jsonl")], state_dir=config.state_dir)
    assert summary.stored == 3
    assert alerted_mentions(harness) == ["t:1", "t:2", "t:3"]  # every mention reached the trigger
    failures = [e for e in logs if e["event"] == "component call failed"]
    assert len(failures) == 1
    assert failures[0]["component"] == "bad" and "scorer exploded" in failures[0]["error"]
    assert failures[0]["mention_ids"] == ["t:1", "t:2", "t:3"]


async def test_scorer_that_hangs_is_timed_out(sentineld_harness: Harness) -> None:
    harness = sentineld_harness.with_plugins(Faulty())
    harness.configure(scorers={"slow": {"type": "hanging", "timeout": "200ms"}},
                      triggers={"c": {"type": "counting"}})
    mentions = [make_mention("@acme hang", id="t:1"), make_mention("@acme fine", id="t:2", minutes=1)]
    started = time.monotonic()
    result = await harness.replay(mentions, keep_state=True)
    assert time.monotonic() - started < 10
    assert result.summary.stored == 2 and alerted_mentions(harness) == ["t:1", "t:2"]


async def test_blocking_sync_scorer_runs_in_a_thread_and_is_timed_out(sentineld_harness: Harness) -> None:
    harness = batch_of_one(sentineld_harness.with_plugins(Faulty()))
    harness.configure(scorers={"sync": {"type": "blocking", "timeout": "300ms"}})
    mentions = [make_mention("@acme block", id="t:1"), make_mention("@acme fine", id="t:2")]
    scored = await harness.replay(mentions, keep_state=True)
    assert scored.summary.stored == 2
    from sentineld.store import open_store

    store = open_store(harness.config().state_dir)
    try:
        assert store.mention("t:2").scores == {"blocking_ok": 1.0}
        assert store.mention("t:1").scores == {}
    finally:
        store.close()


async def test_component_that_keeps_failing_is_benched_then_rebuilt(
    sentineld_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentineld import supervisor

    monkeypatch.setattr(supervisor, "FIRST_BACKOFF", 0.01)
    Faulty.AlwaysFailing.built = 0
    harness = batch_of_one(sentineld_harness.with_plugins(Faulty()))
    harness.configure(scorers={"broken": {"type": "always_failing"}}, triggers={"c": {"type": "counting"}})
    mentions = [make_mention(f"@acme {i}", minutes=i) for i in range(40)]
    config = harness.config()
    from sentineld.supervisor import Guard

    # The guard's clock, moved by hand: a 10 ms bench could end before it was looked at.
    now = [1000.0]
    monkeypatch.setattr(supervisor, "time", SimpleNamespace(monotonic=lambda: now[0]))
    guard = Guard(config.components["scorer"]["broken"], config)
    for mention in mentions[:5]:
        assert await guard.call("score", [mention]) == (False, None)
    assert not guard.available
    now[0] += 0.01
    await guard.call("score", [mentions[5]])
    assert guard.stats.restarts == 1 and Faulty.AlwaysFailing.built == 2
    monkeypatch.setattr(supervisor, "time", time)
    result = await harness.replay(mentions, keep_state=True)
    assert result.summary.stored == 40 and len(alerted_mentions(harness)) == 40


async def test_a_core_bug_on_one_item_does_not_stop_the_stream(
    sentineld_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure outside any plugin (here: the matcher, on one mention) is logged, that batch
    goes on unfinished (unmatched) to the triggers, later mentions are processed as usual, and
    the replay ends."""
    from structlog.testing import capture_logs

    from sentineld.watch import Matcher

    real_apply = Matcher.apply

    def flaky_apply(self: Matcher, mentions: Any) -> None:
        if any("poison" in m.text for m in mentions):
            raise RuntimeError("matcher bug")
        real_apply(self, mentions)

    monkeypatch.setattr(Matcher, "apply", flaky_apply)
    harness = sentineld_harness.with_plugins(Faulty()).configure(
        sentineld={"batch_size": 1}, triggers={"c": {"type": "counting"}})
    mentions = [make_mention("@acme poison", id="t:1"), make_mention("@acme fine", id="t:2", minutes=1)]
    with capture_logs() as logs:
        result = await harness.replay(mentions, keep_state=True)
    assert result.summary.stored == 2
    assert alerted_mentions(harness) == ["t:1", "t:2"]
    failed = [e for e in logs if e["event"] == "stage failed on an item; it goes on unfinished"]
    assert failed and failed[0]["stage"] == "score" and failed[0]["mention_ids"] == ["t:1"]


async def test_a_mention_the_store_cannot_encode_is_left_out_alone(tmp_path: Path) -> None:
    """A batch the store rejects for a reason retrying cannot cure is stored one by one: only
    the culprit is left out, and the cursor is committed."""
    from sentineld.config import load_config
    from sentineld.pipeline import Pipeline, _IngestBatch
    from sentineld.store import open_store
    from sentineld.store.worker import StoreWorker

    config = load_config(text=f'[sentineld]\nstate_dir = "{tmp_path}"\n')
    worker = StoreWorker(open_store(tmp_path))
    pipeline = Pipeline(config, worker, live=False, notify=False, sources=[])
    await pipeline.start()
    bad = make_mention("@acme x", id="t:bad")
    bad.extra = {"unencodable": object()}
    stored = asyncio.get_running_loop().create_future()
    batch = [make_mention("@acme ok", id="t:1"), bad, make_mention("@acme ok", id="t:3")]
    await pipeline.ingest_queue.put(_IngestBatch("s", batch, "cursor-3", stored))
    assert await asyncio.wait_for(stored, timeout=10) == 2
    await pipeline.stop()
    assert worker.store.cursor("s") == "cursor-3"
    assert worker.store.mention("t:1") and worker.store.mention("t:3") and worker.store.mention("t:bad") is None
    worker.close()


class Stepping(Scorer):
    """A scorer whose `score` works for `busy` seconds, then waits `wait` seconds (when not
    None), then returns `result` or raises `error`; `finished` says whether its body ran to the
    end or was cut off (its ``finally``)."""

    type_name = "stepping"

    def __init__(self, options: Any, context: Any) -> None:
        super().__init__(options, context)
        self.busy = 0.0
        self.wait: float | None = None
        self.result: Any = None
        self.error: Exception | None = None
        self.cut_off = False

    async def score(self, mentions: Sequence[Mention]) -> Any:  # type: ignore[override]
        try:
            time.sleep(self.busy)
            if self.wait is not None:
                await asyncio.sleep(self.wait)
            if self.error is not None:
                raise self.error
            return self.result
        except BaseException:
            self.cut_off = True
            raise


class SteppingPlugin:
    @hookimpl
    def register_scorers(self, register: Any) -> None:
        register(Stepping)


def stepping_guard(harness: Harness, timeout: str = "5s") -> Any:
    from sentineld.supervisor import Guard

    harness = harness.with_plugins(SteppingPlugin())
    harness.configure(scorers={"step": {"type": "stepping", "timeout": timeout}})
    config = harness.config()
    return Guard(config.components["scorer"]["step"], config)


async def test_a_call_that_never_waits_sets_no_timer(
    sentineld_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentineld import supervisor

    guard = stepping_guard(sentineld_harness)
    guard.component.result = 42

    def no_timer(*args: Any) -> Any:
        raise AssertionError("a timer was set")

    monkeypatch.setattr(supervisor.asyncio, "timeout", no_timer)
    monkeypatch.setattr(supervisor.asyncio, "timeout_at", no_timer)
    assert await guard.call("score", []) == (True, 42)
    guard.component.error = ValueError("bad")
    assert await guard.call("score", []) == (False, None)
    assert guard.stats.errors == 1 and guard.stats.calls == 2


async def test_a_call_that_waits_after_its_first_step_returns_or_fails_as_awaited(
    sentineld_harness: Harness,
) -> None:
    guard = stepping_guard(sentineld_harness)
    component = guard.component
    component.wait, component.result = 0.01, {"a": 1}
    assert await guard.call("score", []) == (True, {"a": 1})
    component.error = KeyError("late")
    assert await guard.call("score", []) == (False, None)
    assert guard.stats.errors == 1 and guard.stats.last_error == "KeyError: 'late'"


async def test_the_time_a_call_works_before_it_waits_counts_toward_its_timeout(
    sentineld_harness: Harness,
) -> None:
    guard = stepping_guard(sentineld_harness, timeout="200ms")
    component = guard.component
    component.busy, component.wait = 0.15, 0.15  # each alone within the limit, together over it
    started = time.monotonic()
    assert await guard.call("score", []) == (False, None)
    assert guard.stats.timeouts == 1 and component.cut_off
    assert time.monotonic() - started < 0.29


async def test_cancelling_a_waiting_call_cancels_the_plugin(sentineld_harness: Harness) -> None:
    guard = stepping_guard(sentineld_harness)
    guard.component.wait = 3600
    call = asyncio.ensure_future(guard.call("score", []))
    await asyncio.sleep(0.01)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert guard.component.cut_off and guard.stats.timeouts == 0 and guard.stats.errors == 0
