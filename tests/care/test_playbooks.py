"""Playbooks: routing by labels, escalation in event time, acknowledgements, active hours."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sentineld.alerting import AlertEvent, AlertManager, Signal
from sentineld.options import OptionsError, convert_options
from sentineld.playbooks import PlaybookError, PlaybookRouter, PlaybooksOptions
from tests.care.helpers import T0, at

NOTIFIERS = ["care_team", "oncall", "exec", "log"]

ESCALATION = {
    "rules": [{
        "name": "complaints", "match": ["kind=unanswered"], "owner": "care-lead",
        "steps": [{"notify": ["care_team"]}, {"after": "15m", "notify": ["oncall"]}],
    }],
    "unmatched": ["log"],
}


def router(config: dict[str, Any] = ESCALATION) -> PlaybookRouter:
    return PlaybookRouter(convert_options(config, PlaybooksOptions, "playbooks"), NOTIFIERS)


def opened(kind: str = "unanswered", minutes: float = 0, severity: str = "high",
           channel: str = "bluesky", subject: str = "brand/customer:jo") -> list[AlertEvent]:
    """The events the alert manager gives for a condition that fires at `minutes`."""
    manager = AlertManager()
    return manager.apply([Signal(True, "t", kind, subject, channel, at(minutes), "s", severity)])  # type: ignore[arg-type]


def route(pb: PlaybookRouter, events: list[AlertEvent]) -> list[tuple[str, str, dict]]:
    out = []
    for event in events:
        for destination, key, payload in pb(event):
            out.append((destination, key, json.loads(payload)))
    return out


def tick(pb: PlaybookRouter, minutes: float) -> list[tuple[str, str, dict]]:
    return [(d, k, json.loads(p)) for d, k, p in pb.tick((T0 + timedelta(minutes=minutes)).timestamp())]


def test_care_team_at_once_then_oncall_when_nobody_acknowledges_in_15_minutes() -> None:
    pb = router()
    first = route(pb, opened())
    assert [(d, p["event"], p["meta"]["playbook"], p["meta"]["owner"]) for d, _, p in first] == [
        ("care_team", "opened", "complaints", "care-lead")
    ]
    assert tick(pb, 14) == []
    assert tick(pb, 14.99) == []
    paged = tick(pb, 15)
    assert [(d, p["event"], p["meta"]["escalation"]["step"]) for d, _, p in paged] == [("oncall", "opened", 1)]
    assert tick(pb, 16) == [] and tick(pb, 60) == []  # paged once


def test_an_acknowledgement_before_the_step_stops_the_page() -> None:
    pb = router()
    alert = opened()[-1].alert
    route(pb, opened())
    pb.set_acks({alert.id: at(10).timestamp()})
    delivered = tick(pb, 20)
    assert [d for d, _, _ in delivered] == ["care_team"]  # only the acknowledgement announcement
    assert delivered[0][2]["event"] == "acknowledged"


def test_an_acknowledgement_after_the_step_fell_due_does_not_unpage() -> None:
    pb = router()
    alert = opened()[-1].alert
    route(pb, opened())
    pb.set_acks({alert.id: at(16).timestamp()})
    assert {d for d, _, p in tick(pb, 20) if p["event"] == "opened"} == {"oncall"}


def test_a_resolved_alert_is_not_escalated_and_its_resolve_goes_where_it_was_told() -> None:
    pb = router()
    manager = AlertManager()
    events = manager.apply([Signal(True, "t", "unanswered", "brand/customer:jo", "bluesky", at(0), "s", "high")])
    route(pb, events)
    resolved = route(pb, manager.apply([Signal(False, "t", "unanswered", "brand/customer:jo", "bluesky", at(5))]))
    assert [(d, p["event"]) for d, _, p in resolved] == [("care_team", "resolved")]
    assert tick(pb, 30) == []


def test_rules_match_on_labels_and_the_first_match_wins() -> None:
    config = {
        "rules": [
            {"name": "crisis", "match": ["kind=~negativity_spike|volume_spike", "channel=*"],
             "min_severity": "high", "steps": [{"notify": ["exec", "oncall"]}]},
            {"name": "spikes", "match": ["kind=~.*_spike"], "steps": [{"notify": ["care_team"]}]},
        ],
    }
    pb = router(config)
    assert {d for d, _, _ in route(pb, opened("negativity_spike", channel="*", subject="brand"))} == {"exec", "oncall"}
    assert {d for d, _, _ in route(pb, opened("negativity_spike", channel="*", subject="brand", severity="low"))} == {"care_team"}
    assert {d for d, _, _ in route(pb, opened("volume_spike", channel="reddit", subject="brand"))} == {"care_team"}
    # Unmatched alerts go to every notifier unless `unmatched` says otherwise.
    assert {d for d, _, _ in route(pb, opened("viral_post", subject="brand"))} == set(NOTIFIERS)


def test_active_hours_pick_the_rule_by_the_alerts_event_time() -> None:
    config = {
        "rules": [
            {"name": "office", "match": ["kind=unanswered"],
             "active_hours": {"timezone": "Europe/Paris", "start": "09:00", "end": "18:00"},
             "steps": [{"notify": ["care_team"]}]},
            {"name": "night", "match": ["kind=unanswered"], "steps": [{"notify": ["oncall"]}]},
        ],
    }
    pb = router(config)
    # T0 is Tuesday 09:00 UTC = 10:00 in Paris: office hours.
    assert [d for d, _, _ in route(pb, opened(minutes=0))] == ["care_team"]
    # 20:00 UTC = 21:00 in Paris: the night rule.
    assert [d for d, _, _ in route(pb, opened(minutes=11 * 60, subject="brand/customer:al"))] == ["oncall"]
    # Saturday: closed all day.
    saturday = (4 * 24 + 2) * 60
    assert [d for d, _, _ in route(pb, opened(minutes=saturday, subject="brand/customer:bo"))] == ["oncall"]


def test_pending_escalations_survive_a_restart() -> None:
    pb = router()
    route(pb, opened())
    state = json.loads(json.dumps(pb.snapshot()))
    again = router()
    again.restore(state)
    assert [d for d, _, _ in tick(again, 15)] == ["oncall"]


def test_escalation_keys_are_stable_so_a_reprocessed_stretch_pages_once() -> None:
    first, second = router(), router()
    route(first, opened())
    route(second, opened())
    assert [k for _, k, _ in tick(first, 15)] == [k for _, k, _ in tick(second, 15)]


def test_unknown_notifier_in_a_playbook_is_a_clear_error() -> None:
    config = {"rules": [{"name": "x", "steps": [{"notify": ["pager"]}]}]}
    with pytest.raises(PlaybookError, match=r"playbooks.rules\[0\].steps\[0\].notify: no notifier 'pager'"):
        router(config)


@pytest.mark.parametrize("config, message", [
    ({"rules": [{"name": "x", "steps": []}]}, "at least one step"),
    ({"rules": [{"name": "x", "match": ["colour=red"], "steps": [{"notify": ["log"]}]}]}, "unknown label"),
    ({"rules": [{"name": "x", "steps": [{"notify": ["log"], "after": "soon"}]}]}, "duration"),
    ({"rules": [{"name": "x", "steps": [{"notify": ["log"]}]}, {"name": "x", "steps": [{"notify": ["log"]}]}]},
     "names must be unique"),
])
def test_bad_playbooks_are_explained(config: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        convert_options(config, PlaybooksOptions, "playbooks")


def test_sentineld_check_names_a_playbook_step_with_an_unknown_notifier() -> None:
    from sentineld.config import ConfigError, load_config

    text = """
[notifiers.care_team]
type = "console"
[notifiers.pager]
type = "console"
enabled = false
[[playbooks.rules]]
name = "x"
steps = [{ notify = ["care_team"] }, { after = "5m", notify = ["pager", "oncall"] }]
"""
    with pytest.raises(ConfigError) as error:
        load_config(text=text)
    assert str(error.value).splitlines() == [
        "<embedded sentineld.toml>: playbooks.rules[0].steps[1].notify: no notifier 'oncall' "
        "(configured: care_team, pager)"
    ]


def test_a_disabled_notifier_named_by_a_playbook_is_skipped() -> None:
    config = {"rules": [{"name": "x", "steps": [{"notify": ["care_team", "pager"]}]}]}
    pb = PlaybookRouter(convert_options(config, PlaybooksOptions, "playbooks"), ["care_team"],
                        configured=["care_team", "pager"])
    assert [d for d, _, _ in route(pb, opened())] == ["care_team"]
