"""Baselines that learn what a window of mentions normally holds, robustly to their own spikes.

`SeasonalCounts` forecasts the count of a window as ``level × daily[hour] × weekly[weekday]``
(multiplicative Holt-Winters with two seasonal profiles, hour of day and day of week in UTC),
and the count's over-dispersion as a negative binomial dispersion (method of moments). Each
closed window teaches it, but a window far above the forecast enters clipped to the forecast's
``robust_alpha`` quantile (a Huber-style update): a spike does not teach the baseline that
spikes are normal, while a lasting level shift is still learnt, a clipped step at a time.

A key too quiet to show a daily shape or its own dispersion (fewer than `Learning.busy_level`
mentions per window on average) is *quiet*: its forecast is its level alone and its dispersion
the prior. It learns the rest once it is busy (and forgets it if it falls quiet again). So a
quiet key costs a few float operations per window and holds no profile (docs/decisions/0205).

`ShareBaseline` learns the usual share of a window's mentions that are, say, negative, and how
much that share scatters beyond binomial noise (a quasi-binomial dispersion factor).

Both are native classes when compiled with mypyc (decision 0230), checkpointed as msgpack
arrays (`row`, `from_record`; the format is `records`'s, the profile as raw float32 bytes): O(1)
state, a few floats, plus the 31-factor profile and its 24 counters on a busy key.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Final

import msgspec

from sentineld.detect.records import (
    HOURS,
    PROFILE_SIZE,
    CountsRecord,
    SharesRecord,
    decode_arrays,
    encode_arrays,
)
from sentineld.detect.stats import count_isf

__all__ = [
    "Learning",
    "SeasonalCounts",
    "ShareBaseline",
    "decode_arrays",
    "encode_arrays",
    "rate_for_half_life",
]

DAYS: Final = 7
#: Seasonal factors are kept within these bounds (a slot can be quiet, never impossible).
FACTOR_FLOOR: Final = 0.02
FACTOR_CEILING: Final = 50.0
#: The smallest forecast: a key that went silent still expects "almost nothing", never zero.
MEAN_FLOOR: Final = 1e-6
#: Hour-of-day counters stop here (the half-life has long taken over by then).
_COUNTER_MAX: Final = 65535.0
#: A busy key falls quiet again below this share of `Learning.busy_level` (hysteresis).
_QUIET_AGAIN: Final = 0.25
_THURSDAY: Final = 3  # 1970-01-01, day 0 of POSIX time, was a Thursday (Monday = 0)


def rate_for_half_life(updates: float) -> float:
    """The weight of a new observation that halves an old one's weight after `updates` updates."""
    if updates <= 0:
        return 1.0
    return 1.0 - 2.0 ** (-1.0 / updates)


@dataclass(frozen=True, slots=True)
class Learning:
    """How fast the baselines of one trigger learn (shared by all its keys)."""

    window: float
    level_rate: float
    daily_rate: float
    weekly_rate: float
    dispersion_rate: float
    #: Windows a key must have been learning for before it may alert.
    warmup: int
    #: Updates each hour-of-day slot gets per day, and each day-of-week slot per week.
    per_hour_slot: float = 1.0
    per_day_slot: float = 1.0
    #: Quantile of the forecast a learnt window is clipped to.
    robust_alpha: float = 1e-3
    #: The dispersion assumed before a key has shown its own, and its weight in windows.
    prior_dispersion: float = 0.5
    prior_windows: int = 0
    #: The weight, in windows, of the flat day each hour-of-day factor starts from.
    profile_prior: float = 1.0
    #: Mentions per window (the level) from which a key learns a profile and a dispersion.
    busy_level: float = 1.0

    @classmethod
    def from_half_lives(
        cls,
        window: float,
        *,
        level: float,
        daily: float,
        weekly: float,
        dispersion: float,
        warmup: float,
        robust_alpha: float = 1e-3,
    ) -> Learning:
        """Half-lives and warm-up in seconds of event time, converted into per-update rates."""
        seasonal = window < 86400
        per_hour_slot = max(1.0, 3600.0 / window)
        per_day_slot = 86400.0 / window
        return cls(
            window=window,
            level_rate=rate_for_half_life(level / window),
            daily_rate=rate_for_half_life(daily / 86400 * per_hour_slot) if seasonal else 0.0,
            weekly_rate=rate_for_half_life(weekly / (7 * 86400) * per_day_slot) if seasonal else 0.0,
            dispersion_rate=rate_for_half_life(dispersion / window),
            warmup=max(1, math.ceil(warmup / window)),
            per_hour_slot=per_hour_slot,
            per_day_slot=per_day_slot,
            robust_alpha=robust_alpha,
            prior_windows=max(1, round(86400 / window)),
        )

    @property
    def windows_per_day(self) -> int:
        return max(1, round(86400 / self.window))


def _slots(start: float) -> tuple[int, int]:
    day = int(start // 86400)
    return int(start // 3600) % HOURS, HOURS + (day + _THURSDAY) % DAYS


class SeasonalCounts:
    """The learnt forecast of one key's window counts (see the module docstring)."""

    def __init__(self, level: float = 0.0, spread: float = 0.0, scale: float = 0.0,
                 seen: int = 0, profile: array[float] | None = None,
                 hours: array[int] | None = None) -> None:
        self.level = level
        #: Exponentially weighted sums of (x - μ)² - μ and of μ²: their ratio is the dispersion.
        self.spread = spread
        self.scale = scale
        #: Windows learnt so far.
        self.seen = seen
        #: 24 hour-of-day factors, 7 day-of-week factors, each near 1 (None while quiet).
        self.profile = profile
        #: Windows each hour-of-day factor has learnt from (None while quiet).
        self.hours = hours

    def row(self) -> tuple[float, float, float, int, array[float] | None, array[int] | None]:
        """The fields as a checkpoint writes them (`records.CountsRecord`'s array)."""
        return (self.level, self.spread, self.scale, self.seen, self.profile, self.hours)

    @staticmethod
    def from_record(record: CountsRecord) -> SeasonalCounts:
        return SeasonalCounts(record.level, record.spread, record.scale, record.seen,
                              record.profile, record.hours)

    @property
    def busy(self) -> bool:
        return self.profile is not None

    def mean(self, start: float) -> float:
        """Forecast count of the window starting at `start`."""
        profile = self.profile
        if profile is None:
            return max(self.level, MEAN_FLOOR)
        hour, weekday = _slots(start)
        return max(self.level * profile[hour] * profile[weekday], MEAN_FLOOR)

    def dispersion(self, learning: Learning) -> float:
        """The learnt dispersion; a quiet key's is the prior once the first day is over.

        During its first day a key learns no dispersion (`_dispersion_age`), busy or quiet, and
        is tested as Poisson: the prior alone would make a key at a few mentions per window
        deaf to a burst ten times its level until the next day."""
        if self.profile is None:
            if self._dispersion_age(self.seen, learning) < 0:
                return 0.0
            return learning.prior_dispersion
        if self.scale <= 0.0:
            return 0.0
        return max(self.spread / self.scale, 0.0)

    def warm(self, learning: Learning) -> bool:
        return self.seen >= learning.warmup

    def learn(self, start: float, count: float, learning: Learning) -> None:
        """Teach the baseline one closed window (robustly once warm)."""
        seen = self.seen
        since = self._dispersion_age(seen, learning)
        profile = self.profile
        if profile is None:
            if since < 0 or self.level < learning.busy_level:
                self._learn_quiet(start, count, learning)
                return
            profile = self._become_busy()
        hour, weekday = _slots(start)
        daily, weekly = profile[hour], profile[weekday]
        level = self.level
        mean = max(level * daily * weekly, MEAN_FLOOR)
        warm = seen >= learning.warmup
        value = float(count)
        if warm and value > 1.0:
            dispersion = self.dispersion(learning)
            if value > mean + 3.0 * math.sqrt(mean + dispersion * mean * mean):
                value = min(value, float(count_isf(learning.robust_alpha, mean, dispersion)))
        if since >= 0 and level > 0.0:
            self._start_dispersion(mean, learning)
            rate = max(1.0 / (since + 1 + learning.prior_windows), learning.dispersion_rate)
            self.spread += rate * ((value - mean) ** 2 - mean - self.spread)
            self.scale += rate * (mean * mean - self.scale)
        level_rate = learning.level_rate if warm else max(1.0 / (seen + 1), learning.level_rate)
        level += level_rate * (value / (daily * weekly) - level)
        self.level = level
        if level > 0.0 and since >= 0 and learning.daily_rate > 0.0:
            # The first day only sets the level (a day's mean is what the hour-of-day factors
            # are ratios to); then each hour's factor is a running mean of its ratios, with an
            # hour of windows at 1 (a flat day) as its prior, and settles into its half-life:
            # a new key knows the shape of its day after a few.
            hours = self.hours
            assert hours is not None
            learnt = float(hours[hour])
            daily_rate = max(learning.daily_rate, 1.0 / (learnt + 1.0 + learning.profile_prior))
            hours[hour] = int(min(learnt + 1.0, _COUNTER_MAX))
            daily += daily_rate * (value / (level * weekly) - daily)
            daily = min(max(daily, FACTOR_FLOOR), FACTOR_CEILING)
            weekly += learning.weekly_rate * (value / (level * daily) - weekly)
            profile[hour] = daily
            profile[weekday] = min(max(weekly, FACTOR_FLOOR), FACTOR_CEILING)
        self.seen = seen + 1
        if self.seen % learning.windows_per_day == 0:
            self._normalise()
        if self.level < learning.busy_level * _QUIET_AGAIN:
            self._become_quiet()

    def _learn_quiet(self, start: float, count: float, learning: Learning) -> None:
        """A quiet key learns its level alone, robustly once warm."""
        seen = self.seen
        level = self.level
        value = float(count)
        if value > 1.0 and seen >= learning.warmup:
            mean = max(level, MEAN_FLOOR)
            dispersion = self.dispersion(learning)
            if value > mean + 3.0 * math.sqrt(mean + dispersion * mean * mean):
                value = min(value, float(count_isf(learning.robust_alpha, mean, dispersion)))
        rate = learning.level_rate if seen >= learning.warmup else max(1.0 / (seen + 1),
                                                                        learning.level_rate)
        self.level = level + rate * (value - level)
        self.seen = seen + 1

    def learn_run(self, start: float, count: float, silence: int, learning: Learning) -> None:
        """Teach a window of `count` mentions starting at `start`, then `silence` empty ones.

        What a key that is mentioned now and then does on each mention; a quiet key does it in
        closed form, in a few float operations."""
        seen = self.seen
        if self.profile is not None or (
                self.level >= learning.busy_level and self._dispersion_age(seen, learning) >= 0):
            self.learn(start, count, learning)
            if silence:
                self.learn_silence(start + learning.window, silence, learning)
            return
        warmup = learning.warmup
        level = self.level
        value = float(count)
        if value > 1.0 and seen >= warmup:
            mean = max(level, MEAN_FLOOR)
            dispersion = self.dispersion(learning)
            if value > mean + 3.0 * math.sqrt(mean + dispersion * mean * mean):
                value = min(value, float(count_isf(learning.robust_alpha, mean, dispersion)))
        level_rate = learning.level_rate
        level += (level_rate if seen >= warmup else max(1.0 / (seen + 1), level_rate)) * (
            value - level)
        seen += 1
        if silence:
            running = min(silence, max(0, warmup - seen))
            if running:
                level *= seen / (seen + running)
            if silence > running:
                level *= (1.0 - level_rate) ** (silence - running)
            seen += silence
        self.level = level
        self.seen = seen

    def learn_silence(self, start: float, windows: int, learning: Learning) -> None:
        """Teach `windows` empty windows from `start` on, in closed form.

        An empty window decays the level, and adds (μ² - μ, μ²) to the dispersion sums; over a
        silence both are geometric series, summed here with μ the forecast at its start. The
        seasonal profile is left as it was: a stretch of nothing says little about the shape of
        a day. So a key that is mentioned once an hour costs O(1) per mention, not O(windows).
        """
        if windows <= 0:
            return
        if windows == 1 and self.profile is not None:
            self.learn(start, 0, learning)
            return
        seen = self.seen
        if self.profile is not None:
            mean = self.mean(start)
            since = self._dispersion_age(seen, learning)
            counted = min(windows, since + windows)
            if counted > 0 and self.level > 0.0:
                self._start_dispersion(mean, learning)
                # A running mean while young, an exponential average after: keep the larger
                # share.
                young = max(since, 0) + 1 + learning.prior_windows
                keep = max(young / (young + counted), (1.0 - learning.dispersion_rate) ** counted)
                self.spread = self.spread * keep + (mean * mean - mean) * (1.0 - keep)
                self.scale = self.scale * keep + mean * mean * (1.0 - keep)
        if seen + windows <= learning.warmup:
            # Still a running mean: the zeros simply join the average.
            self.level *= seen / (seen + windows)
        else:
            running = min(windows, max(0, learning.warmup - seen))
            if running:
                self.level *= seen / (seen + running)
            self.level *= (1.0 - learning.level_rate) ** (windows - running)
        self.seen = seen + windows
        if self.profile is not None:
            if seen // learning.windows_per_day != self.seen // learning.windows_per_day:
                self._normalise()
            if self.level < learning.busy_level * _QUIET_AGAIN:
                self._become_quiet()

    @staticmethod
    def _dispersion_age(seen: int, learning: Learning) -> int:
        """Windows the dispersion has learnt from: it starts when the hour-of-day factors do
        (after the first day), lest the errors of the first hours make the key deaf for days."""
        return seen - learning.windows_per_day if learning.daily_rate > 0.0 else seen

    def _become_busy(self) -> array[float]:
        """Start learning a flat profile and, from the prior, a dispersion."""
        self.profile = profile = array("f", [1.0] * PROFILE_SIZE)
        self.hours = array("H", bytes(2 * HOURS))
        self.spread = self.scale = 0.0
        return profile

    def _become_quiet(self) -> None:
        self.profile = self.hours = None
        self.spread = self.scale = 0.0

    def _start_dispersion(self, mean: float, learning: Learning) -> None:
        """Before its first window, the dispersion is a prior: social mention counts are bursty,
        as if a day of windows had shown `prior_dispersion`; the key's own windows take over."""
        if self.scale == 0.0:
            self.scale = mean * mean
            self.spread = learning.prior_dispersion * self.scale

    def _normalise(self) -> None:
        """Keep each profile's mean at 1, moving the scale into the level."""
        profile = self.profile
        if profile is None:
            return
        daily_mean = sum(profile[:HOURS]) / HOURS
        weekly_mean = sum(profile[HOURS:]) / DAYS
        if daily_mean <= 0 or weekly_mean <= 0:
            return
        for index in range(HOURS):
            profile[index] /= daily_mean
        for index in range(HOURS, PROFILE_SIZE):
            profile[index] /= weekly_mean
        self.level *= daily_mean * weekly_mean

    def dump(self) -> bytes:
        return msgspec.msgpack.encode(self.row(), enc_hook=encode_arrays)

    @staticmethod
    def load(data: bytes) -> SeasonalCounts:
        return SeasonalCounts.from_record(
            msgspec.msgpack.decode(data, type=CountsRecord, dec_hook=decode_arrays))


class ShareBaseline:
    """The usual share of a window's mentions that count (negative ones, a competitor's)."""

    def __init__(self, hits: float = 0.0, trials: float = 0.0, chi: float = 1.0,
                 seen: int = 0) -> None:
        #: Exponentially weighted sums of counted and of all mentions per window.
        self.hits = hits
        self.trials = trials
        #: Exponentially weighted Pearson χ² per window: scatter beyond binomial noise (≥ 1).
        self.chi = chi
        self.seen = seen

    def row(self) -> tuple[float, float, float, int]:
        """The fields as a checkpoint writes them (`records.SharesRecord`'s array)."""
        return (self.hits, self.trials, self.chi, self.seen)

    @staticmethod
    def from_record(record: SharesRecord) -> ShareBaseline:
        return ShareBaseline(record.hits, record.trials, record.chi, record.seen)

    def share(self) -> float:
        return self.hits / self.trials if self.trials > 0 else 0.0

    def dispersion(self) -> float:
        return max(self.chi, 1.0)

    def warm(self, learning: Learning) -> bool:
        return self.seen >= learning.warmup and self.trials > 0

    def learn(self, hits: int, trials: int, learning: Learning) -> None:
        if trials <= 0:
            return
        share = self.share()
        value = float(hits)
        if self.seen > 0 and 0.0 < share < 1.0:
            spread = math.sqrt(self.dispersion() * trials * share * (1.0 - share))
            value = min(value, trials * share + 3.0 * spread + 1.0)
            pearson = (value - trials * share) ** 2 / (trials * share * (1.0 - share))
            rate = max(1.0 / (self.seen + 1), learning.dispersion_rate)
            self.chi += rate * (pearson - self.chi)
        rate = max(1.0 / (self.seen + 1), learning.level_rate)
        self.hits += rate * (value - self.hits)
        self.trials += rate * (trials - self.trials)
        self.seen += 1

    def dump(self) -> bytes:
        return msgspec.msgpack.encode(self.row())

    @staticmethod
    def load(data: bytes) -> ShareBaseline:
        return ShareBaseline.from_record(msgspec.msgpack.decode(data, type=SharesRecord))
