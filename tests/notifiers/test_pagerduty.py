"""The PagerDuty notifier against a local Events API v2 that keeps PagerDuty's alert state."""

from __future__ import annotations

import pytest

from sentineld import Draft, Notification, PermanentDeliveryError
from sentineld.testing import make_alert
from tests.notifiers.receivers import PagerDutyEvents

ROUTING_KEY = "R0123456789abcdef0123456789abcde"  # 32 characters, like a real integration key


@pytest.fixture
async def pagerduty(serve, sentineld_harness, monkeypatch):
    server = await serve(PagerDutyEvents())
    monkeypatch.setenv("PD_KEY", ROUTING_KEY)
    sentineld_harness.configure(
        notifiers={"oncall": {"type": "pagerduty", "routing_key": {"env": "PD_KEY"},
                              "events_url": server.url + "/v2/enqueue"}}
    )
    return server, sentineld_harness


async def test_trigger_update_resolve_is_one_pagerduty_alert(pagerduty) -> None:
    server, harness = pagerduty
    alert = make_alert(summary="negative spike", severity="high", channel="bluesky",
                       evidence={"observed": 62}, mentions=["bluesky:1"])
    await harness.notify("oncall", alert, "opened")
    alert.severity = "critical"
    await harness.notify("oncall", alert, "updated")
    await harness.notify("oncall", alert, "resolved")

    trigger, update, resolve = server.accepted
    assert trigger["routing_key"] == ROUTING_KEY and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == update["dedup_key"] == resolve["dedup_key"] == f"sentineld-{alert.id}"
    payload = trigger["payload"]
    assert payload["severity"] == "error" and update["payload"]["severity"] == "critical"
    assert payload["source"] == "sentineld" and payload["timestamp"] == "2026-11-24T09:00:00Z"
    assert (payload["component"], payload["group"], payload["class"]) == ("brand", "bluesky", "volume_spike")
    assert payload["custom_details"]["evidence"] == {"observed": 62}
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                       "dedup_key": f"sentineld-{alert.id}"}
    [state] = server.alerts.values()
    assert state["status"] == "resolved" and state["triggers"] == 2


async def test_acknowledge(pagerduty) -> None:
    server, harness = pagerduty
    alert = make_alert()
    await harness.notify("oncall", alert, "opened")
    await harness.notify("oncall", alert, "acknowledged")
    assert server.alerts[f"sentineld-{alert.id}"]["status"] == "acknowledged"


async def test_a_repeated_trigger_does_not_open_a_second_incident(pagerduty) -> None:
    server, harness = pagerduty
    alert = make_alert()
    await harness.notify("oncall", alert, "opened")
    await harness.notify("oncall", alert, "opened")  # a retry after a lost answer
    assert len(server.alerts) == 1


async def test_invalid_routing_key_is_permanent(pagerduty, monkeypatch) -> None:
    server, harness = pagerduty
    monkeypatch.setenv("PD_KEY", "too-short")
    with pytest.raises(PermanentDeliveryError, match="routing_key") as caught:
        await harness.notify("oncall", make_alert())
    assert "too-short" not in str(caught.value)
    assert server.alerts == {}


async def test_drafts_are_not_paged(pagerduty) -> None:
    server, harness = pagerduty
    config = harness.config()
    from sentineld.supervisor import Guard

    guard = Guard(config.components["notifier"]["oncall"], config)
    draft = Draft(alert_id=None, mention_id="m", channel="c", text="t")
    await guard.component.notify(Notification(key="d", event="drafted", draft=draft))
    await guard.stop()
    assert server.requests == []


async def test_the_local_server_refuses_incomplete_events() -> None:
    assert PagerDutyEvents.errors({"event_action": "trigger", "payload": {}})
    assert PagerDutyEvents.errors({"routing_key": ROUTING_KEY, "event_action": "resolve"})
    assert PagerDutyEvents.errors({"routing_key": ROUTING_KEY, "event_action": "trigger",
                                   "payload": {"summary": "s", "source": "x", "severity": "high"}})
    assert not PagerDutyEvents.errors({"routing_key": ROUTING_KEY, "event_action": "trigger",
                                       "payload": {"summary": "s", "source": "x", "severity": "info"}})
