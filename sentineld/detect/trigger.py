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
go, in closed form while it is quiet (docs/decisions/0205). State per key is O(1), checkpointed
as msgpack arrays (0206) of which only the keys that changed are encoded again (0230), and the
number of keys is capped (`max_keys`: the least recently seen without an open alert are
forgotten first).

The keys (`Series`) and their windows (`CountKeys`) are in `sentineld.detect.keys`, native
classes compiled with mypyc (decision 0230); `CountTrigger`, the plugins' base class, stays an
ordinary Python class (a compiled class cannot be subclassed by plugins) that hands each
mention to its `CountKeys` and converts the keys to and from checkpoints.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Final

import msgspec

from sentineld.components import AlertSink, Trigger
from sentineld.detect.baseline import SeasonalCounts, ShareBaseline
from sentineld.detect.keys import RECENT, CountKeys, Series
from sentineld.detect.options import CountOptions
from sentineld.detect.records import PROFILE_SIZE, SeriesRecord, decode_arrays, encode_arrays
from sentineld.model import Mention

__all__ = ["CountKeys", "CountOptions", "CountTrigger", "Series"]

SNAPSHOT_VERSION: Final = 4
_ENCODER: Final = msgspec.msgpack.Encoder(enc_hook=encode_arrays)
_DECODER: Final = msgspec.msgpack.Decoder(list[SeriesRecord], dec_hook=decode_arrays)
#: Version 3 checkpoints (read on upgrade): each key's numbers packed as slice, count, total,
#: prev, tumble, tumble_total, hot_bits, open, last_hot, level, spread, scale, seen, hits,
#: trials, chi, share seen; a profile of 24 + 7 factors and 24 counters, all float32.
_V3_NUMBERS: Final = struct.Struct("<q6I?d3dq3dq")
_V3_PROFILE: Final = 55


class CountTrigger(Trigger):
    """Base class: subclasses route each mention to keys in `observe` via `add` (or, in a
    loop, `self.keys.add`)."""

    #: Whether keys also test the share count/total against a `ShareBaseline`.
    share_test: ClassVar[bool] = False

    def __init__(self, options: CountOptions, context: Any) -> None:
        super().__init__(options, context)
        self.keys = CountKeys(self, options, self.share_test)
        self.window = self.keys.window
        self.slices = self.keys.slices
        self.step = self.keys.step
        self.learning = self.keys.learning

    @property
    def series(self) -> dict[tuple[str, str], Series]:
        """The keys, by (subject, channel)."""
        return self.keys.series

    @property
    def deadlines(self) -> list[tuple[float, str, str]]:
        return self.keys.deadlines

    def add(self, subject: str, channel: str, mention: Mention, moment: float, hit: bool,
            alerts: AlertSink) -> None:
        """Count `mention` for one key: in the total, and in the count when `hit`."""
        self.keys.add(subject, channel, mention, moment, hit, alerts)

    def channels(self, mention: Mention) -> tuple[str, ...]:
        return ("*", mention.source) if self.options.per_channel else ("*",)

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        self.keys.tick(now.timestamp(), alerts)

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

    # ------------------------------------------------------------------ state

    def snapshot(self) -> Any:
        """All keys, encoded at the barrier (each a msgpack array, profiles as raw bytes), so
        that the checkpoint holds the state of exactly that moment; a key that has not changed
        since the last checkpoint is not encoded again (`CountKeys.rows`)."""
        return {"version": SNAPSHOT_VERSION, "window": self.window, "slices": self.slices,
                "series": _ENCODER.encode(self.keys.rows(_ENCODER.encode))}

    def restore(self, state: Any) -> None:
        self.keys.reopen([])
        if not state:
            return
        if state.get("window") != self.window or state.get("slices") != self.slices:
            self.log.warning("window or slices changed since the checkpoint; baselines start afresh")
            return
        version = state.get("version")
        try:
            if version == SNAPSHOT_VERSION:
                keys = [Series.from_record(record) for record in _DECODER.decode(state["series"])]
            elif version == 3:
                keys = [self._from_version_3(row) for row in state["series"]]
            else:
                self.log.warning("checkpoint from another version; baselines start afresh",
                                 version=version)
                return
        except (msgspec.DecodeError, ValueError, TypeError, struct.error) as exc:
            self.log.error("unreadable checkpoint; baselines start afresh", error=str(exc))
            return
        self.keys.reopen(keys)

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
