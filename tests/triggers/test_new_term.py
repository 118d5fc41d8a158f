"""new_term on constructed streams: a hashtag never seen with the brand appears at volume."""

from __future__ import annotations

import random
from datetime import timedelta

import msgspec

from sentineld.testing import EPOCH
from tests.triggers.helpers import scored

DAY = 24 * 60
EVERYDAY = ["flight", "delayed", "crew", "lounge", "seat", "#travel", "boarding", "luggage"]


def chatter(days: float, *, start: float = 0, every: float = 12, seed: int = 1) -> list:
    """Everyday talk about @acme: one mention every `every` minutes, a few everyday words each."""
    rng = random.Random(seed)
    stream, minute = [], start
    while minute < start + days * DAY:
        words = " ".join(rng.sample(EVERYDAY, 3))
        stream.append(scored(f"@acme {words}", minutes=minute, author=f"u{rng.randrange(300)}"))
        minute += every
    return stream


def boycott(start: float, n: int = 30, spacing: float = 1.5, tag: str = "#boycottacme") -> list:
    return [scored(f"@acme flight delayed {tag}", minutes=start + i * spacing, author=f"angry{i}")
            for i in range(n)]


def options(**extra) -> dict:
    return {"new": {"type": "new_term", "warmup": "1d", "min_count": 10, "min_authors": 5, **extra}}


def opened(events) -> list[str]:
    return [e.alert.subject for e in events if e.change and e.event == "opened"]


async def test_a_new_hashtag_at_volume_fires_with_its_evidence(harness) -> None:
    harness.configure(triggers=options())
    stream = chatter(3) + boycott(3 * DAY + 30)
    stream.sort(key=lambda m: m.created_at)
    events = await harness.trigger("new", stream)
    assert opened(events) == ["brand/term:#boycottacme"]
    alert = next(e.alert for e in events if e.change)
    assert alert.opened_at == EPOCH + timedelta(minutes=3 * DAY + 30 + 9 * 1.5)  # the 10th use
    evidence = alert.evidence
    assert evidence["observed"] == 10 and evidence["threshold"] == 10 and evidence["prior"] == 0
    assert evidence["authors"] >= 5 and evidence["window"] == "1h" and evidence["horizon"] == "30d"
    assert evidence["factor"] > 1000 and evidence["tail_probability"] < 1e-20
    burst_ids = {m.id for m in stream if "#boycottacme" in m.text}
    assert 5 <= len(alert.mentions) <= 10 and set(alert.mentions) <= burst_ids


async def test_everyday_words_and_slow_trickles_stay_quiet(harness) -> None:
    harness.configure(triggers=options())
    trickle = [scored("@acme #refundplease", minutes=DAY + i * 90, author=f"t{i}") for i in range(40)]
    stream = sorted(chatter(4, every=1) + trickle, key=lambda m: m.created_at)
    assert opened(await harness.trigger("new", stream)) == []


async def test_one_spammer_is_not_volume(harness) -> None:
    harness.configure(triggers=options())
    spam = [scored("@acme #buyfollowers", minutes=2 * DAY + i, author="bot") for i in range(50)]
    assert opened(await harness.trigger("new", chatter(2) + spam)) == []


async def test_a_term_seen_in_the_horizon_is_not_new_but_a_stray_use_is_forgiven(harness) -> None:
    harness.configure(triggers=options())
    earlier = boycott(DAY + 60, n=12, spacing=10)  # a small wave two days before: known
    stream = sorted(chatter(3) + earlier + boycott(3 * DAY), key=lambda m: m.created_at)
    assert opened(await harness.trigger("new", stream)) == []

    stray = boycott(DAY + 60, n=1)
    stream = sorted(chatter(3) + stray + boycott(3 * DAY), key=lambda m: m.created_at)
    events = await harness.trigger("new", stream)
    assert opened(events) == ["brand/term:#boycottacme"]
    assert next(e.alert for e in events if e.change).evidence["prior"] == 1


async def test_forgotten_after_the_horizon(harness) -> None:
    harness.configure(triggers=options(horizon="3d"))
    stream = chatter(1) + boycott(DAY + 60, spacing=10) + chatter(6, start=DAY + 400)
    stream += boycott(7 * DAY + 600)
    stream.sort(key=lambda m: m.created_at)
    events = await harness.trigger("new", stream)
    assert opened(events) == ["brand/term:#boycottacme"]  # the second wave only
    assert next(e.alert for e in events if e.change).opened_at > EPOCH + timedelta(days=7)


async def test_nothing_fires_during_the_warmup(harness) -> None:
    harness.configure(triggers=options())
    assert opened(await harness.trigger("new", chatter(0.5) + boycott(800))) == []


async def test_resolves_when_the_wave_ebbs(harness) -> None:
    harness.configure(triggers=options())
    stream = chatter(2) + boycott(2 * DAY)
    stream.sort(key=lambda m: m.created_at)
    ticks = [EPOCH + timedelta(minutes=2 * DAY + m) for m in range(0, 200, 5)]
    events = await harness.trigger("new", stream, ticks=ticks)
    assert [e.event for e in events if e.change] == ["opened", "resolved"]
    resolved = events[-1].alert.resolved_at
    # 30 uses over 45 minutes; resolved when under 5 in the sliding hour, about 100 minutes in
    assert EPOCH + timedelta(minutes=2 * DAY + 60) < resolved < EPOCH + timedelta(minutes=2 * DAY + 120)


async def test_words_too_when_asked(harness) -> None:
    harness.configure(triggers=options(terms=["hashtag", "word"]))
    lawsuit = [scored(f"@acme class action lawsuit filed, flight {i}", minutes=2 * DAY + i,
                      author=f"lawyer{i}") for i in range(12)]
    stream = sorted(chatter(2, every=1) + lawsuit, key=lambda m: m.created_at)
    assert sorted(opened(await harness.trigger("new", stream))) == [
        "brand/term:action", "brand/term:class", "brand/term:filed", "brand/term:lawsuit"]
    harness.configure(triggers=options())
    assert opened(await harness.trigger("new", stream)) == []  # hashtags only by default


async def test_memory_is_bounded_by_max_terms(harness) -> None:
    harness.configure(triggers=options(max_terms=500, terms=["word"]))
    rng = random.Random(3)
    words = [f"word{rng.randrange(10**9)}x" for _ in range(3000)]
    stream = [scored(f"@acme {w}", minutes=i, author=f"a{i}") for i, w in enumerate(words)]
    config = harness.config()
    spec = config.components["trigger"]["new"]
    trigger = spec.build(config.context(spec))
    from sentineld.alerting import TriggerAlertSink

    await trigger.observe(stream, TriggerAlertSink("new", "new_term"))
    kept = trigger.terms["brand"]
    assert 450 <= len(kept) == trigger.size <= 500
    assert words[-1] in kept and words[0] not in kept


async def test_snapshot_round_trips(harness) -> None:
    harness.configure(triggers=options())
    config = harness.config()
    spec = config.components["trigger"]["new"]
    first = spec.build(config.context(spec))
    from sentineld.alerting import TriggerAlertSink

    sink = TriggerAlertSink("new", "new_term")
    stream = sorted(chatter(2) + boycott(2 * DAY, n=8), key=lambda m: m.created_at)
    await first.observe(stream, sink)
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(first.snapshot()))
    second = spec.build(config.context(spec))
    second.restore(state)
    rest = boycott(2 * DAY + 20, n=5)
    await first.observe(rest, sink)
    expected = sink.take()
    await second.observe(rest, sink)
    got = sink.take()
    assert [s.subject for s in expected] == [s.subject for s in got] == ["brand/term:#boycottacme"]
    assert expected[0].evidence == got[0].evidence


async def test_survives_a_restart_without_re_alerting(harness) -> None:
    harness.configure(triggers=options())
    stream = sorted(chatter(2) + boycott(2 * DAY), key=lambda m: m.created_at)
    stream += chatter(0.3, start=2 * DAY + 60)
    cut = next(i for i, m in enumerate(stream) if "#boycottacme" in m.text) + 15

    straight = await harness.replay(stream)
    assert [e.event for e in straight.events] == ["opened", "resolved"]

    harness.directory = harness.directory / "restarted"
    harness.directory.mkdir()
    harness.configure(sentineld={"state_dir": str(harness.directory / "state")})
    first = await harness.replay(stream[:cut], keep_state=True)
    second = await harness.replay(stream, keep_state=True)
    assert [e.event for e in first.events] == ["opened"]
    assert [e.event for e in second.events] == ["resolved"]
    assert second.events[0].alert.id == straight.events[0].alert.id
    assert second.events[0].alert.resolved_at == straight.events[1].alert.resolved_at
