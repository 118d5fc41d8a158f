"""volume_spike driven in-process on NAB's expanded mentions: the detector without the pipeline.

`bench/nab.py` measures the product (`sentineld replay`, 2.9 million mentions through the store,
the scorers and the alert manager, a few minutes). This module feeds the very same mentions (one
per expanded count, at the same event times) straight into a `VolumeSpike` and the real
`AlertManager`, with the event-time clock ticking every minute as the replay's does, in a few
seconds per series. `bench/nab_robustness.py` uses it to study how the score moves under
leave-one-out selection and perturbed series; `tests/bench` checks that it gives the product's
detections.

    .venv/bin/python bench/nab_inprocess.py [--shift HOURS] [--set key=value ...]

lists, per file, each labelled window with the first detection in it (rows after the window
opens, its NAB value) and each false alarm, with the evidence of the alert when it opened
(observed and expected counts, factor, tail probability, rule): what to look at before changing
the detector (docs/decisions/0208).
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
    return sorted(moment for moment, _ in opened_with_evidence(times, values, options))


def opened_with_evidence(times: Sequence[float], values: Sequence[int],
                         options: dict[str, Any] | None = None
                         ) -> list[tuple[float, dict[str, Any]]]:
    """Each alert opened on all channels: its event time and the evidence it opened with."""
    trigger = build(options)
    sink = TriggerAlertSink("buzz", trigger.type_name)
    manager = AlertManager()
    opened: list[tuple[float, dict[str, Any]]] = []

    def record(events: Any) -> None:
        for event in events:
            if event.change and event.event == "opened" and event.alert.channel == "*":
                opened.append((event.alert.opened_at.timestamp(), dict(event.alert.evidence)))

    def apply(signals: list[Any]) -> None:
        record(manager.apply(signals))

    def ticks_until(moment: float) -> None:
        nonlocal next_tick
        while moment >= next_tick:
            apply(sink.take())
            _run(trigger.tick(datetime.fromtimestamp(next_tick, UTC), sink))
            apply(sink.take())
            record(manager.tick(next_tick))
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
    return sorted(opened, key=lambda item: item[0])


def _run(coroutine: Any) -> None:
    """Drive a coroutine that never awaits anything (a trigger's tick) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("tick awaited something: run it in an event loop")


def describe(series: Any, moment: float, evidence: dict[str, Any]) -> str:
    """One opened alert: its row, whether it found a window (and how early) or was a false alarm,
    and what it saw."""
    from nab import detection_rows
    from nab_scoring import scaled_sigmoid

    rows = detection_rows(series, [moment])
    if not rows:
        return f"  {_clock(moment)}  outside the file's rows"
    row = rows[0]
    window = next((w for w in series.windows if w.first <= row <= w.last), None)
    if window is not None:
        value = scaled_sigmoid(-(window.last - row + 1) / window.width) / scaled_sigmoid(-1.0)
        where = f"window {window.first}: row +{row - window.first} of {window.width}, worth {value:.2f}"
    else:
        before = [w for w in series.windows if w.last < row]
        where = "FALSE ALARM" + (f", {row - before[-1].last} rows after a window" if before else "")
    return (f"  row {row:5} {_clock(moment)}  {evidence.get('observed')} vs "
            f"{evidence.get('expected')} ({evidence.get('factor')}x, p = "
            f"{evidence.get('p_value', float('nan')):.1e}, dispersion {evidence.get('dispersion')}, "
            f"{evidence.get('rule')})  {where}")


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%a %m-%d %H:%M")


def main() -> int:
    import argparse
    import tomllib

    from nab import load_series
    from nab_robustness import perturb

    parser = argparse.ArgumentParser(description="volume_spike's alerts on NAB, window by window")
    parser.add_argument("--shift", type=float, default=0.0, help="shift event times by hours")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="volume_spike option (TOML value) on top of the bench's")
    args = parser.parse_args()
    options = {}
    for item in args.set:
        key, _, value = item.partition("=")
        options[key.strip()] = tomllib.loads(f"v = {value}")["v"]
    for original in load_series():
        series = perturb(original, "shift", args.shift) if args.shift else original
        opened = opened_with_evidence(series.times, series.values, options)
        print(f"{series.name}: windows at rows "
              + ", ".join(f"{w.first}-{w.last}" for w in series.windows))
        for moment, evidence in opened:
            print(describe(series, moment, evidence))
        from nab import detection_rows

        found = {next((i for i, w in enumerate(series.windows) if w.first <= r <= w.last), None)
                 for r in detection_rows(series, [m for m, _ in opened])}
        for index, window in enumerate(series.windows):
            if index not in found:
                print(f"  MISSED window {window.first}-{window.last} (labels at rows "
                      f"{', '.join(map(str, window.labels))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
