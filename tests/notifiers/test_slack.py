"""The Slack notifier against a local incoming webhook that validates Block Kit as Slack does."""

from __future__ import annotations

import pytest

from sentineld import Draft, Notification, PermanentDeliveryError, RetryableDeliveryError
from sentineld.testing import make_alert
from tests.notifiers.receivers import SlackWebhook, slack_block_error

PATH = "/services/T000/B000/XXXX"


@pytest.fixture
async def slack(serve, sentineld_harness, monkeypatch):
    server = await serve(SlackWebhook())
    monkeypatch.setenv("SLACK_URL", server.url + PATH)
    sentineld_harness.configure(
        notifiers={"care": {"type": "slack", "webhook_url": {"env": "SLACK_URL"},
                            "mention_on_critical": "<!here>"}}
    )
    return server, sentineld_harness


async def test_alert_is_a_valid_block_kit_message(slack) -> None:
    server, harness = slack
    alert = make_alert(summary="negative mentions 6.2x baseline", severity="high",
                       channel="bluesky", evidence={"observed": 62, "expected": 10.0},
                       mentions=["bluesky:1", "bluesky:2"], trigger="anger")
    await harness.notify("care", alert)
    [payload] = server.accepted
    header, summary, facts, context = payload["blocks"]
    assert header["type"] == "header" and "Volume spike opened: brand on bluesky" in header["text"]["text"]
    assert summary["text"] == {"type": "mrkdwn", "text": "negative mentions 6.2x baseline"}
    fields = [f["text"] for f in facts["fields"]]
    assert "*Severity*\nhigh" in fields and "*Observed*\n62" in fields and "*Expected*\n10" in fields
    assert "*Mentions*\nbluesky:1, bluesky:2" in fields
    assert alert.id in context["elements"][0]["text"] and "trigger anger" in context["elements"][0]["text"]
    assert payload["text"].startswith("🟠 Volume spike opened")
    assert not payload["text"].startswith("<!here>")


async def test_alert_text_cannot_ping_or_forge_links(slack) -> None:
    server, harness = slack
    await harness.notify("care", make_alert(summary="<!channel> see <https://evil.example|bank> & co"))
    [payload] = server.accepted
    text = payload["blocks"][1]["text"]["text"]
    assert "<" not in text and ">" not in text
    assert text == "&lt;!channel&gt; see &lt;https://evil.example|bank&gt; &amp; co"


async def test_long_texts_and_many_facts_stay_within_block_kit_limits(slack) -> None:
    server, harness = slack
    alert = make_alert(kind="x" * 400, summary="s" * 5000,
                       evidence={f"k{i}": "v" * 3000 for i in range(20)})
    await harness.notify("care", alert)
    [payload] = server.accepted  # the server refuses anything over a limit with invalid_blocks
    assert len(payload["blocks"][0]["text"]["text"]) == 150
    assert len(payload["blocks"][1]["text"]["text"]) == 3000
    assert len(payload["blocks"][2]["fields"]) <= 10


async def test_critical_alert_pings_as_configured_but_resolution_does_not(slack) -> None:
    server, harness = slack
    alert = make_alert(severity="critical")
    await harness.notify("care", alert, "opened")
    await harness.notify("care", alert, "resolved")
    assert server.accepted[0]["text"].startswith("<!here> ")
    assert "<!here>" not in server.accepted[1]["text"]


async def test_draft_reply_is_shown(slack) -> None:
    server, harness = slack
    config = harness.config()
    from sentineld.supervisor import Guard

    guard = Guard(config.components["notifier"]["care"], config)
    await guard.start()
    draft = Draft(alert_id="a1", mention_id="bluesky:9", channel="bluesky", text="So sorry, DM us",
                  template="apologise")
    await guard.component.notify(Notification(key="d1", event="drafted", draft=draft))
    await guard.stop()
    [payload] = server.accepted
    assert payload["blocks"][1]["text"]["text"] == "So sorry, DM us"
    assert "*Template*\napologise" in [f["text"] for f in payload["blocks"][2]["fields"]]


async def test_slack_rejection_is_permanent_and_hides_the_webhook_url(slack, monkeypatch) -> None:
    server, harness = slack
    monkeypatch.setenv("SLACK_URL", server.url + "/services/T000/B000/wrong-token")
    with pytest.raises(PermanentDeliveryError) as caught:
        await harness.notify("care", make_alert())
    assert "404" in str(caught.value) and "no_service" in str(caught.value)
    assert "wrong-token" not in str(caught.value)


async def test_rate_limit_is_retryable_with_retry_after(slack) -> None:
    server, harness = slack
    server.fail_next.append((429, {"Retry-After": "7"}, "rate_limited"))
    with pytest.raises(RetryableDeliveryError) as caught:
        await harness.notify("care", make_alert())
    assert caught.value.retry_after == 7.0


async def test_invalid_blocks_answer_is_permanent(slack) -> None:
    """What Slack answers to a block it does not accept, through the notifier's HTTP path."""
    server, harness = slack
    config = harness.config()
    from sentineld.supervisor import Guard

    guard = Guard(config.components["notifier"]["care"], config)
    notifier = guard.component
    bad = {"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]}
    with pytest.raises(PermanentDeliveryError, match="400: invalid_blocks"):
        await notifier.post_json(server.url + PATH, bad)
    with pytest.raises(PermanentDeliveryError, match="400: no_text"):
        await notifier.post_json(server.url + PATH, {"blocks": []})
    await guard.stop()
    assert server.accepted == []


async def test_the_local_server_refuses_what_slack_refuses() -> None:
    """The stand-in is only useful if it is strict: check its own rules."""
    assert slack_block_error({"type": "header", "text": {"type": "mrkdwn", "text": "x"}})
    assert slack_block_error({"type": "header", "text": {"type": "plain_text", "text": "x" * 151}})
    assert slack_block_error({"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11})
    assert slack_block_error({"type": "section", "text": {"type": "mrkdwn", "text": ""}})
    assert slack_block_error({"type": "image", "imageUrl": "https://x"})
    assert slack_block_error({"type": "context", "elements": []})
    assert slack_block_error({"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}) is None
