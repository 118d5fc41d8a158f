"""`CountTrigger`: the machinery the count-based triggers share (volume_spike, negativity_spike,
competitor_surge).

Each key (subject, channel) counts mentions per event-time window: a *count* (the mentions that
matter: all of them, the negative ones, a competitor's) and a *total* (what a share is taken
of). Windows tumble by default; with `slices` > 1 a window is made of that many slices and
slides by one slice, which keeps a burst that straddles a boundary whole. Windows are compared
with baselines (`SeasonalCounts`, `ShareBaseline`) that learn from the tumbling windows. The
running count of the current window is compared with thresholds worked out when its slice
opened, so an alert opens on the very mention that makes the window unusual, not at the
window's end.

A window alerts on its own when its tail probability under the baseline is at most `alpha`;
two consecutive (non-overlapping) windows alert when each is at most `confirm_alpha` — a run
rule as in statistical process control: a sustained rise is caught before it is extreme, a lone
blip must be extreme. Both also need `min_count` mentions and `factor` times the forecast, so
that low volumes never alert on a handful of mentions. The alert stays open while windows stay
unusual (at `confirm_alpha`) and resolves once `resolve_after` has passed without one.

Cost: a dict lookup and two increments per mention and key; the tail arithmetic runs only when
a count passes the cheap floors. Slices roll lazily when their key sees a mention; a key with
an open alert is also in a heap of resolve deadlines that `tick` pops, so a tick never walks all
keys. A key mentioned now and then closes its window and learns the silence after it in one
go, in closed form while it is quiet (docs/decisions/0205). State per key is O(1), a msgspec
struct checkpointed in one encoder call (0206), and the number of keys is capped (`max_keys`:
the least recently seen without an open alert are forgotten first).
"""

from __future__ import annotations

import heapq
import math
import struct
from array import array
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import msgspec

from sentineld.components import AlertSink, Trigger
from sentineld.detect.baseline import (
    PROFILE_SIZE,
    Learning,
    SeasonalCounts,
    ShareBaseline,
    decode_arrays,
    encode_arrays,
)
from sentineld.detect.stats import binomial_sf, count_isf, count_sf, surprise
from sentineld.model import Mention, Severity
from sentineld.options import Duration, Options

__all__ = ["CountOptions", "CountTrigger", "Series"]

#: Mention ids kept for the alert (what a human opens first).
RECENT: Final = 20
#: A count no window reaches: the floor and limits of a key that cannot alert now.
NEVER: Final = 1 << 62
SNAPSHOT_VERSION: Final = 4
_ENCODER: Final = msgspec.msgpack.Encoder(enc_hook=encode_arrays)
#: Version 3 checkpoints (read on upgrade): each key's numbers packed as slice, count, total,
#: prev, tumble, tumble_total, hot_bits, open, last_hot, level, spread, scale, seen, hits,
#: trials, chi, share seen; a profile of 24 + 7 factors and 24 counters, all float32.
_V3_NUMBERS: Final = struct.Struct("<q6I?d3dq3dq")
_V3_PROFILE: Final = 55

Key = tuple[str, str]


class CountOptions(Options):
    """Options every count trigger takes (see each plugin's ``sample.toml``)."""

    #: Length of the counting window.
    window: Duration = Duration(300)
    #: Slices per window: the window slides by window/slices (1 = tumbling windows).
    slices: int = 1
    #: Tail probability at or below which one window alerts on its own.
    alpha: float = 1e-12
    #: Tail probability at or below which two consecutive windows alert (and keep it open).
    confirm_alpha: float = 1e-6
    #: A window must also hold at least this multiple of its forecast…
    factor: float = 2.0
    #: …and at least this many mentions (0 → 2 is not a crisis).
    min_count: int = 10
    #: How long a key learns before it may alert.
    warmup: Duration = Duration(2 * 86400)
    #: Half-life of the baseline's level.
    half_life: Duration = Duration(3 * 86400)
    #: Half-life of the hour-of-day profile.
    daily_half_life: Duration = Duration(7 * 86400)
    #: Half-life of the day-of-week profile.
    weekly_half_life: Duration = Duration(21 * 86400)
    #: Half-life of the learnt over-dispersion.
    dispersion_half_life: Duration = Duration(7 * 86400)
    #: An open alert resolves after this long without an unusual window.
    resolve_after: Duration = Duration(86400)
    #: Also watch each channel (mention source) on its own, beside all channels ("*").
    per_channel: bool = True
    severity: Severity = "high"
    #: Keys kept at most; the least recently seen without an open alert are forgotten first.
    max_keys: int = 100_000

    def __post_init__(self) -> None:
        if self.window <= 0 or self.slices < 1:
            raise ValueError("window must be positive and slices at least 1")


class Series(msgspec.Struct, array_like=True, gc=False):
    """One key's sliding window, baselines and alert state.

    A msgspec struct: a checkpoint encodes all keys in one call, as compact msgpack arrays. The
    fields after `recent` are derived when a slice opens (they are checkpointed too, and
    recomputed on restore in case the options changed)."""

    subject: str
    channel: str
    #: Index of the current slice (event time // slice length).
    slice: int
    #: With sliding windows (slices > 1): counts of the last 2 × slices slices (this window's,
    #: then the previous window's), and the same for all mentions when the trigger tests
    #: shares. Tumbling windows need only `count` and `prev`.
    ring: list[int] | None = None
    totals: list[int] | None = None
    #: Running count and total of the current sliding window; count of the previous one.
    count: int = 0
    total: int = 0
    prev: int = 0
    #: Count and total since the current tumbling window began (what the baseline learns).
    tumble: int = 0
    tumble_total: int = 0
    #: Bit k: the window that ended k slices ago was unusual (at confirm_alpha).
    hot_bits: int = 0
    counts: SeasonalCounts = msgspec.field(default_factory=SeasonalCounts)
    shares: ShareBaseline | None = None
    open: bool = False
    last_hot: float = 0.0
    #: Ids of the mentions that took the current tumbling window beyond its forecast (at most
    #: RECENT): what an alert lists, without keeping every id of every busy window.
    recent: list[str] = msgspec.field(default_factory=list)
    #: The place of the current slice in the rings, and the event time the next one begins.
    slot: int = 0
    next_at: float = 0.0
    #: Forecast count of the current window, fixed when its slice opened.
    mean: float = 0.0
    #: The cheap necessary condition (min_count, factor × mean) for an alert on the count.
    floor: int = NEVER
    #: The running count at which to look closer: `floor` until the exact tail thresholds
    #: are known (`exact`), then the lowest count that alerts; infinite when none can.
    limit: int = NEVER
    alarm: int = NEVER
    exact: bool = False
    #: The window just before the current one was unusual: this one may confirm it.
    armed: bool = False

    @classmethod
    def new(cls, subject: str, channel: str, slice_index: int, slices: int,
            shares: bool) -> Series:
        sliding = slices > 1
        return cls(subject, channel, slice_index, [0] * (2 * slices) if sliding else None,
                   [0] * (2 * slices) if sliding and shares else None,
                   shares=ShareBaseline() if shares else None)

    @property
    def touched(self) -> float:
        """When the key last saw a mention, to the slice (what eviction goes by)."""
        return self.next_at


_DECODER: Final = msgspec.msgpack.Decoder(list[Series], dec_hook=decode_arrays)


class CountTrigger(Trigger):
    """Base class: subclasses route each mention to keys in `observe` via `add`."""

    #: Whether keys also test the share count/total against a `ShareBaseline`.
    share_test: ClassVar[bool] = False

    def __init__(self, options: CountOptions, context: Any) -> None:
        super().__init__(options, context)
        window = float(options.window)
        if window <= 0 or options.slices < 1:
            raise ValueError("window must be positive and slices at least 1")
        self.window = window
        self.slices = options.slices
        self.step = window / options.slices
        self.learning = Learning.from_half_lives(
            window,
            level=options.half_life,
            daily=options.daily_half_life,
            weekly=options.weekly_half_life,
            dispersion=options.dispersion_half_life,
            warmup=options.warmup,
        )
        self.series: dict[Key, Series] = {}
        self.deadlines: list[tuple[float, str, str]] = []

    # ------------------------------------------------------------------ routing

    def add(self, subject: str, channel: str, mention: Mention, moment: float, hit: bool,
            alerts: AlertSink) -> None:
        """Count `mention` for one key: in the total, and in the count when `hit`."""
        key = (subject, channel)
        series = self.series.get(key)
        if series is None:
            series = self._create(key, moment)
        elif moment >= series.next_at:
            target = int(moment // self.step)
            if (self.slices == 1 and not series.open
                    and series.count + series.prev < self.options.min_count):
                self._roll(series, target)
            else:
                self._advance(series, target, alerts)
        slot = series.slot
        if series.shares is not None:
            if series.totals is not None:
                series.totals[slot] += 1
            series.total += 1
            series.tumble_total += 1
        if not hit:
            return
        if series.ring is not None:
            series.ring[slot] += 1
        series.count += 1
        series.tumble += 1
        if series.tumble > series.mean:
            recent = series.recent
            if len(recent) < RECENT:
                recent.append(mention.id)
        if series.count >= series.limit:
            self._check_count(series, mention, alerts)
        if (series.shares is not None and not series.open
                and series.count >= self.options.min_count):
            self._check_share(series, mention, alerts)

    def channels(self, mention: Mention) -> tuple[str, ...]:
        return ("*", mention.source) if self.options.per_channel else ("*",)

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        moment = now.timestamp()
        heap = self.deadlines
        while heap and heap[0][0] <= moment:
            _, subject, channel = heapq.heappop(heap)
            series = self.series.get((subject, channel))
            if series is None or not series.open:
                continue
            slice_index = int(moment // self.step)
            if slice_index > series.slice:
                self._advance(series, slice_index, alerts)
            if series.open:
                self._schedule(series)

    # ------------------------------------------------------------------ slices and windows

    def _create(self, key: Key, moment: float) -> Series:
        if len(self.series) >= self.options.max_keys:
            self._evict()
        series = Series.new(key[0], key[1], int(moment // self.step), self.slices,
                            self.share_test)
        self.series[key] = series
        self._open_slice(series)
        return series

    def _open_slice(self, series: Series) -> None:
        """Forecast the sliding window that ends with the new slice, and its cheap floor."""
        slices = self.slices
        index = series.slice
        series.exact = False
        series.alarm = NEVER
        series.slot = index % (2 * slices)
        series.next_at = (index + 1) * self.step
        series.armed = bool((series.hot_bits >> (slices - 1)) & 1)
        counts = series.counts
        mean = series.mean = counts.mean((index - slices + 1) * self.step)
        if series.open or counts.seen < self.learning.warmup:
            series.floor = series.limit = NEVER
            return
        series.floor = series.limit = self._floor(mean)
        if series.count >= series.floor:
            self._exact_limits(series)

    def _floor(self, mean: float) -> float:
        """The cheap lower bound of an alarm: `min_count`, or `factor` times the forecast."""
        options = self.options
        scaled = options.factor * mean
        return math.ceil(scaled) if scaled > options.min_count else options.min_count

    def _exact_limits(self, series: Series) -> None:
        """Replace the cheap floor by the lowest counts whose tail is small enough."""
        options = self.options
        dispersion = series.counts.dispersion(self.learning)
        series.alarm = max(series.floor, count_isf(options.alpha, series.mean, dispersion))
        limit = series.alarm
        if series.armed:
            confirm = count_isf(options.confirm_alpha, series.mean, dispersion)
            limit = min(limit, max(series.floor, confirm))
        series.limit = limit
        series.exact = True

    def _advance(self, series: Series, target: int, alerts: AlertSink) -> None:
        """Close slices until `target` is the current one."""
        if not series.open and series.count + series.prev < self.options.min_count:
            # No window ending before `target` can hold min_count mentions: nothing to test,
            # only bookkeeping, done in one go (the common case for quiet keys).
            self._fast_forward(series, target)
        else:
            size = 2 * self.slices
            while series.slice < target:
                if (target - series.slice > size and series.count == series.prev == 0
                        and series.total == 0 and not (series.ring and any(series.ring))
                        and not (series.totals and any(series.totals))):
                    self._skip_silence(series, target, alerts)
                    break
                self._close_slice(series, alerts)
                self._shift(series)
        self._open_slice(series)

    def _shift(self, series: Series) -> None:
        """Make the next slice current: the oldest slice leaves the previous window, the
        oldest of the current window moves into the previous one."""
        size, slices = 2 * self.slices, self.slices
        series.slice += 1
        index = series.slice
        ring = series.ring
        if ring is None:
            # Tumbling windows: the current window becomes the previous one.
            series.prev, series.count, series.total = series.count, 0, 0
            return
        leaving = ring[(index - slices) % size]
        series.count -= leaving
        series.prev += leaving - ring[index % size]
        ring[index % size] = 0
        totals = series.totals
        if totals is not None:
            series.total -= totals[(index - slices) % size]
            totals[index % size] = 0

    def _fast_forward(self, series: Series, target: int) -> None:
        """Advance to slice `target` when no window on the way can be unusual."""
        if self.slices == 1:
            self._roll(series, target, reopen=False)
            return
        slices, size, step = self.slices, 2 * self.slices, self.step
        current = series.slice
        first_end = (current // slices + 1) * slices
        if target >= first_end:
            self._learn_tumble(series, first_end * step)
            series.counts.learn_silence(first_end * step, target // slices - first_end // slices,
                                        self.learning)
        ring, totals = series.ring, series.totals
        assert ring is not None
        if target - current >= size:
            ring[:] = [0] * size
            series.count = series.prev = 0
            if totals is not None:
                totals[:] = [0] * size
                series.total = 0
        else:
            for index in range(current + 1, target + 1):
                ring[index % size] = 0
                if totals is not None:
                    totals[index % size] = 0
            window = [index % size for index in range(target - slices + 1, target + 1)]
            series.count = sum(ring[i] for i in window)
            series.prev = sum(ring[i] for i in range(size)) - series.count
            if totals is not None:
                series.total = sum(totals[i] for i in window)
        moved = target - current
        series.hot_bits = (series.hot_bits << moved) & ((1 << slices) - 1) if moved < slices else 0
        series.slice = target

    def _roll(self, series: Series, target: int, reopen: bool = True) -> None:
        """`_fast_forward` with tumbling windows (the common case of a key mentioned now and
        then): the window that held the key's last mentions closes and is learnt with the
        silence after it, in one go; then, unless told not to, the new window opens."""
        current = series.slice
        silence = target - current - 1
        count = series.count
        counts = series.counts
        step = self.step
        counts.learn_run(current * step, count, silence, self.learning)
        shares = series.shares
        if shares is not None:
            shares.learn(count, series.tumble_total, self.learning)
            series.total = series.tumble_total = 0
        series.prev = count if silence == 0 else 0
        series.count = series.tumble = 0
        series.hot_bits = 0
        series.slice = target
        if series.recent:
            series.recent.clear()
        if not reopen:
            return
        # `_open_slice`, inlined for tumbling windows with nothing counted yet.
        series.exact = series.armed = False
        series.alarm = NEVER
        series.slot = target & 1
        series.next_at = (target + 1) * step
        mean = series.mean = counts.mean(target * step)
        if counts.seen < self.learning.warmup:
            series.floor = series.limit = NEVER
            return
        series.floor = series.limit = self._floor(mean)

    def _learn_tumble(self, series: Series, end: float) -> None:
        """Teach the baselines the tumbling window that ends at `end`."""
        series.counts.learn(end - self.window, series.tumble, self.learning)
        if series.shares is not None:
            series.shares.learn(series.tumble, series.tumble_total, self.learning)
        series.tumble = series.tumble_total = 0
        if series.recent:
            series.recent.clear()

    def _close_slice(self, series: Series, alerts: AlertSink) -> None:
        end = (series.slice + 1) * self.step
        hot = self._window_hot(series)
        series.hot_bits = ((series.hot_bits << 1) | (hot is not None)) & ((1 << self.slices) - 1)
        if series.open:
            if hot is not None:
                series.last_hot = end
                self._fire(series, hot, datetime.fromtimestamp(end, UTC), alerts)
            elif end >= series.last_hot + self.options.resolve_after:
                self._resolve(series, end, alerts)
        if (series.slice + 1) % self.slices == 0:
            self._learn_tumble(series, end)

    def _skip_silence(self, series: Series, target: int, alerts: AlertSink) -> None:
        """Jump over empty slices up to `target` (every count of the rings is zero)."""
        step, slices = self.step, self.slices
        if series.open:
            deadline = series.last_hot + self.options.resolve_after
            closing = max(series.slice + 1, math.ceil(deadline / step - 1e-9))
            if closing <= target:
                self._resolve(series, closing * step, alerts)
        # Tumbling windows end where a slice boundary b (slice + 1 ≤ b ≤ target) is a multiple
        # of `slices`; the first of them may have begun before the silence, but holds nothing.
        windows = target // slices - series.slice // slices
        if windows > 0:
            first_end = (series.slice // slices + 1) * slices
            series.counts.learn_silence(first_end * step - self.window, windows, self.learning)
        series.slice = target
        series.hot_bits = 0
        if series.recent:
            series.recent.clear()

    def _window_hot(self, series: Series) -> dict[str, Any] | None:
        """The evidence of the window ending now if it is unusual at `confirm_alpha`."""
        options = self.options
        if series.count < options.min_count or not series.counts.warm(self.learning):
            return None
        if series.count >= options.factor * series.mean:
            evidence = self._count_evidence(series)
            if evidence["p_value"] <= options.confirm_alpha:
                return evidence
        if series.shares is not None:
            evidence = self._share_evidence(series)
            if evidence is not None and evidence["p_value"] <= options.confirm_alpha:
                return evidence
        return None

    def _resolve(self, series: Series, at: float, alerts: AlertSink) -> None:
        series.open = False
        alerts.clear(subject=series.subject, channel=series.channel,
                     at=datetime.fromtimestamp(at, UTC))

    def _schedule(self, series: Series) -> None:
        deadline = max(series.last_hot + self.options.resolve_after, (series.slice + 1) * self.step)
        heapq.heappush(self.deadlines, (deadline, series.subject, series.channel))

    # ------------------------------------------------------------------ tests

    def _check_count(self, series: Series, mention: Mention, alerts: AlertSink) -> None:
        if not series.exact:
            self._exact_limits(series)
            if series.count < series.limit:
                return
        evidence = self._count_evidence(series)
        evidence["rule"] = "one window" if series.count >= series.alarm else "two windows in a row"
        self._open_alert(series, evidence, mention, alerts)

    def _check_share(self, series: Series, mention: Mention, alerts: AlertSink) -> None:
        shares = series.shares
        assert shares is not None
        if not shares.warm(self.learning):
            return
        if series.count < self.options.factor * shares.share() * series.total:
            return
        evidence = self._share_evidence(series)
        if evidence is None:
            return
        options = self.options
        if evidence["p_value"] <= options.alpha:
            evidence["rule"] = "one window"
        elif series.armed and evidence["p_value"] <= options.confirm_alpha:
            evidence["rule"] = "two windows in a row"
        else:
            return
        if not series.recent:
            # The count may be below its forecast while its share is not: name this mention.
            series.recent.append(mention.id)
        self._open_alert(series, evidence, mention, alerts)

    def _open_alert(self, series: Series, evidence: dict[str, Any], mention: Mention,
                    alerts: AlertSink) -> None:
        series.open = True
        series.last_hot = (series.slice + 1) * self.step
        series.limit = series.floor = NEVER
        self._fire(series, evidence, mention.created_at, alerts)
        self._schedule(series)

    def _count_evidence(self, series: Series) -> dict[str, Any]:
        mean = series.mean
        dispersion = series.counts.dispersion(self.learning)
        probability = count_sf(series.count, mean, dispersion)
        spread = math.sqrt(mean + dispersion * mean * mean)
        return {
            "test": "count",
            "observed": series.count,
            "expected": round(mean, 3),
            "factor": round(series.count / mean, 2) if mean > 0 else None,
            "p_value": probability,
            "surprise": round(surprise(probability), 2),
            "z": round((series.count - mean) / spread, 2) if spread > 0 else None,
            "dispersion": round(dispersion, 4),
            "previous_window": series.prev,
            **self._window_evidence(series),
        }

    def _share_evidence(self, series: Series) -> dict[str, Any] | None:
        shares = series.shares
        if shares is None or series.total <= 0 or not shares.warm(self.learning):
            return None
        expected = shares.share()
        if expected <= 0.0:
            return None
        dispersion = shares.dispersion()
        total = series.total
        probability = binomial_sf(series.count, total, expected, dispersion)
        spread = math.sqrt(dispersion * total * expected * (1.0 - expected))
        share = series.count / total
        return {
            "test": "share",
            "observed": series.count,
            "total": total,
            "share": round(share, 4),
            "expected_share": round(expected, 4),
            "expected": round(expected * total, 3),
            "factor": round(share / expected, 2),
            "p_value": probability,
            "surprise": round(surprise(probability), 2),
            "z": round((series.count - expected * total) / spread, 2) if spread > 0 else None,
            "dispersion": round(dispersion, 3),
            **self._window_evidence(series),
        }

    def _window_evidence(self, series: Series) -> dict[str, Any]:
        end = (series.slice + 1) * self.step
        return {
            "window": str(Duration(self.window)),
            "window_start": _iso(end - self.window),
            "window_end": _iso(end),
            "baseline_windows": series.counts.seen,
        }

    # ------------------------------------------------------------------ alerts

    def _fire(self, series: Series, evidence: dict[str, Any], at: datetime,
              alerts: AlertSink) -> None:
        alerts.fire(
            subject=series.subject,
            channel=series.channel,
            at=at,
            severity=self.options.severity,
            summary=self.describe(series, evidence),
            evidence=evidence,
            mentions=series.recent,
        )

    def describe(self, series: Series, evidence: dict[str, Any]) -> str:
        """The alert's one-line summary; subclasses name what they count."""
        return self.describe_count("mentions", series, evidence)

    def describe_count(self, noun: str, series: Series, evidence: dict[str, Any]) -> str:
        where = "all channels" if series.channel == "*" else series.channel
        since = evidence["window_start"][11:16]
        if evidence["test"] == "share":
            return (
                f"{evidence['share']:.0%} of mentions of {series.subject} on {where} are {noun} "
                f"in the {evidence['window']} from {since} UTC ({evidence['observed']} of "
                f"{evidence['total']}), {evidence['factor']}x the usual "
                f"{evidence['expected_share']:.0%} (p = {evidence['p_value']:.1e})"
            )
        return (
            f"{evidence['observed']} {noun} of {series.subject} on {where} in the "
            f"{evidence['window']} from {since} UTC, {evidence['factor']}x the expected "
            f"{evidence['expected']:.1f} (p = {evidence['p_value']:.1e})"
        )

    # ------------------------------------------------------------------ memory and state

    def _evict(self) -> None:
        """Forget the least recently seen tenth of the keys that have no open alert."""
        idle = sorted((s.touched, key) for key, s in self.series.items() if not s.open)
        for _, key in idle[: max(1, len(self.series) // 10)]:
            del self.series[key]

    def snapshot(self) -> Any:
        """All keys, encoded in one msgspec call (each a msgpack array, profiles as raw bytes)
        at the barrier, so that the checkpoint holds the state of exactly that moment."""
        return {"version": SNAPSHOT_VERSION, "window": self.window, "slices": self.slices,
                "series": _ENCODER.encode(list(self.series.values()))}

    def restore(self, state: Any) -> None:
        self.series = {}
        self.deadlines = []
        if not state:
            return
        if state.get("window") != self.window or state.get("slices") != self.slices:
            self.log.warning("window or slices changed since the checkpoint; baselines start afresh")
            return
        version = state.get("version")
        try:
            if version == SNAPSHOT_VERSION:
                keys = _DECODER.decode(state["series"])
            elif version == 3:
                keys = [self._from_version_3(row) for row in state["series"]]
            else:
                self.log.warning("checkpoint from another version; baselines start afresh",
                                 version=version)
                return
        except (msgspec.DecodeError, ValueError, TypeError, struct.error) as exc:
            self.log.error("unreadable checkpoint; baselines start afresh", error=str(exc))
            return
        for series in keys:
            if self.share_test != (series.shares is not None):
                series.shares = ShareBaseline() if self.share_test else None
                series.totals = ([0] * (2 * self.slices)
                                 if self.share_test and self.slices > 1 else None)
                series.total = series.tumble_total = 0
            self._open_slice(series)
            self.series[(series.subject, series.channel)] = series
            if series.open:
                self._schedule(series)

    def _from_version_3(self, row: Sequence[Any]) -> Series:
        """A key as checkpointed before 0205/0206 (numbers packed in one `bytes`, a 55-float
        profile on every key, rings on every key), so that an upgrade keeps what was learnt."""
        subject, channel, numbers, profile, ring, totals, recent = row
        (slice_index, count, total, prev, tumble, tumble_total, hot_bits, is_open, last_hot,
         level, spread, scale, seen, hits, trials, chi, share_seen) = _V3_NUMBERS.unpack(numbers)
        factors = array("f")
        factors.frombytes(profile)
        if len(factors) != _V3_PROFILE:
            raise ValueError(f"a version-3 profile holds {_V3_PROFILE} numbers")
        counts = SeasonalCounts(level, 0.0, 0.0, seen)
        learning = self.learning
        if level >= learning.busy_level and SeasonalCounts._dispersion_age(seen, learning) >= 0:
            counts.spread, counts.scale = spread, scale
            counts.profile = factors[:PROFILE_SIZE]
            counts.hours = array("H", [int(min(x, 65535)) for x in factors[PROFILE_SIZE:]])
        sliding = self.slices > 1
        return Series(
            subject, channel, slice_index,
            list(array("I", ring)) if sliding else None,
            list(array("I", totals)) if sliding and totals is not None else None,
            count, total, prev, tumble, tumble_total, hot_bits, counts,
            ShareBaseline(hits, trials, chi, share_seen) if totals is not None else None,
            is_open, last_hot, list(recent)[:RECENT],
        )

    # ------------------------------------------------------------------ helpers for subclasses

    def subjects_of(self, mention: Mention, wanted: Sequence[str]) -> Iterable[str]:
        """The subjects of `mention` this trigger watches (`wanted` holds names or "*")."""
        if "*" in wanted:
            return mention.matches
        return [subject for subject in mention.matches if subject in wanted]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
