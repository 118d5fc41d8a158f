"""negativity_spike on constructed streams: negative count and negative share, quiet on a steady
sour fraction, resolves, and survives restarts without alerting twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sentineld.alerting import AlertManager
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
WINDOWS = 288
NEGATIVE = {"sentiment": "negative"}
NEUTRAL = {"sentiment": "neutral"}


def configure(harness: Harness, **options: object) -> Harness:
    return harness.configure(
        watch={"brand": WATCH.brand, "accounts": WATCH.accounts},
        triggers={"anger": {"type": "negativity_spike", "window": "5m",
                            "resolve_after": "1h", **options}},
    )


def conversation(days: int, total: float, negative_share: float, seed: int = 3) -> Stream:
    """A day-shaped conversation about the brand, a fixed share of it negative."""
    def rate(share: float):
        return lambda at: share * daily_rhythm(at.hour + at.minute / 60, total / 4, total)

    stream = Stream(seed=seed)
    stream.add_windows(START, days * WINDOWS, rate(1 - negative_share),
                       brand_mention("on @acme again", labels=NEUTRAL))
    stream.add_windows(START, days * WINDOWS, rate(negative_share),
                       brand_mention("@acme never again, awful", labels=NEGATIVE))
    return stream


async def test_quiet_on_a_steady_sour_fraction(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "anger")
    run = await drive(trigger, conversation(4, total=80, negative_share=0.15).sorted())
    assert run.events == []


async def test_fires_on_a_negative_count_spike(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "anger")
    stream = conversation(4, total=80, negative_share=0.1)
    burst_at = START + 3 * DAY + timedelta(hours=15)
    stream.add_burst(burst_at, 150, brand_mention("@acme cancelled my flight, disgrace",
                                                  labels=NEGATIVE))
    run = await drive(trigger, stream.sorted())
    alert = next(a for a in run.opened if a.channel == "*")
    assert (alert.kind, alert.subject) == ("negativity_spike", "brand")
    assert burst_at <= alert.opened_at < burst_at + timedelta(minutes=5)
    evidence = alert.evidence
    assert evidence["observed"] >= 10 and evidence["factor"] >= 2
    assert evidence["p_value"] <= 1e-6
    assert {"expected", "z", "window", "window_start", "surprise"} <= evidence.keys()
    assert "negative" in alert.summary


async def test_fires_on_the_share_turning_sour_at_the_same_volume(
    sentineld_harness: Harness,
) -> None:
    trigger = build_trigger(configure(sentineld_harness), "anger")
    # 100 mentions a window, a tenth of them negative…
    stream = Stream(seed=5)
    flat = lambda at: 90.0  # noqa: E731
    stream.add_windows(START, 4 * WINDOWS, flat, brand_mention("@acme", labels=NEUTRAL))
    stream.add_windows(START, 4 * WINDOWS, lambda at: 10.0,
                       brand_mention("@acme awful", labels=NEGATIVE))
    # …then the volume drops to 20 a window while 12 of them are negative: no more negative
    # mentions than usual, but the conversation has turned.
    turn = START + 4 * DAY
    for index in range(6):
        at = turn + index * timedelta(minutes=5)
        stream.add_burst(at, 8, brand_mention("@acme", labels=NEUTRAL))
        stream.add_burst(at, 12, brand_mention("@acme awful", labels=NEGATIVE))
    run = await drive(trigger, stream.sorted())
    alert = next(a for a in run.opened if a.channel == "*")
    evidence = alert.evidence
    assert evidence["test"] == "share"
    assert evidence["rule"] == "two windows in a row"
    assert evidence["expected_share"] < 0.15 and evidence["share"] > 0.5
    assert evidence["observed"] <= 14  # the negative count itself is ordinary
    assert "% of mentions of brand on all channels are negative" in alert.summary


async def test_share_can_be_turned_off(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness, share=False), "anger")
    stream = Stream(seed=5)
    stream.add_windows(START, 4 * WINDOWS, lambda at: 90.0, brand_mention("@acme", labels=NEUTRAL))
    stream.add_windows(START, 4 * WINDOWS, lambda at: 10.0,
                       brand_mention("@acme awful", labels=NEGATIVE))
    for index in range(6):
        at = START + 4 * DAY + index * timedelta(minutes=5)
        stream.add_burst(at, 8, brand_mention("@acme", labels=NEUTRAL))
        stream.add_burst(at, 12, brand_mention("@acme awful", labels=NEGATIVE))
    run = await drive(trigger, stream.sorted())
    assert run.events == []


async def test_resolves_when_the_anger_passes(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "anger")
    stream = conversation(4, total=80, negative_share=0.1)
    burst_at = START + 3 * DAY + timedelta(hours=15)
    stream.add_burst(burst_at, 150, brand_mention("@acme disgrace", labels=NEGATIVE))
    run = await drive(trigger, stream.sorted())
    opened = {a.id for a in run.opened}
    assert opened and {a.id for a in run.resolved} == opened
    assert all(a.resolved_at > burst_at + timedelta(hours=1) for a in run.resolved)  # type: ignore[operator]


async def test_restart_from_a_snapshot_repeats_nothing(sentineld_harness: Harness) -> None:
    configure(sentineld_harness)
    stream = conversation(4, total=80, negative_share=0.1)
    burst_at = START + 3 * DAY + timedelta(hours=15)
    stream.add_burst(burst_at, 150, brand_mention("@acme disgrace", labels=NEGATIVE))
    mentions = stream.sorted()
    whole = await drive(build_trigger(sentineld_harness, "anger"), mentions)
    before, after = split_at(mentions, burst_at + timedelta(minutes=4))
    first = build_trigger(sentineld_harness, "anger")
    manager = AlertManager()
    part = await drive(first, before, manager=manager)
    second = build_trigger(sentineld_harness, "anger")
    second.restore(roundtrip(first.snapshot()))
    restored = AlertManager()
    restored.restore(roundtrip(manager.snapshot()))
    rest = await drive(second, after, manager=restored)
    assert part.opened and not rest.opened
    assert _keyed(part.events + rest.events) == _keyed(whole.events)


async def test_restart_through_the_real_pipeline(harness: Harness) -> None:
    configure(harness)
    stream = conversation(4, total=40, negative_share=0.1)
    burst_at = START + 3 * DAY + timedelta(hours=15)
    stream.add_burst(burst_at, 120, brand_mention("@acme disgrace", labels=NEGATIVE))
    mentions = stream.sorted()
    before, _ = split_at(mentions, burst_at + timedelta(minutes=10))
    first = await harness.replay(before, keep_state=True)
    assert {a.kind for a in first.opened} == {"negativity_spike"}
    second = await harness.replay(mentions, keep_state=True)
    assert second.opened == []
    assert {a.id for a in second.resolved} == {a.id for a in first.opened}


def _keyed(events) -> list[tuple[str, str, datetime, datetime | None]]:
    return [(e.event, e.alert.id, e.alert.opened_at, e.alert.resolved_at) for e in events]
