"""volume_spike: unprecedented buzz about a subject, brand-wide and per channel.

Counts mentions per subject in fixed event-time windows and compares the running window with a
baseline learned from the past windows (an exponentially weighted mean and variance). A window
fires when its count is both far above the baseline in standard deviations (with Poisson noise
as the floor of the variance, so that 0 → 2 is not a crisis) and a multiple of it. Windows that
fired enter the baseline clipped to the threshold, so a spike does not teach the baseline that
spikes are normal.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sentineld import AlertSink, Mention, Options, Trigger, hookimpl
from sentineld.model import Severity
from sentineld.options import Duration


class VolumeSpikeOptions(Options):
    #: Length of the counting window.
    window: Duration = Duration(900)
    #: Standard deviations above the baseline a window must reach.
    z: float = 4.0
    #: …and the multiple of the baseline it must reach.
    factor: float = 2.0
    #: Fewest mentions in a window that can ever fire.
    min_count: int = 10
    #: Windows learned before the trigger may fire.
    warmup: int = 8
    #: Weight of the newest window in the baseline (0 < alpha ≤ 1).
    alpha: float = 0.1
    #: Also watch each channel (source) separately, not only all channels together.
    per_channel: bool = True
    #: Severity of the alerts raised.
    severity: Severity = "high"


class _Series:
    __slots__ = ("start", "count", "mean", "var", "seen", "firing", "recent")

    def __init__(self, start: float) -> None:
        self.start = start
        self.count = 0
        self.mean = 0.0
        self.var = 0.0
        self.seen = 0
        self.firing = False
        self.recent: list[str] = []


class VolumeSpike(Trigger):
    type_name = "volume_spike"
    description = "mention volume far above its learned baseline, per subject and channel"
    Options = VolumeSpikeOptions

    def __init__(self, options: VolumeSpikeOptions, context: Any) -> None:
        super().__init__(options, context)
        self.series: dict[tuple[str, str], _Series] = {}

    def _keys(self, mention: Mention) -> Iterator[tuple[str, str]]:
        for subject in mention.matches:
            yield subject, "*"
            if self.options.per_channel:
                yield subject, mention.source

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        window = self.options.window
        for mention in mentions:
            moment = mention.timestamp
            for key in self._keys(mention):
                series = self.series.get(key)
                if series is None:
                    series = self.series[key] = _Series(moment - moment % window)
                self._roll(key, series, moment, alerts)
                series.count += 1
                if len(series.recent) < 20:
                    series.recent.append(mention.id)
                if not series.firing:
                    self._check(key, series, mention.created_at, alerts)

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        moment = now.timestamp()
        for key, series in self.series.items():
            self._roll(key, series, moment, alerts)

    def _threshold(self, series: _Series) -> float:
        spread = math.sqrt(max(series.var, series.mean, 1.0))
        return max(
            self.options.min_count,
            series.mean + self.options.z * spread,
            self.options.factor * series.mean,
        )

    def _check(self, key: tuple[str, str], series: _Series, at: datetime, alerts: AlertSink) -> None:
        if series.seen < self.options.warmup:
            return
        threshold = self._threshold(series)
        if series.count < threshold:
            return
        series.firing = True
        expected = series.mean
        spread = math.sqrt(max(series.var, series.mean, 1.0))
        subject, channel = key
        where = "all channels" if channel == "*" else channel
        alerts.fire(
            subject=subject,
            channel=channel,
            at=at,
            severity=self.options.severity,
            summary=(
                f"{series.count} mentions of {subject} on {where} in the current "
                f"{Duration(self.options.window)} window, {series.count / max(expected, 1e-9):.1f}x "
                f"the baseline of {expected:.1f}"
            ),
            evidence={
                "observed": series.count,
                "expected": round(expected, 3),
                "factor": round(series.count / max(expected, 1e-9), 2),
                "z": round((series.count - expected) / spread, 2),
                "threshold": round(threshold, 2),
                "window": str(Duration(self.options.window)),
                "window_start": datetime.fromtimestamp(series.start, UTC).isoformat(),
            },
            mentions=series.recent,
        )

    def _roll(self, key: tuple[str, str], series: _Series, moment: float, alerts: AlertSink) -> None:
        window = self.options.window
        while moment >= series.start + window:
            self._close_window(key, series, alerts)
            series.start += window
            if series.count == 0 and moment >= series.start + window * 100:
                # A long silence: jump ahead, decaying the baseline as if the windows were empty.
                skipped = int((moment - series.start) // window)
                series.mean *= (1 - self.options.alpha) ** skipped
                series.var *= (1 - self.options.alpha) ** skipped
                series.seen += skipped
                series.start += skipped * window

    def _close_window(self, key: tuple[str, str], series: _Series, alerts: AlertSink) -> None:
        threshold = self._threshold(series)
        value = min(series.count, threshold) if series.seen >= self.options.warmup else series.count
        alpha = self.options.alpha if series.seen >= 1 else 1.0
        delta = value - series.mean
        series.mean += alpha * delta
        series.var = (1 - alpha) * (series.var + alpha * delta * delta)
        series.seen += 1
        if series.firing and series.count < threshold:
            series.firing = False
            alerts.clear(
                subject=key[0],
                channel=key[1],
                at=datetime.fromtimestamp(series.start + self.options.window, UTC),
            )
        series.count = 0
        series.recent = []

    def snapshot(self) -> Any:
        return [
            [k[0], k[1], s.start, s.count, s.mean, s.var, s.seen, s.firing, s.recent]
            for k, s in self.series.items()
        ]

    def restore(self, state: Any) -> None:
        self.series = {}
        for subject, channel, start, count, mean, var, seen, firing, recent in state:
            series = _Series(start)
            series.count, series.mean, series.var = count, mean, var
            series.seen, series.firing, series.recent = seen, firing, list(recent)
            self.series[(subject, channel)] = series


@hookimpl
def register_triggers(register: Any) -> None:
    register(VolumeSpike)
