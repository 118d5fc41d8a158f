"""The keys of a count trigger and their windows: what `CountTrigger` does per mention and per
tick (see `sentineld.detect.trigger` for the method), compiled with mypyc as native classes
(`sentineld.compiled`, decision 0230).

`Series` is one key (subject, channel): its window counts, baselines and alert state, typed
fields that the compiled per-mention path reads and writes directly. `CountKeys` holds one
trigger's keys, the heap of its open alerts' deadlines and the options it needs, as plain
numbers. A checkpoint writes each key as the tuple `Series.row`, the array of
`records.SeriesRecord`: the format of decision 0206, unchanged.

Everything here must also run as plain Python (`SENTINELD_NO_EXTENSIONS=1`), with the same
results: no Python-only tricks, no mypyc-only ones.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from sentineld.components import AlertSink
from sentineld.detect.baseline import Learning, SeasonalCounts, ShareBaseline
from sentineld.detect.records import SeriesRecord
from sentineld.detect.stats import binomial_sf, count_isf, count_sf, surprise
from sentineld.model import Mention, Severity
from sentineld.options import Duration

__all__ = ["NEVER", "RECENT", "CountKeys", "Series"]

#: Mention ids kept for the alert (what a human opens first).
RECENT: Final = 20
#: A count no window reaches: the floor and limits of a key that cannot alert now (the largest
#: int a compiled module holds unboxed).
NEVER: Final = (1 << 62) - 1


class Series:
    """One key's sliding window, baselines and alert state.

    The fields after `recent` are derived when a slice opens (they are checkpointed too, and
    recomputed on restore in case the options changed). A checkpoint writes each key as the
    tuple `row` (the array of `records.SeriesRecord`)."""

    def __init__(self, subject: str, channel: str, slice: int, ring: list[int] | None = None,
                 totals: list[int] | None = None, count: int = 0, total: int = 0,
                 prev: int = 0, tumble: int = 0, tumble_total: int = 0, hot_bits: int = 0,
                 counts: SeasonalCounts | None = None, shares: ShareBaseline | None = None,
                 open: bool = False, last_hot: float = 0.0, recent: list[str] | None = None,
                 slot: int = 0, next_at: float = 0.0, mean: float = 0.0, floor: int = NEVER,
                 limit: int = NEVER, alarm: int = NEVER, exact: bool = False,
                 armed: bool = False) -> None:
        self.subject = subject
        self.channel = channel
        #: Index of the current slice (event time // slice length).
        self.slice = slice
        #: With sliding windows (slices > 1): counts of the last 2 × slices slices (this
        #: window's, then the previous window's), and the same for all mentions when the
        #: trigger tests shares. Tumbling windows need only `count` and `prev`.
        self.ring = ring
        self.totals = totals
        #: Running count and total of the current sliding window; count of the previous one.
        self.count = count
        self.total = total
        self.prev = prev
        #: Count and total since the current tumbling window began (what the baseline learns).
        self.tumble = tumble
        self.tumble_total = tumble_total
        #: Bit k: the window that ended k slices ago was unusual (at confirm_alpha).
        self.hot_bits = hot_bits
        self.counts: SeasonalCounts = counts if counts is not None else SeasonalCounts()
        self.shares = shares
        self.open = open
        self.last_hot = last_hot
        #: Ids of the mentions that took the current tumbling window beyond its forecast (at
        #: most RECENT): what an alert lists, without keeping every id of every busy window.
        self.recent: list[str] = recent if recent is not None else []
        #: The place of the current slice in the rings, and the event time the next one begins.
        self.slot = slot
        self.next_at = next_at
        #: Forecast count of the current window, fixed when its slice opened.
        self.mean = mean
        #: The cheap necessary condition (min_count, factor × mean) for an alert on the count.
        self.floor = floor
        #: The running count at which to look closer: `floor` until the exact tail thresholds
        #: are known (`exact`), then the lowest count that alerts; infinite when none can.
        self.limit = limit
        self.alarm = alarm
        self.exact = exact
        #: The window just before the current one was unusual: this one may confirm it.
        self.armed = armed
        #: The key's checkpoint row as last encoded, and whether the key may have changed
        #: since (`CountKeys.rows`): a checkpoint encodes only the keys that did.
        self.encoded: msgspec.Raw | None = None
        self.dirty = True

    @staticmethod
    def new(subject: str, channel: str, slice_index: int, slices: int, shares: bool) -> Series:
        sliding = slices > 1
        return Series(subject, channel, slice_index, [0] * (2 * slices) if sliding else None,
                      [0] * (2 * slices) if sliding and shares else None,
                      shares=ShareBaseline() if shares else None)

    @property
    def touched(self) -> float:
        """When the key last saw a mention, to the slice (what eviction goes by)."""
        return self.next_at

    def row(self) -> tuple[Any, ...]:
        """The key as a checkpoint writes it: `records.SeriesRecord`'s fields, in order."""
        shares = self.shares
        return (self.subject, self.channel, self.slice, self.ring, self.totals, self.count,
                self.total, self.prev, self.tumble, self.tumble_total, self.hot_bits,
                self.counts.row(), shares.row() if shares is not None else None, self.open,
                self.last_hot, self.recent, self.slot, self.next_at, self.mean, self.floor,
                self.limit, self.alarm, self.exact, self.armed)

    @staticmethod
    def from_record(record: SeriesRecord) -> Series:
        shares = record.shares
        return Series(
            record.subject, record.channel, record.slice, record.ring, record.totals,
            record.count, record.total, record.prev, record.tumble, record.tumble_total,
            record.hot_bits, SeasonalCounts.from_record(record.counts),
            ShareBaseline.from_record(shares) if shares is not None else None, record.open,
            record.last_hot, record.recent, record.slot, record.next_at, record.mean,
            record.floor, record.limit, record.alarm, record.exact, record.armed)


class CountKeys:
    """The keys of one count trigger, their windows and the deadlines of their open alerts:
    everything `CountTrigger` does per mention and per tick. `owner` is the trigger, asked for
    an alert's summary (`describe`)."""

    def __init__(self, owner: Any, options: Any, share_test: bool) -> None:
        """`options` are the trigger's `CountOptions` (or a subclass's)."""
        window = float(options.window)
        if window <= 0 or options.slices < 1:
            raise ValueError("window must be positive and slices at least 1")
        self.owner = owner
        self.window = window
        self.slices: int = options.slices
        self.step = window / options.slices
        self.learning = Learning.from_half_lives(
            window,
            level=options.half_life,
            daily=options.daily_half_life,
            weekly=options.weekly_half_life,
            dispersion=options.dispersion_half_life,
            warmup=options.warmup,
        )
        self.share_test = share_test
        self.min_count: int = options.min_count
        self.factor: float = float(options.factor)
        self.alpha: float = float(options.alpha)
        self.confirm_alpha: float = float(options.confirm_alpha)
        self.resolve_after: float = float(options.resolve_after)
        self.severity: Severity = options.severity
        self.max_keys: int = options.max_keys
        self.series: dict[tuple[str, str], Series] = {}
        self.deadlines: list[tuple[float, str, str]] = []

    # ------------------------------------------------------------------ routing

    def add(self, subject: str, channel: str, mention: Mention, moment: float, hit: bool,
            alerts: AlertSink) -> None:
        """Count `mention` for one key: in the total, and in the count when `hit`."""
        key = (subject, channel)
        series = self.series.get(key)
        if series is None:
            series = self._create(key, moment)
        else:
            series.dirty = True
            if moment >= series.next_at:
                target = int(moment // self.step)
                if (self.slices == 1 and not series.open
                        and series.count + series.prev < self.min_count):
                    self._roll(series, target)
                else:
                    self._advance(series, target, alerts)
        slot = series.slot
        shares = series.shares
        if shares is not None:
            totals = series.totals
            if totals is not None:
                totals[slot] += 1
            series.total += 1
            series.tumble_total += 1
        if not hit:
            return
        ring = series.ring
        if ring is not None:
            ring[slot] += 1
        count = series.count + 1
        series.count = count
        series.tumble += 1
        if series.tumble > series.mean:
            recent = series.recent
            if len(recent) < RECENT:
                recent.append(mention.id)
        if count >= series.limit:
            self._check_count(series, mention, alerts)
        if shares is not None and not series.open and series.count >= self.min_count:
            self._check_share(series, mention, alerts)

    def add_each(self, subjects: Iterable[str], mention: Mention, moment: float, hit: bool,
                 per_channel: bool, alerts: AlertSink) -> None:
        """`add` for each subject, on all channels ("*") and then, when `per_channel`, on the
        mention's source: the loop of every count trigger's `observe`, compiled with it."""
        source = mention.source
        for subject in subjects:
            self.add(subject, "*", mention, moment, hit, alerts)
            if per_channel:
                self.add(subject, source, mention, moment, hit, alerts)

    def tick(self, moment: float, alerts: AlertSink) -> None:
        """Close the windows of the keys whose open alert may resolve by `moment`."""
        heap = self.deadlines
        while heap and heap[0][0] <= moment:
            _, subject, channel = heapq.heappop(heap)
            series = self.series.get((subject, channel))
            if series is None or not series.open:
                continue
            series.dirty = True
            slice_index = int(moment // self.step)
            if slice_index > series.slice:
                self._advance(series, slice_index, alerts)
            if series.open:
                self.schedule(series)

    # ------------------------------------------------------------------ slices and windows

    def _create(self, key: tuple[str, str], moment: float) -> Series:
        if len(self.series) >= self.max_keys:
            self._evict()
        series = Series.new(key[0], key[1], int(moment // self.step), self.slices,
                            self.share_test)
        self.series[key] = series
        self.open_slice(series)
        return series

    def open_slice(self, series: Series) -> None:
        """Forecast the sliding window that ends with the new slice, and its cheap floor."""
        slices = self.slices
        index = series.slice
        series.exact = False
        series.alarm = NEVER
        series.slot = index % (2 * slices)
        series.next_at = (index + 1) * self.step
        series.armed = bool((series.hot_bits >> (slices - 1)) & 1)
        counts = series.counts
        mean = counts.mean((index - slices + 1) * self.step)
        series.mean = mean
        if series.open or counts.seen < self.learning.warmup:
            series.floor = series.limit = NEVER
            return
        series.floor = series.limit = self._floor(mean)
        if series.count >= series.floor:
            self._exact_limits(series)

    def _floor(self, mean: float) -> int:
        """The cheap lower bound of an alarm: `min_count`, or `factor` times the forecast."""
        scaled = self.factor * mean
        return math.ceil(scaled) if scaled > self.min_count else self.min_count

    def _exact_limits(self, series: Series) -> None:
        """Replace the cheap floor by the lowest counts whose tail is small enough."""
        dispersion = series.counts.dispersion(self.learning)
        series.alarm = max(series.floor, count_isf(self.alpha, series.mean, dispersion))
        limit = series.alarm
        if series.armed:
            confirm = count_isf(self.confirm_alpha, series.mean, dispersion)
            limit = min(limit, max(series.floor, confirm))
        series.limit = limit
        series.exact = True

    def _advance(self, series: Series, target: int, alerts: AlertSink) -> None:
        """Close slices until `target` is the current one."""
        if not series.open and series.count + series.prev < self.min_count:
            # No window ending before `target` can hold min_count mentions: nothing to test,
            # only bookkeeping, done in one go (the common case for quiet keys).
            self._fast_forward(series, target)
        else:
            size = 2 * self.slices
            while series.slice < target:
                ring, totals = series.ring, series.totals
                if (target - series.slice > size and series.count == series.prev == 0
                        and series.total == 0 and not (ring is not None and any(ring))
                        and not (totals is not None and any(totals))):
                    self._skip_silence(series, target, alerts)
                    break
                self._close_slice(series, alerts)
                self._shift(series)
        self.open_slice(series)

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
        # `open_slice`, inlined for tumbling windows with nothing counted yet.
        series.exact = series.armed = False
        series.alarm = NEVER
        series.slot = target & 1
        series.next_at = (target + 1) * step
        mean = counts.mean(target * step)
        series.mean = mean
        if counts.seen < self.learning.warmup:
            series.floor = series.limit = NEVER
            return
        series.floor = series.limit = self._floor(mean)

    def _learn_tumble(self, series: Series, end: float) -> None:
        """Teach the baselines the tumbling window that ends at `end`."""
        series.counts.learn(end - self.window, series.tumble, self.learning)
        shares = series.shares
        if shares is not None:
            shares.learn(series.tumble, series.tumble_total, self.learning)
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
            elif end >= series.last_hot + self.resolve_after:
                self._resolve(series, end, alerts)
        if (series.slice + 1) % self.slices == 0:
            self._learn_tumble(series, end)

    def _skip_silence(self, series: Series, target: int, alerts: AlertSink) -> None:
        """Jump over empty slices up to `target` (every count of the rings is zero)."""
        step, slices = self.step, self.slices
        if series.open:
            deadline = series.last_hot + self.resolve_after
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
        if series.count < self.min_count or not series.counts.warm(self.learning):
            return None
        if series.count >= self.factor * series.mean:
            evidence = self._count_evidence(series)
            if evidence["p_value"] <= self.confirm_alpha:
                return evidence
        if series.shares is not None:
            share_evidence = self._share_evidence(series)
            if share_evidence is not None and share_evidence["p_value"] <= self.confirm_alpha:
                return share_evidence
        return None

    def _resolve(self, series: Series, at: float, alerts: AlertSink) -> None:
        series.open = False
        alerts.clear(subject=series.subject, channel=series.channel,
                     at=datetime.fromtimestamp(at, UTC))

    def schedule(self, series: Series) -> None:
        """Put the key's resolve deadline in the heap that `tick` pops."""
        deadline = max(series.last_hot + self.resolve_after, (series.slice + 1) * self.step)
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
        if series.count < self.factor * shares.share() * series.total:
            return
        evidence = self._share_evidence(series)
        if evidence is None:
            return
        if evidence["p_value"] <= self.alpha:
            evidence["rule"] = "one window"
        elif series.armed and evidence["p_value"] <= self.confirm_alpha:
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
        self.schedule(series)

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

    def _fire(self, series: Series, evidence: dict[str, Any], at: datetime,
              alerts: AlertSink) -> None:
        alerts.fire(
            subject=series.subject,
            channel=series.channel,
            at=at,
            severity=self.severity,
            summary=self.owner.describe(series, evidence),
            evidence=evidence,
            mentions=series.recent,
        )

    # ------------------------------------------------------------------ memory and state

    def _evict(self) -> None:
        """Forget the least recently seen tenth of the keys that have no open alert."""
        idle = sorted((s.touched, key) for key, s in self.series.items() if not s.open)
        for _, key in idle[: max(1, len(self.series) // 10)]:
            del self.series[key]

    def rows(self, encode: Callable[[Any], bytes]) -> list[msgspec.Raw]:
        """Every key as a checkpoint writes it (`Series.row`), encoded by `encode`: the keys
        that `add` or `tick` touched since the last call are encoded again, the others are
        their last encoding, which msgpack embeds as it is (a list of them encodes exactly as
        the list of rows would)."""
        out = []
        for series in self.series.values():
            encoded = series.encoded
            if series.dirty or encoded is None:
                encoded = series.encoded = msgspec.Raw(encode(series.row()))
                series.dirty = False
            out.append(encoded)
        return out

    def reopen(self, keys: list[Series]) -> None:
        """Take restored keys in place of the current ones; recompute their thresholds (the
        options may have changed) and the deadlines of their open alerts."""
        self.series = {}
        self.deadlines = []
        slices, share_test = self.slices, self.share_test
        for series in keys:
            if share_test != (series.shares is not None):
                series.shares = ShareBaseline() if share_test else None
                series.totals = [0] * (2 * slices) if share_test and slices > 1 else None
                series.total = series.tumble_total = 0
            self.open_slice(series)
            self.series[(series.subject, series.channel)] = series
            if series.open:
                self.schedule(series)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
