"""The alert lifecycle in event time: one alert per condition, re-notify, cool-down, grouping,
inhibition, silences and severities (AlertManager on its own; the pipeline tests are elsewhere)."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from sentineld.alerting import AlertManager, broadcast_router
from sentineld.alertrules import AlertingOptions, InhibitRule, Silence
from sentineld.model import alert_to_dict
from sentineld.options import Duration
from tests.alerting.helpers import T0, at, changes, clear, fire, notified, run


def manager(**options) -> AlertManager:
    return AlertManager(AlertingOptions(**options))


def test_one_open_alert_per_condition_until_it_clears() -> None:
    alerts = manager()
    events = run(alerts, fire(0), fire(1), fire(2, severity="high"), clear(5), fire(6))
    assert changes(events) == [("opened", "brand", "*"), ("resolved", "brand", "*"),
                               ("opened", "brand", "*")]
    assert notified(events) == changes(events)
    first, second = events[0].alert, events[-1].alert
    assert first.id != second.id and second.opened_at == at(6)
    assert events[1].alert.resolved_at == at(5)


def test_rising_severity_notifies_each_step_once() -> None:
    alerts = manager()
    events = run(alerts, fire(0, severity="medium"), fire(1, severity="high"),
                 fire(2, severity="high"), fire(3, severity="critical"), fire(4, severity="low"))
    assert [(e.event, e.alert.severity) for e in events] == [
        ("opened", "medium"), ("updated", "high"), ("updated", "critical")]
    keys = [key for _, key, _ in sum((broadcast_router(["n"])(e) for e in events), [])]
    assert len(keys) == len(set(keys)) == 3


def test_renotify_follows_event_time() -> None:
    alerts = manager(renotify=Duration(3600))
    events = run(alerts, fire(0), 30, 59)
    assert notified(events) == [("opened", "brand", "*")]
    events = run(alerts, 60, 60.5, 90)
    assert [(e.event, e.change) for e in events] == [("renotify", False)]
    assert events[0].meta["count"] == 1 and events[0].meta["alerts"][0]["id"] == events[0].alert.id
    later = run(alerts, 120, 180)
    assert [e.event for e in later] == ["renotify", "renotify"]
    assert len({e.key for e in events + later}) == 3
    assert run(alerts, clear(181), 240, 300) and not [e for e in run(alerts, 400) if e.notify]


def test_renotify_zero_never_repeats() -> None:
    alerts = manager(renotify=Duration(0))
    events = run(alerts, fire(0), *range(60, 60 * 48, 60))
    assert notified(events) == [("opened", "brand", "*")]


def test_cool_down_continues_the_same_alert_instead_of_flapping() -> None:
    alerts = manager(cool_down=Duration(1800))
    events = run(alerts, fire(0), clear(10), 20, fire(25), clear(40), 69)
    assert changes(events) == [("opened", "brand", "*")]
    events = run(alerts, 70)
    assert changes(events) == [("resolved", "brand", "*")]
    assert events[0].alert.resolved_at == at(40) and events[0].notify


def test_cool_down_over_a_quiet_stretch_resolves_before_a_new_alert() -> None:
    """No tick between the clear and the next fire (a replay with a coarse tick): the fire that
    comes after the cool-down still resolves the old alert first and opens a new one."""
    alerts = manager(cool_down=Duration(600))
    events = run(alerts, fire(0), clear(5), fire(30))
    assert changes(events) == [("opened", "brand", "*"), ("resolved", "brand", "*"),
                               ("opened", "brand", "*")]
    assert events[1].alert.resolved_at == at(5)


def test_group_collects_new_alerts_within_the_group_interval() -> None:
    alerts = manager(group_interval=Duration(300), inhibit=[])
    first = run(alerts, fire(0, channel="bluesky"))
    assert notified(first) == [("opened", "brand", "bluesky")]
    assert first[0].meta["group"] == "kind=negativity_spike|subject_root=brand"
    held = run(alerts, fire(1, channel="mastodon"), fire(2, channel="email", severity="critical"), 4)
    assert changes(held) == [("opened", "brand", "mastodon"), ("opened", "brand", "email")]
    assert notified(held) == []
    flushed = run(alerts, 5)
    assert len(flushed) == 1 and flushed[0].notify and not flushed[0].change
    group = flushed[0]
    assert group.event == "opened" and group.alert.channel == "email"  # the most severe first
    assert group.meta["count"] == 2
    assert {a["channel"] for a in group.meta["alerts"]} == {"mastodon", "email"}
    other = run(alerts, fire(6, subject="competitor:rival", channel="bluesky"))
    assert notified(other) == [("opened", "competitor:rival", "bluesky")]


def test_an_alert_resolved_while_waiting_for_its_group_is_announced_and_resolved() -> None:
    alerts = manager(group_interval=Duration(300), inhibit=[])
    run(alerts, fire(0, channel="a"))
    events = run(alerts, fire(1, channel="b"), clear(2, channel="b"), 4)
    assert notified(events) == []
    events = run(alerts, 5)
    assert [(e.event, e.alert.channel, e.alert.resolved_at) for e in events] == [
        ("opened", "b", at(2)), ("resolved", "b", at(2))]
    keys = [key for e in events for _, key, _ in broadcast_router(["n"])(e)]
    assert keys == [f"{events[0].alert.id}:opened:n", f"{events[0].alert.id}:resolved:n"]


def test_opened_and_resolved_in_one_call_are_both_notified() -> None:
    events = run(manager(), [fire(0), clear(0.5)])
    assert notified(events) == [("opened", "brand", "*"), ("resolved", "brand", "*")]
    assert len({e.key for e in events if e.notify}) == 2


def test_group_wait_holds_the_first_alert_and_sends_the_group_once() -> None:
    alerts = manager(group_wait=Duration(60), inhibit=[])
    events = run(alerts, fire(0, channel="a"), fire(0.5, channel="b"))
    assert notified(events) == []
    events = run(alerts, 1)
    assert len(events) == 1 and events[0].meta["count"] == 2


def test_brand_wide_spike_inhibits_the_per_channel_ones() -> None:
    alerts = manager()
    events = run(alerts, [fire(0, channel="bluesky"), fire(0, channel="*")])
    assert changes(events) == [("opened", "brand", "bluesky"), ("opened", "brand", "*")]
    assert notified(events) == [("opened", "brand", "*")]
    events = run(alerts, fire(1, channel="mastodon"), 10, clear(12, channel="bluesky"))
    assert notified(events) == []
    events = run(alerts, clear(20, channel="*"))
    assert notified(events) == [("resolved", "brand", "*")]
    events = run(alerts, 25)  # the brand-wide spike is over; the mastodon one is still on
    assert notified(events) == [("opened", "brand", "mastodon")]


def test_inhibition_is_per_subject() -> None:
    alerts = manager()
    events = run(alerts, [fire(0, channel="*"), fire(0, subject="competitor:rival", channel="x")])
    assert notified(events) == [("opened", "brand", "*"), ("opened", "competitor:rival", "x")]


def test_inhibit_rules_are_configurable() -> None:
    critical_mutes_the_rest = InhibitRule(
        source=["severity=critical"], target=["severity=~info|low|medium"], equal=["subject_root"])
    alerts = manager(inhibit=[critical_mutes_the_rest], group_by=["kind", "channel"])
    events = run(alerts, fire(0, kind="viral_post", subject="brand/post:1", severity="critical"),
                 fire(1, kind="new_term", subject="brand/term:#boycott", severity="medium"),
                 fire(1, kind="new_term", subject="competitor:x/term:#y", severity="medium"))
    assert notified(events) == [("opened", "brand/post:1", "*"), ("opened", "competitor:x/term:#y", "*")]
    none = manager(inhibit=[])
    events = run(none, [fire(0, channel="bluesky"), fire(0, channel="*")])
    assert len(notified(events)) == 1 and notified(events)[0][0] == "opened"
    assert none.options.inhibit == []


def silence(start: float, end: float, *matchers: str) -> Silence:
    return Silence(id=f"s{start}", matchers=list(matchers), starts_at=at(start), ends_at=at(end),
                   reason="known outage", created_by="test", created_at=at(start))


def test_silenced_alert_is_stored_not_notified_and_notified_when_the_silence_ends() -> None:
    alerts = manager()
    alerts.set_silences([silence(-10, 30, "kind=negativity_spike", "channel!=*")])
    events = run(alerts, fire(0, channel="bluesky"), 10, 29)
    assert changes(events) == [("opened", "brand", "bluesky")] and notified(events) == []
    assert alerts.muted_by(events[0].alert, at(10).timestamp()) == "silence s-10: known outage"
    events = run(alerts, 30)
    assert notified(events) == [("opened", "brand", "bluesky")]
    assert not events[0].change and events[0].key == f"{events[0].alert.id}:opened"


def test_silence_does_not_touch_alerts_it_does_not_match() -> None:
    alerts = manager()
    alerts.set_silences([silence(-10, 30, "subject=~competitor:.*")])
    events = run(alerts, fire(0, subject="competitor:rival"), fire(0, subject="brand", channel="x"))
    assert notified(events) == [("opened", "brand", "x")]


def test_resolution_of_a_never_notified_alert_is_not_notified() -> None:
    alerts = manager()
    alerts.set_silences([silence(-10, 30, "channel=bluesky")])
    events = run(alerts, fire(0, channel="bluesky"), clear(5, channel="bluesky"), 40)
    assert changes(events) == [("opened", "brand", "bluesky"), ("resolved", "brand", "bluesky")]
    assert notified(events) == []


def test_default_severities_and_the_notification_floor() -> None:
    alerts = manager(severities={"new_term": "low", "anger": "critical"}, notify_min_severity="medium")
    events = run(alerts, fire(0, severity=None),
                 fire(0, kind="new_term", trigger="terms", subject="brand/term:x", severity=None))
    assert [e.alert.severity for e in events if e.change] == ["critical", "low"]
    assert notified(events) == [("opened", "brand", "*")]
    events = run(alerts, fire(1, kind="new_term", trigger="terms", subject="brand/term:x",
                              severity="high"))
    assert notified(events) == [("opened", "brand/term:x", "*")]  # the alert, once it matters
    assert [e.event for e in events if e.change] == ["updated"]


def test_snapshot_restore_mid_group_gives_the_same_notifications() -> None:
    options = dict(group_interval=Duration(300), renotify=Duration(3600), cool_down=Duration(600),
                   inhibit=[])
    steps_before = [fire(0, channel="a"), fire(1, channel="b"), fire(2, channel="c"), clear(3, channel="a")]
    steps_after = [5, 9, 14, 60, 61, 120]
    straight = manager(**options)
    run(straight, *steps_before)
    expected = run(straight, *steps_after)

    first = manager(**options)
    run(first, *steps_before)
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(first.snapshot()))
    second = manager(**options)
    second.restore(state)
    got = run(second, *steps_after)
    assert [(e.event, e.key, e.notify, e.change) for e in got] == [
        (e.event, e.key, e.notify, e.change) for e in expected]
    assert any(e.event == "renotify" for e in got) and any(e.event == "resolved" for e in got)


def test_restore_accepts_the_version_1_snapshot() -> None:
    old = manager()
    [opened] = run(old, fire(0))
    alerts = manager()
    alerts.restore([alert_to_dict(opened.alert)])
    assert list(alerts.open) == [("anger", "brand", "*")]
    assert changes(run(alerts, fire(2), clear(3))) == [("resolved", "brand", "*")]


def test_bad_matchers_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="unknown label 'kindd'"):
        InhibitRule(source=["kindd=x"], target=["kind=y"])
    with pytest.raises(ValueError, match="severity is one of"):
        InhibitRule(source=["severity=urgent"], target=["kind=y"])
    with pytest.raises(ValueError, match="not a valid regular expression"):
        InhibitRule(source=["subject=~("], target=["kind=y"])


def test_silence_states_follow_event_time() -> None:
    s = silence(0, 60, "kind=x")
    assert [s.state(at(m).timestamp()) for m in (-1, 0, 59, 60)] == [
        "pending", "active", "active", "expired"]
    assert (T0 + timedelta(minutes=60)) == s.ends_at
