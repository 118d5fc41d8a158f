"""competitor_surge on constructed streams: a rival's chatter surging, a rival taking share of
voice from the brand, quiet otherwise, resolves, and survives restarts without alerting twice."""

from __future__ import annotations

from datetime import timedelta

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
RIVAL = "rivaljet is cheaper"
BRAND = "flying @acme"


def configure(harness: Harness, **options: object) -> Harness:
    return harness.configure(
        watch={"brand": WATCH.brand, "accounts": WATCH.accounts,
               "competitors": {"rivaljet": ["rivaljet"], "skyco": ["skyco"]}},
        triggers={"rivals": {"type": "competitor_surge", "window": "5m",
                             "resolve_after": "1h", **options}},
    )


def market(days: int, brand: float, rival: float, seed: int = 11) -> Stream:
    def shaped(peak: float):
        return lambda at: daily_rhythm(at.hour + at.minute / 60, peak / 5, peak)

    stream = Stream(seed=seed)
    stream.add_windows(START, days * WINDOWS, shaped(brand), brand_mention(BRAND))
    stream.add_windows(START, days * WINDOWS, shaped(rival), brand_mention(RIVAL))
    return stream


async def test_quiet_on_an_ordinary_market(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "rivals")
    stream = market(4, brand=60, rival=20)
    # The brand's own buzz is volume_spike's business, not a competitor surge.
    stream.add_burst(START + 3 * DAY + timedelta(hours=12), 400, brand_mention(BRAND))
    run = await drive(trigger, stream.sorted())
    assert run.events == []


async def test_fires_on_a_rival_surge(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "rivals")
    stream = market(4, brand=60, rival=20)
    surge_at = START + 3 * DAY + timedelta(hours=9)
    stream.add_burst(surge_at, 300, brand_mention("rivaljet launches transatlantic"))
    run = await drive(trigger, stream.sorted())
    alert = next(a for a in run.opened if a.channel == "*")
    assert (alert.kind, alert.subject) == ("competitor_surge", "competitor:rivaljet")
    assert surge_at <= alert.opened_at < surge_at + timedelta(minutes=5)
    evidence = alert.evidence
    assert evidence["factor"] >= 2 and evidence["p_value"] <= 1e-6
    assert {"observed", "expected", "z", "window", "surprise"} <= evidence.keys()
    assert "competitor:rivaljet" in alert.summary


async def test_fires_on_a_shift_in_share_of_voice(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness), "rivals")
    stream = Stream(seed=13)
    stream.add_windows(START, 4 * WINDOWS, lambda at: 80.0, brand_mention(BRAND))
    stream.add_windows(START, 4 * WINDOWS, lambda at: 20.0, brand_mention(RIVAL))
    # The rival's volume stays ordinary, but the talk about the brand falls away: the rival
    # now holds most of the conversation.
    for index in range(6):
        at = START + 4 * DAY + index * timedelta(minutes=5)
        stream.add_burst(at, 8, brand_mention(BRAND))
        stream.add_burst(at, 22, brand_mention(RIVAL))
    run = await drive(trigger, stream.sorted())
    alert = next(a for a in run.opened if a.channel == "*")
    evidence = alert.evidence
    assert alert.subject == "competitor:rivaljet"
    assert evidence["test"] == "share"
    assert evidence["expected_share"] < 0.25 and evidence["share"] > 0.6
    assert "of the conversation against the brand" in alert.summary


async def test_only_the_named_competitors(sentineld_harness: Harness) -> None:
    trigger = build_trigger(configure(sentineld_harness, competitors=["skyco"]), "rivals")
    stream = market(4, brand=60, rival=20)
    stream.add_burst(START + 3 * DAY + timedelta(hours=9), 300, brand_mention(RIVAL))
    run = await drive(trigger, stream.sorted())
    assert run.events == []


async def test_resolves_and_restarts_without_repeating(sentineld_harness: Harness) -> None:
    configure(sentineld_harness)
    stream = market(4, brand=60, rival=20)
    surge_at = START + 3 * DAY + timedelta(hours=9)
    stream.add_burst(surge_at, 300, brand_mention(RIVAL))
    mentions = stream.sorted()
    whole = await drive(build_trigger(sentineld_harness, "rivals"), mentions)
    assert whole.opened and {a.id for a in whole.resolved} == {a.id for a in whole.opened}

    before, after = split_at(mentions, surge_at + timedelta(minutes=3))
    first = build_trigger(sentineld_harness, "rivals")
    manager = AlertManager()
    part = await drive(first, before, manager=manager)
    second = build_trigger(sentineld_harness, "rivals")
    second.restore(roundtrip(first.snapshot()))
    restored = AlertManager()
    restored.restore(roundtrip(manager.snapshot()))
    rest = await drive(second, after, manager=restored)
    assert part.opened and not rest.opened

    def keyed(events):
        return [(e.event, e.alert.id, e.alert.opened_at, e.alert.resolved_at) for e in events]

    assert keyed(part.events + rest.events) == keyed(whole.events)
