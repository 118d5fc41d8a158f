"""Constructed streams for the count triggers, and a driver that runs one trigger the way the
pipeline does (mentions in event-time order, clock ticks between them, the real alert manager).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import numpy as np

from sentineld.alerting import AlertEvent, AlertManager, TriggerAlertSink
from sentineld.components import Trigger
from sentineld.model import Alert, Mention
from sentineld.testing import Harness, make_mention
from sentineld.watch import Matcher, WatchConfig

#: A Monday at midnight UTC: day-of-week and hour-of-day profiles start at their first slot.
START = datetime(2026, 11, 2, tzinfo=UTC)
WATCH = WatchConfig(brand=["acme", "@acme"], accounts=["acme"],
                    competitors={"rivaljet": ["rivaljet"]})
_matcher = Matcher(WATCH)


def daily_rhythm(hour: float, low: float, high: float) -> float:
    """A smooth day: `low` per window at 04:00 UTC, `high` at 16:00 UTC."""
    return low + (high - low) * (1 - math.cos(2 * math.pi * (hour - 4) / 24)) / 2


@dataclass
class Stream:
    """Mentions per window drawn from a rate function, plus hand-placed bursts."""

    window: timedelta = timedelta(minutes=5)
    seed: int = 7
    mentions: list[Mention] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.random = np.random.default_rng(self.seed)

    def add_windows(self, start: datetime, windows: int, rate: Callable[[datetime], float],
                    make: Callable[[datetime, int], Mention]) -> Stream:
        """Poisson(rate(window start)) mentions in each window, spread over it."""
        for index in range(windows):
            begin = start + index * self.window
            count = int(self.random.poisson(rate(begin)))
            self.add_burst(begin, count, make)
        return self

    def add_burst(self, start: datetime, count: int, make: Callable[[datetime, int], Mention],
                  over: timedelta | None = None) -> Stream:
        span = (over or self.window).total_seconds()
        for k in range(count):
            self.mentions.append(make(start + timedelta(seconds=(k + 0.5) * span / count), k))
        return self

    def sorted(self) -> list[Mention]:
        return sorted(self.mentions, key=lambda m: m.created_at)


def brand_mention(text: str = "flying @acme today", source: str = "bluesky",
                  labels: dict[str, str] | None = None) -> Callable[[datetime, int], Mention]:
    def make(at: datetime, k: int) -> Mention:
        mention = make_mention(text, at=at, source=source,
                               extra={"preset": {"labels": dict(labels or {})}})
        mention.labels = dict(labels or {})
        mention.matches = _matcher.match(text)
        return mention

    return make


def build_trigger(harness: Harness, trigger_id: str) -> Trigger:
    """The configured trigger, built exactly as the pipeline builds it."""
    config = harness.config()
    spec = config.components["trigger"][trigger_id]
    component = spec.build(config.context(spec))
    assert isinstance(component, Trigger)
    return component


@dataclass
class Run:
    """The alert changes (opened, updated, resolved) a run stored, as `replay` reports them."""

    events: list[AlertEvent] = field(default_factory=list)

    def record(self, events: list[AlertEvent]) -> None:
        self.events.extend(e for e in events if e.change)

    @property
    def opened(self) -> list[Alert]:
        return [e.alert for e in self.events if e.event == "opened"]

    @property
    def resolved(self) -> list[Alert]:
        return [e.alert for e in self.events if e.event == "resolved"]


async def drive(trigger: Trigger, mentions: Iterable[Mention], *, tick: float = 60.0,
                until: datetime | None = None, manager: AlertManager | None = None,
                run: Run | None = None, batch: int = 256) -> Run:
    """Feed `mentions` (sorted by event time) in batches, ticking the event-time clock on every
    `tick` boundary between them as the pipeline does, then tick on to `until`."""
    sink = TriggerAlertSink("t", trigger.type_name)
    manager = manager or AlertManager()
    run = run or Run()
    next_tick: float | None = None
    chunk: list[Mention] = []

    async def flush() -> None:
        if chunk:
            await trigger.observe(list(chunk), sink)
            chunk.clear()
            run.record(manager.apply(sink.take()))

    async def tick_to(moment: float) -> None:
        nonlocal next_tick
        if next_tick is None:
            next_tick = math.floor(moment / tick) * tick + tick
        while moment >= next_tick:
            await flush()
            await trigger.tick(datetime.fromtimestamp(next_tick, UTC), sink)
            run.record(manager.apply(sink.take()))
            run.record(manager.tick(next_tick))
            next_tick += tick

    for mention in mentions:
        await tick_to(mention.timestamp)
        chunk.append(mention)
        if len(chunk) >= batch:
            await flush()
    await flush()
    if until is not None:
        await tick_to(until.timestamp())
    return run


def roundtrip(state: Any) -> Any:
    """A checkpoint as the pipeline stores it: msgpack out and back."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(state))


def split_at(mentions: Sequence[Mention], moment: datetime) -> tuple[list[Mention], list[Mention]]:
    before = [m for m in mentions if m.created_at < moment]
    return before, [m for m in mentions if m.created_at >= moment]
