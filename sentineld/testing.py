"""Test kit for plugin authors (pytest's `pytester`, for sentineld).

Run a component against the real core — the real config validation, the real pipeline and a
real SQLite store in a temporary directory — without installing the plugin: hand its module to
the `Harness`. Use it from pytest with ``pytest_plugins = ["sentineld.testing"]`` in your
``conftest.py`` and the `sentineld_harness` fixture, or build a `Harness` yourself::

    async def test_my_trigger(sentineld_harness):
        harness = sentineld_harness.with_plugins(my_plugin_module)
        harness.configure(triggers={"t": {"type": "my_trigger", "threshold": 3}})
        result = await harness.replay([make_mention("acme is down", minutes=i) for i in range(5)])
        assert [a.kind for a in result.opened] == ["my_trigger"]
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import tomli_w

from sentineld.alerting import AlertEvent, AlertManager, TriggerAlertSink
from sentineld.components import Notification
from sentineld.config import Config, load_config
from sentineld.model import Alert, Author, Mention, Metrics, encode_mention
from sentineld.replay import ReplaySummary, replay
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld.supervisor import Guard

__all__ = ["Harness", "ReplayResult", "make_alert", "make_mention", "sentineld_harness"]

EPOCH = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def make_mention(
    text: str = "@acme my bag is lost",
    *,
    id: str | None = None,
    source: str = "test",
    at: datetime | None = None,
    minutes: float = 0.0,
    author: str | Author | None = "jo",
    followers: int | None = None,
    metrics: Metrics | None = None,
    **fields: Any,
) -> Mention:
    """A valid Mention with sensible defaults; `minutes` offsets `at` (default a fixed epoch)."""
    moment = (at or EPOCH) + timedelta(minutes=minutes)
    if isinstance(author, str):
        author = Author(id=author, handle=author, followers=followers)
    return Mention(
        id=id or f"{source}:{next(_ids)}",
        source=source,
        created_at=moment,
        text=text,
        author=author,
        metrics=metrics,
        **fields,
    )


def make_alert(kind: str = "volume_spike", *, subject: str = "brand", channel: str = "*",
               severity: str = "high", summary: str = "a test alert", **fields: Any) -> Alert:
    """A valid Alert, for notifier tests."""
    return Alert(
        id=fields.pop("id", f"test-{next(_ids)}"),
        kind=kind,
        severity=severity,  # type: ignore[arg-type]
        subject=subject,
        channel=channel,
        opened_at=fields.pop("opened_at", EPOCH),
        summary=summary,
        **fields,
    )


@dataclass(slots=True)
class ReplayResult:
    summary: ReplaySummary
    events: list[AlertEvent] = field(default_factory=list)

    @property
    def opened(self) -> list[Alert]:
        return [e.alert for e in self.events if e.event == "opened"]

    @property
    def resolved(self) -> list[Alert]:
        return [e.alert for e in self.events if e.event == "resolved"]


class Harness:
    """A sentineld core in a temporary directory, configured from Python dicts."""

    def __init__(self, directory: Path, plugins: Sequence[ModuleType | object] = ()) -> None:
        self.directory = directory
        self.plugins = tuple(plugins)
        self.tables: dict[str, Any] = {"sentineld": {"state_dir": str(directory / "state")},
                                       "watch": {"brand": ["acme", "@acme"], "accounts": ["acme"]}}

    def with_plugins(self, *plugins: ModuleType | object) -> Harness:
        """Register plugin modules (or objects with hookimpls) as if they were installed."""
        self.plugins = (*self.plugins, *plugins)
        return self

    def configure(self, **tables: Any) -> Harness:
        """Set top-level tables: ``configure(watch={...}, triggers={"t": {"type": ...}})``."""
        for name, value in tables.items():
            if isinstance(value, dict) and isinstance(self.tables.get(name), dict):
                self.tables[name] = {**self.tables[name], **value}
            else:
                self.tables[name] = value
        return self

    @property
    def config_text(self) -> str:
        return tomli_w.dumps(self.tables)

    def config(self) -> Config:
        """Validate the configuration exactly as `sentineld check` would."""
        path = self.directory / "sentineld.toml"
        path.write_text(self.config_text)
        return load_config(path, extra_plugins=self.plugins)

    def write_jsonl(self, mentions: Iterable[Mention], name: str = "mentions.jsonl") -> Path:
        path = self.directory / name
        with path.open("wb") as handle:
            for mention in mentions:
                handle.write(encode_mention(mention) + b"\n")
        return path

    async def replay(
        self, mentions: Iterable[Mention], *, notify: bool = False, keep_state: bool = False
    ) -> ReplayResult:
        """Push mentions through the whole pipeline (matching, scorers, triggers, alerts)."""
        config = self.config()
        path = self.write_jsonl(mentions)
        result = ReplayResult(ReplaySummary([]))
        result.summary = await replay(
            config,
            [str(path)],
            on_alert=result.events.append,
            notify=notify,
            state_dir=config.state_dir if keep_state else None,
        )
        return result

    async def score(self, mentions: Sequence[Mention]) -> list[Mention]:
        """Run the configured scorers (after matching) over the mentions, as the score stage does."""
        from sentineld.watch import Matcher

        config = self.config()
        Matcher(config.watch).apply(mentions)
        for spec in config.of_kind("scorer").values():
            guard = Guard(spec, config)
            await guard.start()
            ok, _ = await guard.call("score", mentions, mentions=mentions)
            await guard.stop()
            if not ok:
                raise AssertionError(f"scorer {spec.id} failed: {guard.stats.last_error}")
        return list(mentions)

    async def trigger(
        self, trigger_id: str, mentions: Sequence[Mention], *, ticks: Sequence[datetime] = ()
    ) -> list[AlertEvent]:
        """Feed one configured trigger directly (observe, then each tick) and return the alert
        events the core's alert manager derives from what it signals."""
        config = self.config()
        spec = config.components["trigger"][trigger_id]
        guard = Guard(spec, config)
        sink = TriggerAlertSink(spec.id, spec.type_name)
        manager = AlertManager()
        await guard.start()
        ok, _ = await guard.call("observe", mentions, sink, mentions=mentions)
        events = manager.apply(sink.take())
        for moment in ticks:
            ok = ok and (await guard.call("tick", moment, sink))[0]
            events += manager.apply(sink.take())
        await guard.stop()
        if not ok:
            raise AssertionError(f"trigger {trigger_id} failed: {guard.stats.last_error}")
        return events

    async def notify(
        self, notifier_id: str, alert: Alert, event: str = "opened", meta: dict[str, Any] | None = None
    ) -> Notification:
        """Deliver one notification through a configured notifier (no retries)."""
        config = self.config()
        spec = config.components["notifier"][notifier_id]
        guard = Guard(spec, config)
        await guard.start()
        notification = Notification(
            key=f"{alert.id}:{event}:{notifier_id}", event=event, alert=alert, meta=dict(meta or {})
        )
        try:
            await guard.component.notify(notification)  # type: ignore[attr-defined]
        finally:
            await guard.stop()
        return notification

    async def run_source(
        self, source_id: str, *, until: int, timeout: float = 10.0
    ) -> list[Mention]:
        """Run one configured source in the live pipeline until `until` mentions are stored
        (or `timeout` seconds pass), then stop cleanly; returns what the store holds."""
        config = self.config()
        from sentineld.pipeline import Pipeline

        worker = StoreWorker(open_store(config.state_dir))
        try:
            sources = [Guard(config.components["source"][source_id], config)]
            pipeline = Pipeline(config, worker, live=True, notify=False, sources=sources)
            await pipeline.start()
            deadline = time.monotonic() + timeout
            while pipeline.stats.stored < until and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await pipeline.stop()
            rows = await worker.call("recent_mentions", limit=max(until * 2, 100))
        finally:
            worker.close()
        return [mention for _, mention in reversed(rows)]


try:
    import pytest
except ImportError:  # pragma: no cover - the kit also works without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def sentineld_harness(tmp_path: Path) -> Harness:
        """A `Harness` in the test's temporary directory."""
        return Harness(tmp_path)
