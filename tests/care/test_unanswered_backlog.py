"""The unanswered trigger under a backlog: at most `max_customer_alerts` customers of a channel
have an alert of their own; the channel's other overdue customers are one backlog alert, which
takes every customer falling overdue while it is open, is updated at the clock tick after its
customers change, and resolves when none of them waits (at once)."""

from __future__ import annotations

from typing import Any

import msgspec

from sentineld.alerting import AlertManager, Signal, TriggerAlertSink
from sentineld.model import Mention
from sentineld.supervisor import Guard
from sentineld.testing import Harness
from tests.care.helpers import at, bluesky, email, filler

BACKLOG = "brand/backlog"


async def trigger(care: Harness, **options: Any) -> Any:
    config = care.configure(triggers={"waiting": {"type": "unanswered", "first_response": "10m",
                                                  **options}},
                            cases={"enabled": False}).config()
    return Guard(config.components["trigger"]["waiting"], config).component


def customer(i: int, minutes: float, text: str = "@acme.bsky.social where is my bag?") -> Mention:
    return bluesky(f"did:plc:c{i}", f"c{i}.bsky.social", text, minutes=minutes)


def answer(to: Mention, minutes: float) -> Mention:
    return bluesky("did:plc:acme", "acme.bsky.social", "on it", minutes=minutes, reply_to=to.id)


def fired(signals: list[Signal]) -> list[str]:
    return [s.subject for s in signals if s.fire]


async def test_customers_beyond_the_limit_are_one_backlog_alert(care: Harness) -> None:
    waiting = await trigger(care, max_customer_alerts=2)
    sink = TriggerAlertSink("waiting", "unanswered")
    posts = [customer(i, minutes=i) for i in range(5)]
    await waiting.observe([*posts, email("al@example.com", "refund?", minutes=0)], sink)
    await waiting.tick(at(20), sink)
    signals = sink.take()
    assert fired(signals) == ["brand/customer:bluesky:did:plc:c0", "brand/customer:bluesky:did:plc:c1",
                              "brand/customer:email:al@example.com", BACKLOG]
    backlog = next(s for s in signals if s.subject == BACKLOG)
    assert backlog.channel == "bluesky" and backlog.at == at(20)
    assert backlog.evidence["customers"] == 3 and backlog.evidence["waiting"] == 3
    assert backlog.evidence["customer_alerts"] == 2 and backlog.evidence["observed"] == "18m"
    assert [c["who"] for c in backlog.evidence["longest_waiting"]] == ["c2.bsky.social", "c3.bsky.social",
                                                                      "c4.bsky.social"]
    assert list(backlog.mentions) == [p.id for p in posts[2:]]
    assert backlog.summary.startswith("3 customers have waited past their first response on bluesky")
    assert "c2.bsky.social, for 18m" in backlog.summary

    # One of them is answered: the backlog goes on with two, updated at the next tick; the
    # customer alerts are untouched.
    await waiting.observe([answer(posts[3], minutes=25)], sink)
    assert sink.take() == []
    await waiting.tick(at(25.5), sink)
    [update] = sink.take()
    assert update.fire and update.subject == BACKLOG and update.evidence["customers"] == 2
    assert update.at == at(25.5) and update.evidence["observed"] == "23m30s"
    await waiting.tick(at(26), sink)
    assert sink.take() == []  # no change, no update
    # A customer alert clears; while the backlog is open, the next customer still joins it.
    late = customer(9, minutes=27)
    await waiting.observe([answer(posts[0], minutes=26), late], sink)
    [cleared] = sink.take()
    assert not cleared.fire and cleared.subject == "brand/customer:bluesky:did:plc:c0"
    await waiting.tick(at(40), sink)
    [grown] = sink.take()
    assert grown.subject == BACKLOG and grown.evidence["customers"] == 3

    # The backlog resolves with its last member's answer, not before; the customer after it has
    # an alert of their own again.
    await waiting.observe([answer(posts[2], minutes=41), answer(posts[4], minutes=42)], sink)
    await waiting.tick(at(42.5), sink)
    assert [(s.fire, s.evidence.get("customers")) for s in sink.take()] == [(True, 1)]
    await waiting.observe([answer(late, minutes=43)], sink)
    [resolved] = sink.take()
    assert not resolved.fire and resolved.subject == BACKLOG and resolved.at == at(43)
    assert resolved.reason is None
    await waiting.observe([customer(10, minutes=44)], sink)
    await waiting.tick(at(60), sink)
    assert fired(sink.take()) == ["brand/customer:bluesky:did:plc:c10"]


async def test_without_a_limit_every_customer_has_an_alert(care: Harness) -> None:
    waiting = await trigger(care, max_customer_alerts=0)
    sink = TriggerAlertSink("waiting", "unanswered")
    await waiting.observe([customer(i, minutes=i / 10) for i in range(30)], sink)
    await waiting.tick(at(20), sink)
    subjects = fired(sink.take())
    assert len(subjects) == 30 and BACKLOG not in subjects


async def test_the_default_limit_is_twenty_customers_per_channel(care: Harness) -> None:
    waiting = await trigger(care)
    sink = TriggerAlertSink("waiting", "unanswered")
    await waiting.observe([customer(i, minutes=i / 10) for i in range(25)], sink)
    await waiting.tick(at(20), sink)
    subjects = fired(sink.take())
    assert len(subjects) == 21 and subjects[-1] == BACKLOG


async def test_a_backlog_left_without_anyone_followed_is_given_up(care: Harness) -> None:
    """`max_pending` pushes out the mention overdue for longest; when that empties the backlog,
    it resolves saying why (given up: the customers may still be waiting)."""
    waiting = await trigger(care, max_customer_alerts=1, max_pending=3)
    sink = TriggerAlertSink("waiting", "unanswered")
    await waiting.observe([customer(i, minutes=i) for i in range(2)], sink)
    await waiting.tick(at(20), sink)
    assert fired(sink.take()) == ["brand/customer:bluesky:did:plc:c0", BACKLOG]
    await waiting.observe([customer(5, minutes=21)], sink)
    assert sink.take() == []  # room was left
    await waiting.observe([customer(6, minutes=22)], sink)  # pushes out c0's mention
    [gone] = sink.take()
    assert gone.subject == "brand/customer:bluesky:did:plc:c0" and gone.reason
    await waiting.observe([customer(7, minutes=23)], sink)  # pushes out c1's: the backlog's last
    [given_up] = sink.take()
    assert not given_up.fire and given_up.subject == BACKLOG
    assert given_up.reason and given_up.reason.startswith("no longer followed")


async def test_a_restart_keeps_the_backlog_and_its_order(care: Harness) -> None:
    waiting = await trigger(care, max_customer_alerts=1)
    sink = TriggerAlertSink("waiting", "unanswered")
    posts = [customer(i, minutes=i) for i in range(4)]
    await waiting.observe(posts, sink)
    await waiting.tick(at(20), sink)
    before = [s for s in sink.take() if s.subject == BACKLOG]
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(waiting.snapshot()))

    restarted = await trigger(care, max_customer_alerts=1)
    restarted.restore(state)
    await restarted.tick(at(21), sink)
    assert sink.take() == []  # nothing changed: nothing fired again
    await restarted.observe([answer(posts[2], minutes=22)], sink)
    # A change waiting for its tick is in the checkpoint too.
    again = await trigger(care, max_customer_alerts=1)
    again.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(restarted.snapshot())))
    await again.tick(at(23), sink)
    [update] = sink.take()
    assert [c["who"] for c in update.evidence["longest_waiting"]] == ["c1.bsky.social", "c3.bsky.social"]
    assert before[0].evidence["customers"] == 3 and update.evidence["customers"] == 2
    await again.observe([customer(8, minutes=23)], sink)
    await again.tick(at(40), sink)
    [grown] = sink.take()
    assert grown.subject == BACKLOG and grown.evidence["customers"] == 3


async def test_a_version_2_checkpoint_keeps_the_customer_alerts(care: Harness) -> None:
    """Before backlogs, every overdue customer had an alert of their own: they keep it."""
    waiting = await trigger(care, max_customer_alerts=0)
    sink = TriggerAlertSink("waiting", "unanswered")
    posts = [customer(i, minutes=i) for i in range(3)]
    await waiting.observe(posts, sink)
    await waiting.tick(at(20), sink)
    sink.take()
    state = msgspec.msgpack.decode(waiting.snapshot())
    del state["backlogs"]
    state["version"] = 2

    restarted = await trigger(care, max_customer_alerts=1)
    restarted.restore(state)
    await restarted.observe([answer(posts[1], minutes=21), customer(5, minutes=22)], sink)
    [cleared] = sink.take()
    assert not cleared.fire and cleared.subject == "brand/customer:bluesky:did:plc:c1"
    await restarted.tick(at(40), sink)
    assert fired(sink.take()) == [BACKLOG]  # two customer alerts still open: over the limit


async def test_the_backlog_through_the_pipeline(care: Harness) -> None:
    """Stored and notified like any alert: opened once, updated in place, resolved once."""
    care.configure(triggers={"waiting": {"type": "unanswered", "max_customer_alerts": 1}},
                   cases={"first_response": "10m"})
    posts = [customer(i, minutes=i) for i in range(3)]
    stream = [*posts, filler(15), answer(posts[1], minutes=16), answer(posts[2], minutes=17), filler(30)]
    result = await care.replay(stream)
    assert sorted(a.subject.split(":")[0] for a in result.opened) == [BACKLOG, "brand/customer"]
    [backlog] = [a for a in result.opened if a.subject == BACKLOG]
    assert backlog.opened_at == at(11) and backlog.kind == "unanswered"
    [resolved] = [a for a in result.resolved if a.subject == BACKLOG]
    assert resolved.id == backlog.id and resolved.resolved_at == at(17)
    assert resolved.mentions == [posts[1].id, posts[2].id]


async def test_the_manager_keeps_one_backlog_alert(care: Harness) -> None:
    waiting = await trigger(care, max_customer_alerts=1)
    sink, manager = TriggerAlertSink("waiting", "unanswered"), AlertManager()
    await waiting.observe([customer(i, minutes=i) for i in range(3)], sink)
    events = []
    for minute in (20, 21):
        await waiting.observe([customer(10 + minute, minutes=minute - 10)], sink)
        await waiting.tick(at(minute), sink)
        events += manager.apply(sink.take())
    opened = [e.alert.subject for e in events if e.change and e.event == "opened"]
    assert opened.count(BACKLOG) == 1 and len(opened) == 2
