"""volume_spike driven in-process on NAB's expanded mentions: the detector without the pipeline.

`bench/nab.py` measures the product (`sentineld replay`, 2.9 million mentions through the store,
the scorers and the alert manager, a few minutes). This module feeds the very same mentions (one
per expanded count, at the same event times) straight into a `VolumeSpike` and the real
`AlertManager`, with the event-time clock ticking every minute as the replay's does, in a few
seconds per series. `bench/nab_robustness.py` uses it to study how the score moves under
leave-one-out selection and perturbed series; `tests/bench` checks that it gives the product's
detections.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sentineld.alerting import AlertManager, TriggerAlertSink
from sentineld.components import ComponentContext
from sentineld.options import convert_options
from sentineld.watch import WatchConfig
from sentineld_plugins.triggers.volume_spike import VolumeSpike

ROW_SECONDS = 300
TICK_SECONDS = 60.0
#: What bench/nab.py's config sets on top of the detector's defaults.
BENCH_OPTIONS: dict[str, Any] = {"window": "5m", "per_channel": False}


@dataclass(slots=True)
class _Mention:
    """What `CountTrigger.add` reads of a mention: its id and, when it opens an alert, its time."""

    id: str
    moment: float

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.moment, UTC)


def build(options: dict[str, Any] | None = None) -> VolumeSpike:
    merged = {**BENCH_OPTIONS, **(options or {})}
    context = ComponentContext("buzz", "trigger", WatchConfig(brand=["acme"]), None)  # type: ignore[arg-type]
    return VolumeSpike(convert_options(merged, VolumeSpike.Options, "buzz"), context)


def expanded(times: Sequence[float], values: Sequence[int]) -> Callable[[], Any]:
    """The event times `bench/nab.py` gives each row's mentions: spread evenly over the row."""

    def moments() -> Any:
        for start, count in zip(times, values, strict=True):
            if count:
                step = ROW_SECONDS / count
                for k in range(count):
                    yield start + (k + 0.5) * step

    return moments


def opened_alerts(times: Sequence[float], values: Sequence[int],
                  options: dict[str, Any] | None = None) -> list[float]:
    """Event times at which volume_spike alerts opened on all channels, as `replay` reports."""
    trigger = build(options)
    sink = TriggerAlertSink("buzz", trigger.type_name)
    manager = AlertManager()
    opened: list[float] = []

    def apply(signals: list[Any]) -> None:
        for event in manager.apply(signals):
            if event.change and event.event == "opened" and event.alert.channel == "*":
                opened.append(event.alert.opened_at.timestamp())

    def ticks_until(moment: float) -> None:
        nonlocal next_tick
        while moment >= next_tick:
            apply(sink.take())
            _run(trigger.tick(datetime.fromtimestamp(next_tick, UTC), sink))
            apply(sink.take())
            for event in manager.tick(next_tick):
                if event.change and event.event == "opened" and event.alert.channel == "*":
                    opened.append(event.alert.opened_at.timestamp())
            next_tick += TICK_SECONDS

    add = trigger.add
    next_tick = math.inf
    index = 0
    for moment in expanded(times, values)():
        if next_tick == math.inf:
            next_tick = math.floor(moment / TICK_SECONDS) * TICK_SECONDS + TICK_SECONDS
        if moment >= next_tick:
            ticks_until(moment)
        add("brand", "*", _Mention(str(index), moment), moment, True, sink)
        if sink.signals:
            apply(sink.take())
        index += 1
    return sorted(opened)


def _run(coroutine: Any) -> None:
    """Drive a coroutine that never awaits anything (a trigger's tick) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("tick awaited something: run it in an event loop")
