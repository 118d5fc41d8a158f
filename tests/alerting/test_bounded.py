"""Open alerts in bounded memory: their text leaves memory at each checkpoint and events about
them are completed from the store to the very same notifications; the lifecycle records are
checkpointed as the rows that changed; stale alerts resolve (`stale_after`, `max_open`)."""

from __future__ import annotations

from typing import Any

import msgspec

from sentineld.alerting import AlertEvent, AlertManager, Signal, complete_alert, finish_event
from sentineld.alertrules import AlertingOptions
from sentineld.model import Alert, alert_to_dict
from sentineld.options import Duration
from tests.alerting.helpers import at, changes, clear, fire, notified, run


def manager(**options: Any) -> AlertManager:
    return AlertManager(AlertingOptions(**options))


def with_mentions(signal: Signal, *ids: str) -> Signal:
    signal.mentions = ids
    return signal


OPTIONS = dict(group_interval=Duration(300), renotify=Duration(3600), cool_down=Duration(600))
#: Opens, updates (evidence and mentions, then a rise in severity), groups, a cool-down that
#: resolves, a resolution of a cold alert, renotifications listing cold alerts.
STEPS: list[Any] = [
    with_mentions(fire(0, channel="a", severity="medium"), "m1"),
    with_mentions(fire(1, channel="b"), "m2"), 2,
    with_mentions(fire(3, channel="a", severity="medium", summary="more on a"), "m3", "m1"),
    5, with_mentions(fire(6, channel="c"), "m4"), 7,
    with_mentions(fire(8, channel="a", severity="critical", summary="worse on a"), "m5"),
    clear(9, channel="b"), 15, 30, with_mentions(fire(31, channel="c", summary="c again"), "m6"),
    60, 61, clear(62, channel="a"), 80, 120, 121, clear(130, channel="c"), 150,
]


class Store:
    """What the pipeline's store holds of the alerts: the changed alerts, as completed."""

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}

    def take(self, events: list[AlertEvent]) -> list[AlertEvent]:
        for event in events:
            finish_event(event, self.alerts)
            if event.change:
                self.alerts[event.alert.id] = event.alert
        return events

    def checkpoint(self, alerts: AlertManager) -> None:
        for alert, partial in alerts.take_dirty():
            self.alerts[alert.id] = complete_alert(alert, self.alerts.get(alert.id)) if partial else alert


def described(events: list[AlertEvent]) -> list[tuple[Any, ...]]:
    return [(e.event, e.key, e.notify, e.change, alert_to_dict(e.alert), e.meta) for e in events]


def straight_run() -> list[AlertEvent]:
    return run(manager(**OPTIONS), *STEPS)


def test_alerts_let_go_of_their_text_and_events_are_completed_to_the_same_notifications() -> None:
    alerts, store = manager(**OPTIONS), Store()
    events: list[AlertEvent] = []
    partial_seen = 0
    for step in STEPS:
        got = run(alerts, step)
        partial_seen += sum(1 for e in got if e.partial)
        events += store.take(got)
        store.checkpoint(alerts)
        assert all(record.body is None for record in alerts.open.values())
    assert partial_seen >= 3  # resolved, renotified and updated while their text was stored only
    assert described(events) == described(straight_run())
    final = store.alerts[events[0].alert.id]
    assert final.mentions == ["m1", "m3", "m5"] and final.summary == "worse on a"


def test_checkpoint_rows_and_restore_give_the_same_events_as_a_straight_run() -> None:
    expected = described(straight_run())
    for cut in range(1, len(STEPS)):
        table: dict[tuple[str, str, str], bytes] = {}
        store, first = Store(), manager(**OPTIONS)
        events = []
        for step in STEPS[:cut]:
            events += store.take(run(first, step))
        store.checkpoint(first)
        changed = first.take_changes()
        for trigger, subject, channel, row in changed.rows:
            if row is None:
                table.pop((trigger, subject, channel), None)
            else:
                table[(trigger, subject, channel)] = row
        state = msgspec.msgpack.decode(msgspec.msgpack.encode(first.snapshot(whole=False)))
        assert "open" not in state
        second = manager(**OPTIONS)
        second.restore(state, [(*key, row) for key, row in table.items()])
        assert first.take_changes().rows == []  # nothing changed since
        for step in STEPS[cut:]:
            events += store.take(run(second, step))
        assert described(events) == expected, f"restored after step {cut}"


def test_only_changed_rows_are_checkpointed() -> None:
    alerts = manager()
    run(alerts, *[fire(0, subject=f"brand/customer:{i}") for i in range(100)])
    assert len(alerts.take_changes().rows) == 100
    run(alerts, fire(1, subject="brand/customer:7"), clear(2, subject="brand/customer:9"))
    rows = alerts.take_changes().rows
    assert [(subject, row is None) for _, subject, _, row in rows] == [
        ("brand/customer:7", False), ("brand/customer:9", True)]


def test_beyond_max_open_the_least_recently_asserted_alert_resolves_as_stale() -> None:
    alerts = manager(max_open=3, inhibit=[], group_by=["subject"])
    events = run(alerts, *[fire(i, subject=f"brand/customer:{i}") for i in range(3)],
                 fire(3, subject="brand/customer:0"), fire(4, subject="brand/customer:3"))
    assert changes(events)[-2:] == [("opened", "brand/customer:3", "*"),
                                     ("resolved", "brand/customer:1", "*")]
    stale = events[-1]
    assert stale.alert.resolved_at == at(4) and stale.meta["resolution"].startswith("stale: anger has more than 3")
    # Stored with the reason, not notified: the condition was given up, it may still hold.
    assert stale.alert.evidence["resolution"] == stale.meta["resolution"] and not stale.notify
    assert sorted(s for _, s, _ in alerts.open) == ["brand/customer:0", "brand/customer:2", "brand/customer:3"]
    # Another trigger has its own budget.
    run(alerts, fire(5, trigger="other", subject="x"))
    assert len(alerts.open) == 4


def test_an_alert_not_asserted_for_stale_after_resolves_as_stale() -> None:
    alerts = manager(stale_after=Duration(3600))
    run(alerts, fire(0, channel="a"), fire(10, channel="b"), fire(50, channel="a"))
    assert notified(run(alerts, 69)) == []
    events = run(alerts, 70)
    assert changes(events) == [("resolved", "brand", "b")] and notified(events) == []
    assert events[0].alert.resolved_at == at(70) and "not asserted by anger for 1h" in events[0].meta["resolution"]
    assert changes(run(alerts, 109, 111)) == [("resolved", "brand", "a")]


def test_a_trigger_can_say_why_it_clears() -> None:
    alerts = manager(cool_down=Duration(600))
    run(alerts, fire(0))
    gone = clear(1)
    gone.reason = "no longer followed"
    [event] = run(alerts, gone)  # at once, not after the cool-down: this is no flap
    assert event.event == "resolved" and event.alert.evidence["resolution"] == "no longer followed"


def test_an_alert_given_up_while_waiting_for_its_group_is_announced_but_not_its_resolution() -> None:
    alerts = manager(max_open=1, group_interval=Duration(300), inhibit=[])
    run(alerts, fire(0, subject="brand/customer:a"))  # notified at once: the group was idle
    run(alerts, fire(1, subject="brand/customer:b"))  # waits for the group; a gives way
    events = run(alerts, fire(2, subject="brand/customer:c"), 5)  # b gives way while waiting
    assert changes(events) == [("opened", "brand/customer:c", "*"), ("resolved", "brand/customer:b", "*")]
    group = [e for e in events if e.notify]
    assert [(e.event, e.meta["count"]) for e in group] == [("opened", 2)]
    assert {a["subject"] for a in group[0].meta["alerts"]} == {"brand/customer:b", "brand/customer:c"}
