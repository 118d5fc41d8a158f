"""volume_spike on constructed streams: quiet on a daily rhythm and on low volume, fires early on
a burst with its evidence, resolves, and survives restarts without alerting twice."""

from __future__ import annotations

import struct
from array import array
from datetime import timedelta
from typing import Any

import pytest

from sentineld.alerting import AlertManager
from sentineld.detect import count_sf
from sentineld.testing import Harness

from .streams import (
    START,
    WATCH,
    Stream,
    brand_mention,
    build_trigger,
    daily_rhythm,
    drive,
    roundtrip,
    split_at,
)

DAY = timedelta(days=1)
WINDOWS_PER_DAY = 288


def configure(harness: Harness, **options: object) -> Harness:
    return harness.configure(
        watch={"brand": WATCH.brand, "accounts": WATCH.accounts},
        triggers={"buzz": {"type": "volume_spike", "window": "5m",
                           "resolve_after": "1h", **options}},
    )


def rhythm(low: float = 3.0, high: float = 60.0):
    return lambda at: daily_rhythm(at.hour + at.minute / 60, low, high)


def steady_days(days: int, *, low: float = 3.0, high: float = 60.0, seed: int = 7,
                source: str = "bluesky") -> Stream:
    return Stream(seed=seed).add_windows(START, days * WINDOWS_PER_DAY, rhythm(low, high),
                                         brand_mention(source=source))


async def test_quiet_on_a_daily_rhythm(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    stream = steady_days(5)
    run = await drive(trigger, stream.sorted())
    assert run.events == []
    # It stayed quiet because it learnt the day, not because it was deaf: the forecast at the
    # 16:00 peak is many times the 04:00 trough.
    series = trigger.series[("brand", "*")]  # type: ignore[attr-defined]
    peak = series.counts.mean((START + 5 * DAY + timedelta(hours=16)).timestamp())
    trough = series.counts.mean((START + 5 * DAY + timedelta(hours=4)).timestamp())
    assert peak / trough > 8


async def test_fires_early_on_a_burst_with_its_evidence(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    burst_at = START + 3 * DAY + timedelta(hours=10)
    stream = steady_days(4)
    stream.add_burst(burst_at, 400, brand_mention("@acme lost every bag on the flight"))
    run = await drive(trigger, stream.sorted())
    opened = [a for a in run.opened if a.channel == "*"]
    assert len(opened) == 1
    alert = opened[0]
    assert (alert.kind, alert.subject, alert.severity) == ("volume_spike", "brand", "high")
    # Opened on the mention that made the window unusual, before the burst was over.
    assert burst_at <= alert.opened_at < burst_at + timedelta(minutes=4)
    assert alert.evidence["observed"] < 400
    evidence = alert.evidence
    assert evidence["window"] == "5m"
    assert evidence["observed"] >= 10
    assert evidence["factor"] >= 2
    assert evidence["p_value"] <= 1e-12
    assert evidence["z"] > 5
    assert 0 < evidence["expected"] < 60
    assert evidence["observed"] / evidence["expected"] == pytest.approx(evidence["factor"], rel=0.01)
    assert "x the expected" in alert.summary and "brand" in alert.summary
    assert alert.mentions and all(m.startswith("bluesky:") for m in alert.mentions)


async def test_alert_lists_the_burst_not_the_chatter_before_it(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    # The burst starts three minutes into a window that has already seen its usual chatter.
    window = START + 3 * DAY + timedelta(hours=14)
    stream = steady_days(4)
    stream.add_burst(window + timedelta(minutes=3), 600, brand_mention("@acme lost every bag"),
                     over=timedelta(minutes=2))
    run = await drive(trigger, stream.sorted())
    alert = next(a for a in run.opened if a.channel == "*")
    burst = {m.id for m in stream.mentions if m.text == "@acme lost every bag"}
    # Listed: the mentions that took the window beyond its forecast, i.e. the burst's.
    assert alert.mentions
    assert sum(m in burst for m in alert.mentions) >= 0.9 * len(alert.mentions)


async def test_low_volume_zero_to_two_is_not_a_crisis(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    stream = steady_days(3, low=0.01, high=0.1)
    quiet = START + 3 * DAY + timedelta(hours=4)
    for hour, count in enumerate([2, 3, 5, 8]):
        stream.add_burst(quiet + timedelta(hours=hour), count, brand_mention())
    run = await drive(trigger, stream.sorted())
    assert run.events == []
    # The counts were improbable — a Gaussian z-score would have screamed — but they are a
    # handful of mentions: the min_count floor holds them back.
    assert count_sf(5, 0.05, 0.0) < 1e-8


async def test_low_volume_real_burst_fires(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    stream = steady_days(3, low=0.01, high=0.1)
    stream.add_burst(START + 3 * DAY + timedelta(hours=4), 40, brand_mention())
    run = await drive(trigger, stream.sorted())
    assert [a.channel for a in run.opened] == ["*", "bluesky"]


async def test_resolves_when_the_burst_is_over(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    burst_at = START + 3 * DAY + timedelta(hours=10)
    stream = steady_days(4)
    stream.add_burst(burst_at, 400, brand_mention())
    run = await drive(trigger, stream.sorted())
    resolved = [a for a in run.resolved if a.channel == "*"]
    assert len(resolved) == 1
    assert resolved[0].resolved_at is not None
    # Resolved an hour (resolve_after) after the last unusual window.
    assert burst_at + timedelta(hours=1) <= resolved[0].resolved_at <= burst_at + timedelta(hours=2)


async def test_resolves_in_silence_through_ticks(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    burst_at = START + 3 * DAY + timedelta(hours=10)
    stream = steady_days(4)
    stream.add_burst(burst_at, 400, brand_mention())
    before, _ = split_at(stream.sorted(), burst_at + timedelta(minutes=5))
    run = await drive(trigger, before, until=burst_at + timedelta(hours=3))
    assert len([a for a in run.opened if a.channel == "*"]) == 1
    resolved = [a for a in run.resolved if a.channel == "*"]
    assert len(resolved) == 1
    # An hour (resolve_after) after the last window that held burst mentions.
    burst_end = burst_at + timedelta(minutes=5)
    assert burst_end + timedelta(hours=1) <= resolved[0].resolved_at
    assert resolved[0].resolved_at <= burst_end + timedelta(minutes=5, hours=1)
    assert resolved[0].resolved_at.second == 0
    # Nothing is left in the timer heap once no alert is open.
    assert trigger.deadlines == [] or all(  # type: ignore[attr-defined]
        not trigger.series[(s, c)].open for _, s, c in trigger.deadlines  # type: ignore[attr-defined]
    )


async def test_per_channel_burst_names_its_channel(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    stream = steady_days(4)
    stream.add_windows(START, 4 * WINDOWS_PER_DAY, lambda at: 0.5, brand_mention(source="reddit"))
    stream.add_burst(START + 3 * DAY + timedelta(hours=3), 60, brand_mention(source="reddit"))
    run = await drive(trigger, stream.sorted())
    # Sixty posts on a forum that sees one an hour are news there; on all channels together,
    # at a quiet hour, they are also well above the forecast.
    assert {a.channel for a in run.opened} >= {"reddit"}
    reddit = next(a for a in run.opened if a.channel == "reddit")
    assert reddit.evidence["expected"] < 2


async def test_subjects_option_limits_what_is_watched(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness, subjects=["competitor:rivaljet"]), "buzz")
    stream = steady_days(4)
    stream.add_burst(START + 3 * DAY + timedelta(hours=10), 400, brand_mention())
    run = await drive(trigger, stream.sorted())
    assert run.events == []


@pytest.mark.parametrize("checkpoint", ["current", "version 3"])
@pytest.mark.parametrize("slices", [1, 5])
async def test_restart_from_a_snapshot_repeats_nothing(sentineld_harness: Harness, slices: int,
                                                       checkpoint: str) -> None:
    configure(sentineld_harness, slices=slices)
    burst_at = START + 3 * DAY + timedelta(hours=10)
    stream = steady_days(4)
    stream.add_burst(burst_at, 400, brand_mention())
    mentions = stream.sorted()
    whole = await drive(build_trigger(sentineld_harness, "buzz"), mentions)

    # Crash in the middle of the burst, after the alert opened: the pipeline restores the last
    # checkpoint (trigger state and open alerts, through msgpack) and goes on.
    cut = burst_at + timedelta(minutes=4)
    before, after = split_at(mentions, cut)
    first = build_trigger(sentineld_harness, "buzz")
    manager = AlertManager()
    part = await drive(first, before, manager=manager)
    assert len([a for a in part.opened if a.channel == "*"]) == 1
    second = build_trigger(sentineld_harness, "buzz")
    # "version 3": the checkpoint an older sentineld wrote; an upgrade keeps what it learnt.
    state = first.snapshot() if checkpoint == "current" else version_3_snapshot(first)
    second.restore(roundtrip(state))
    assert set(second.series) == set(first.series)  # type: ignore[attr-defined]
    restored = AlertManager()
    restored.restore(roundtrip(manager.snapshot()))
    rest = await drive(second, after, manager=restored)

    def keyed(events):
        return [(e.event, e.alert.id, e.alert.opened_at, e.alert.resolved_at) for e in events]

    assert [e for e in rest.events if e.event == "opened"] == []
    assert keyed(part.events + rest.events) == keyed(whole.events)


def version_3_snapshot(trigger: Any) -> dict[str, Any]:
    """`trigger`'s state as sentineld wrote it before quiet keys and struct checkpoints: each
    key's numbers packed in one `bytes`, a 55-float profile and rings on every key."""
    numbers = struct.Struct("<q6I?d3dq3dq")
    rows = []
    for s in trigger.series.values():
        counts, shares = s.counts, s.shares
        if counts.profile is not None:
            profile = array("f", [*counts.profile, *counts.hours])
        else:
            profile = array("f", [1.0] * 31 + [0.0] * 24)
        size = 2 * trigger.slices
        ring = s.ring if s.ring is not None else [0] * size
        if s.ring is None:
            ring[s.slice % 2], ring[(s.slice + 1) % 2] = s.count, s.prev
        rows.append([
            s.subject, s.channel,
            numbers.pack(s.slice, s.count, s.total, s.prev, s.tumble, s.tumble_total, s.hot_bits,
                         s.open, s.last_hot, counts.level, counts.spread, counts.scale,
                         counts.seen, *((shares.hits, shares.trials, shares.chi, shares.seen)
                                        if shares else (0.0, 0.0, 1.0, 0))),
            profile.tobytes(), array("I", ring).tobytes(),
            array("I", s.totals or [0] * size).tobytes() if shares else None, list(s.recent),
        ])
    return {"version": 3, "window": trigger.window, "slices": trigger.slices, "series": rows}


async def test_restart_through_the_real_pipeline(harness: Harness) -> None:
    configure(harness)
    burst_at = START + 3 * DAY + timedelta(hours=10)
    stream = steady_days(4)
    stream.add_burst(burst_at, 400, brand_mention())
    mentions = stream.sorted()
    before, _ = split_at(mentions, burst_at + timedelta(minutes=10))
    first = await harness.replay(before, keep_state=True)
    assert [(a.kind, a.channel) for a in first.opened] == [("volume_spike", "*"),
                                                           ("volume_spike", "bluesky")]
    assert first.resolved == []
    # The same file grown by the rest of the stream, with the same state directory: the run
    # resumes from the stored cursor and checkpoint, so the burst is not alerted again.
    second = await harness.replay(mentions, keep_state=True)
    assert second.opened == []
    assert {a.id for a in second.resolved} == {a.id for a in first.opened}


async def test_keys_are_capped_and_open_alerts_kept(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness, max_keys=50), "buzz")
    stream = steady_days(4, source="hot")
    stream.add_burst(START + 3 * DAY + timedelta(hours=10), 400, brand_mention(source="hot"))
    for index in range(200):
        stream.add_burst(START + 3 * DAY + timedelta(hours=10, minutes=10, seconds=index), 1,
                         brand_mention(source=f"site{index}"))
    before, _ = split_at(stream.sorted(), START + 3 * DAY + timedelta(hours=10, minutes=20))
    await drive(trigger, before)
    series = trigger.series  # type: ignore[attr-defined]
    assert len(series) <= 50
    assert series[("brand", "hot")].open and series[("brand", "*")].open


async def test_sliding_windows_keep_a_straddling_burst_whole(sentineld_harness: Harness) -> None:
    # 300 mentions in five minutes that straddle a window boundary: tumbling windows see two
    # halves, each unusual but neither extreme, so the run rule opens the alert in the second;
    # sliding windows (a minute a slice) see the burst whole and open it sooner, on their own.
    boundary = START + 3 * DAY + timedelta(hours=10)
    stream = steady_days(4)
    stream.add_burst(boundary - timedelta(minutes=2, seconds=30), 300, brand_mention())
    mentions = stream.sorted()
    tumbling = await drive(build_trigger(configure(sentineld_harness), "buzz"), mentions)
    sliding = await drive(build_trigger(configure(sentineld_harness, slices=5), "buzz"), mentions)
    halves = next(a for a in tumbling.opened if a.channel == "*")
    whole = next(a for a in sliding.opened if a.channel == "*")
    assert halves.evidence["rule"] == "two windows in a row"
    assert halves.opened_at >= boundary
    assert whole.evidence["rule"] == "one window"
    assert whole.opened_at < halves.opened_at
    assert whole.evidence["observed"] > halves.evidence["previous_window"]


def test_an_unreadable_checkpoint_starts_afresh(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "buzz")
    trigger.restore({"version": 4, "window": 300.0, "slices": 1, "series": b"\x93not keys"})
    assert trigger.series == {}  # type: ignore[attr-defined]
    trigger.restore({"version": 3, "window": 300.0, "slices": 1,
                     "series": [["brand", "*", b"short", b"", b"", None, []]]})
    assert trigger.series == {}  # type: ignore[attr-defined]


async def test_a_burst_after_a_short_warm_up_fires(sentineld_harness: Harness) -> None:
    """Ten minutes at 4 mentions a minute, then 30 within 30 seconds: with a warm-up of 3
    one-minute windows the key has learnt its level (4) and the burst is far beyond it."""
    trigger = build_trigger(configure(sentineld_harness, window="1m", warmup=3, min_count=8),
                            "buzz")
    stream = Stream(seed=3)
    make = brand_mention()
    for minute in range(10):
        for k in range(4):
            stream.mentions.append(make(START + timedelta(minutes=minute, seconds=15 * k + 1), k))
    for k in range(30):
        stream.mentions.append(make(START + timedelta(minutes=10, seconds=5 + k), k))
    run = await drive(trigger, stream.sorted(), until=START + timedelta(minutes=12))
    opened = {(alert.subject, alert.channel) for alert in run.opened}
    assert ("brand", "*") in opened
