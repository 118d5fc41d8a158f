"""The unanswered trigger: fires at the first-response SLA in event time, not in closed hours,
resolves when the brand answers, survives a restart, and keeps bounded state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec

from sentineld.alerting import AlertManager, TriggerAlertSink
from sentineld.supervisor import Guard
from sentineld.testing import Harness
from tests.care.helpers import T0, at, bluesky, email, filler


def opened(result: Any) -> list[tuple[str, str, Any]]:
    return [(a.subject.split("/")[0], a.channel, a.opened_at) for a in result.opened]


async def test_fires_at_the_sla_and_not_before(care: Harness) -> None:
    care.configure(triggers={"waiting": {"type": "unanswered"}}, cases={"first_response": "30m"})
    mail = email("jo@example.com", "My refund?", minutes=0)
    early = await care.replay([mail, filler(29)])
    assert early.opened == []
    result = await care.replay([mail, filler(29), filler(45)])
    [alert] = result.opened
    assert alert.opened_at == at(30) and alert.kind == "unanswered" and alert.channel == "email"
    assert alert.subject.startswith("brand/customer:cu-") and alert.mentions == [mail.id]
    assert alert.evidence["observed"] == "30m" and alert.evidence["expected"] == "30m"
    assert "jo@example.com has waited 30m" in alert.summary


async def test_an_answer_in_time_raises_nothing(care: Harness) -> None:
    care.configure(triggers={"waiting": {"type": "unanswered"}}, cases={"first_response": "30m"})
    post = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social help", minutes=0)
    answer = bluesky("did:plc:acme", "acme.bsky.social", "@jo.bsky.social on it", minutes=20, reply_to=post.id)
    result = await care.replay([post, answer, filler(120)])
    assert result.opened == []


async def test_resolves_when_answered_and_one_reply_answers_the_earlier_mentions_too(care: Harness) -> None:
    care.configure(triggers={"waiting": {"type": "unanswered"}}, cases={"first_response": "30m"})
    first = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social my bag", minutes=0)
    second = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social hello??", minutes=10)
    answer = bluesky("did:plc:acme", "acme.bsky.social", "@jo.bsky.social sorry!", minutes=50, reply_to=second.id)
    result = await care.replay([first, second, filler(45), answer, filler(120)])
    [alert] = result.opened
    assert alert.opened_at == at(30)
    [resolved] = result.resolved
    assert resolved.id == alert.id and resolved.resolved_at == at(50)
    # The update at 40m added the second overdue mention to the same alert.
    assert resolved.mentions == [first.id, second.id]


async def test_nothing_fires_in_closed_hours(care: Harness) -> None:
    care.configure(
        triggers={"waiting": {"type": "unanswered"}},
        cases={"first_response": "1h",
               "business_hours": {"timezone": "Europe/London", "start": "09:00", "end": "17:00"}},
    )
    friday_evening = (3 * 24 + 9) * 60  # T0 is Tuesday 09:00 UTC; Friday 18:00 (London = UTC in November)
    mail = email("jo@example.com", "Refund?", minutes=friday_evening)
    weekend = [filler(friday_evening + h * 60) for h in range(2, 63, 6)]  # through Monday 08:00
    monday = friday_evening + 63 * 60  # Monday 09:00
    quiet = await care.replay([mail, *weekend])
    assert quiet.opened == []
    result = await care.replay([mail, *weekend, filler(monday + 30), filler(monday + 90)])
    [alert] = result.opened
    assert alert.opened_at == at(monday + 60)  # Monday 10:00: one business hour after Friday 18:00


async def test_own_rules_without_cases(care: Harness) -> None:
    care.configure(
        triggers={"waiting": {"type": "unanswered", "first_response": "2h",
                              "sla": [{"channels": ["bluesky"], "first_response": "10m"}]}},
        cases={"enabled": False},
    )
    own_post = bluesky("did:plc:acme", "acme.bsky.social", "Our new routes are live!", minutes=0)
    reply = bluesky("did:plc:jo", "jo.bsky.social", "great, but my bag is lost", minutes=1, reply_to=own_post.id)
    mail = email("al@example.com", "Where is my refund", minutes=2)
    unrelated = bluesky("did:plc:bo", "bo.bsky.social", "acme planes are pretty", minutes=3)
    result = await care.replay([own_post, reply, mail, unrelated, filler(200)])
    assert sorted((a.channel, a.opened_at) for a in result.opened) == [("bluesky", at(11)), ("email", at(122))]
    assert all(a.subject.startswith("brand/customer:") for a in result.opened)


async def trigger(care: Harness, **options: Any) -> Any:
    config = care.configure(triggers={"waiting": {"type": "unanswered", **options}},
                            cases={"enabled": False}).config()
    return Guard(config.components["trigger"]["waiting"], config).component


async def test_survives_a_restart_without_forgetting_or_repeating(care: Harness) -> None:
    waiting = await trigger(care, first_response="30m")
    sink, manager = TriggerAlertSink("waiting", "unanswered"), AlertManager()
    post = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social help", minutes=0)
    await waiting.observe([post], sink)
    await waiting.tick(at(31), sink)
    events = manager.apply(sink.take())
    assert [e.event for e in events if e.change] == ["opened"]
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(waiting.snapshot()))

    restarted = await trigger(care, first_response="30m")
    restarted.restore(state)
    await restarted.tick(at(32), sink)
    assert sink.take() == []  # fired before the restart: not again
    answer = bluesky("did:plc:acme", "acme.bsky.social", "@jo.bsky.social hi", minutes=40, reply_to=post.id)
    await restarted.observe([answer], sink)
    [signal] = sink.take()
    assert not signal.fire and signal.at == at(40)

    # A mention waiting (not yet due) across the restart still fires on time.
    fresh = await trigger(care, first_response="30m")
    other = bluesky("did:plc:al", "al.bsky.social", "@acme.bsky.social hi", minutes=50)
    await fresh.observe([other], sink)
    again = await trigger(care, first_response="30m")
    again.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(fresh.snapshot())))
    await again.tick(at(79), sink)
    assert sink.take() == []
    await again.tick(at(80), sink)
    assert [s.fire for s in sink.take()] == [True]


async def test_state_is_bounded(care: Harness) -> None:
    """At `max_pending`, a new mention takes the place of the one overdue for longest (whose
    alert resolves, saying why); while none is overdue, the new one is not followed, so the
    mentions followed still fire at their due time instead of being pushed out before it."""
    waiting = await trigger(care, first_response="10m", max_pending=3)
    sink = TriggerAlertSink("waiting", "unanswered")
    posts = [bluesky(f"did:plc:u{i}", f"u{i}.bsky.social", "@acme.bsky.social hi", minutes=i) for i in range(5)]
    await waiting.observe(posts, sink)
    assert len(waiting.pending) == 3
    await waiting.tick(T0 + timedelta(minutes=30), sink)
    assert [s.subject for s in sink.take()] == [f"brand/customer:bluesky:did:plc:u{i}" for i in (0, 1, 2)]
    late = bluesky("did:plc:u9", "u9.bsky.social", "@acme.bsky.social hello", minutes=31)
    await waiting.observe([late], sink)
    [gone] = sink.take()
    assert not gone.fire and gone.subject == "brand/customer:bluesky:did:plc:u0"
    assert gone.reason and gone.reason.startswith("no longer followed")
    assert sorted(waiting.pending) == sorted([posts[1].id, posts[2].id, late.id])
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(waiting.snapshot()))
    restarted = await trigger(care, first_response="10m", max_pending=3)
    restarted.restore(state)
    another = bluesky("did:plc:u8", "u8.bsky.social", "@acme.bsky.social hey", minutes=32)
    await restarted.observe([another], sink)
    assert [(s.fire, s.subject) for s in sink.take()] == [(False, "brand/customer:bluesky:did:plc:u1")]


async def test_restores_the_version_1_checkpoint(care: Harness) -> None:
    """A checkpoint written before the state became msgspec structs still restores."""
    waiting = await trigger(care, first_response="30m")
    post = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social help", minutes=0)
    created = post.timestamp
    waiting.restore({"pending": [[post.id, "bluesky:did:plc:jo", "bluesky", created, created + 1800,
                                  "high", "jo.bsky.social", "help", False]], "own": []})
    sink = TriggerAlertSink("waiting", "unanswered")
    await waiting.tick(at(29), sink)
    assert sink.take() == []
    await waiting.tick(at(30), sink)
    [signal] = sink.take()
    assert signal.fire and signal.severity == "high" and signal.summary.startswith("jo.bsky.social has waited 30m")


async def test_answered_mentions_leave_no_timers_behind(care: Harness) -> None:
    """Answers remove mentions whose timers are still in the heap; the heap is compacted, so a
    stream where every customer is answered keeps its state small."""
    waiting = await trigger(care, first_response="1h")
    sink = TriggerAlertSink("waiting", "unanswered")
    for i in range(5000):
        post = bluesky(f"did:plc:c{i}", f"c{i}.bsky.social", "@acme.bsky.social hi", minutes=i / 100)
        answer = bluesky("did:plc:acme", "acme.bsky.social", "on it", minutes=i / 100, reply_to=post.id)
        await waiting.observe([post, answer], sink)
    assert waiting.pending == {} and waiting.customers == {}
    assert len(waiting.heap) <= 1024 and sink.take() == []


async def test_a_checkpoint_is_the_state_when_it_was_taken(care: Harness) -> None:
    """The pipeline writes a trigger's snapshot after the barrier has left the trigger stage,
    while later ticks go on: a mention waiting when it was taken is restored as waiting, so it
    still fires after a restart (it did not fall due in the checkpoint without firing)."""
    waiting = await trigger(care, first_response="30m")
    sink = TriggerAlertSink("waiting", "unanswered")
    post = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social help", minutes=0)
    await waiting.observe([post], sink)
    taken = waiting.snapshot()
    await waiting.tick(at(31), sink)
    assert [s.fire for s in sink.take()] == [True]

    restarted = await trigger(care, first_response="30m")
    restarted.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(taken)))
    await restarted.tick(at(31), sink)
    assert [s.fire for s in sink.take()] == [True]
