"""The Teams notifier against a local workflow webhook that validates the Adaptive Card."""

from __future__ import annotations

import pytest

from sentineld import PermanentDeliveryError
from sentineld.testing import make_alert
from tests.notifiers.receivers import TeamsWorkflow, adaptive_card_error


@pytest.fixture
async def teams(serve, sentineld_harness, monkeypatch):
    server = await serve(TeamsWorkflow())
    monkeypatch.setenv("TEAMS_URL", server.url + "/workflows/abc/triggers/manual/paths/invoke?sig=s3cret")
    sentineld_harness.configure(
        notifiers={"teams": {"type": "teams", "webhook_url": {"env": "TEAMS_URL"}}}
    )
    return server, sentineld_harness


async def test_alert_is_an_adaptive_card_message(teams) -> None:
    server, harness = teams
    alert = make_alert(summary="rivaljet buzz 5x", subject="competitor:rivaljet", severity="medium",
                       evidence={"observed": 50})
    await harness.notify("teams", alert)
    [payload] = server.accepted
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    title, summary, facts, footer = card["body"]
    assert title["type"] == "TextBlock" and title["weight"] == "Bolder" and title["color"] == "Warning"
    assert "Volume spike opened: competitor:rivaljet" in title["text"]
    assert summary["text"] == "rivaljet buzz 5x"
    assert {"title": "Observed", "value": "50"} in facts["facts"]
    assert footer["isSubtle"] is True and alert.id in footer["text"]
    # the query string (the workflow's signature) reached the server
    request, _ = server.requests[0]
    assert request.query["sig"] == "s3cret"


async def test_resolution_is_green_and_markdown_is_inert(teams) -> None:
    server, harness = teams
    alert = make_alert(summary="**bold** [click](https://evil.example)")
    await harness.notify("teams", alert, "resolved")
    title, summary, *_ = server.accepted[0]["attachments"][0]["content"]["body"]
    assert title["color"] == "Good" and "resolved" in title["text"]
    assert summary["text"] == r"\*\*bold\*\* \[click\](https://evil.example)"


async def test_rejected_card_is_permanent(teams) -> None:
    server, harness = teams
    server.fail_next.append((400, {"Content-Type": "application/json"},
                             '{"error":{"code":"TriggerInputSchemaMismatch","message":"bad"}}'))
    with pytest.raises(PermanentDeliveryError, match="TriggerInputSchemaMismatch") as caught:
        await harness.notify("teams", make_alert())
    assert "s3cret" not in str(caught.value)


async def test_the_local_server_refuses_bad_cards() -> None:
    assert adaptive_card_error({"type": "AdaptiveCard", "version": "1.4", "body": []})
    assert adaptive_card_error({"type": "AdaptiveCard", "version": "2.0", "body": [{"type": "TextBlock", "text": "x"}]})
    assert adaptive_card_error({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "FactSet", "facts": [{"title": "a", "value": 1}]}]})
    assert adaptive_card_error({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "x"}]}) is None
