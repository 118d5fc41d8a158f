"""The Discord notifier against a local Execute Webhook endpoint with Discord's embed limits."""

from __future__ import annotations

import pytest

from sentineld import PermanentDeliveryError, RetryableDeliveryError
from sentineld.testing import make_alert
from tests.notifiers.receivers import DiscordWebhook, discord_embed_error

PATH = "/api/webhooks/123456/tok-EN_1"


@pytest.fixture
async def discord(serve, sentineld_harness, monkeypatch):
    server = await serve(DiscordWebhook())
    monkeypatch.setenv("DISCORD_URL", server.url + PATH)
    sentineld_harness.configure(
        notifiers={"discord": {"type": "discord", "webhook_url": {"env": "DISCORD_URL"},
                               "username": "sentineld"}}
    )
    return server, sentineld_harness


async def test_alert_is_an_embed(discord) -> None:
    server, harness = discord
    alert = make_alert(summary="@everyone look", severity="critical", evidence={"z": 7.25})
    await harness.notify("discord", alert)
    [payload] = server.accepted
    request, _ = server.requests[0]
    assert request.query["wait"] == "true"
    assert payload["username"] == "sentineld"
    assert payload["allowed_mentions"] == {"parse": []}
    [embed] = payload["embeds"]
    assert embed["color"] == 0xD32F2F and isinstance(embed["color"], int)
    assert embed["description"] == "@everyone look"
    assert embed["timestamp"] == "2026-11-24T09:00:00Z"
    assert {"name": "Z", "value": "7.25", "inline": True} in embed["fields"]
    assert alert.id in embed["footer"]["text"]


async def test_huge_alert_stays_within_embed_limits(discord) -> None:
    server, harness = discord
    alert = make_alert(kind="k" * 500, summary="s" * 9000,
                       evidence={f"key{i}": "v" * 2000 for i in range(40)})
    await harness.notify("discord", alert)
    [payload] = server.accepted  # anything over a limit would have been a 400 (code 50035)
    assert discord_embed_error(payload["embeds"][0]) is None


async def test_rate_limit_uses_discords_retry_after(discord) -> None:
    server, harness = discord
    server.fail_next.append((429, {"Content-Type": "application/json", "Retry-After": "3"},
                             '{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}'))
    with pytest.raises(RetryableDeliveryError) as caught:
        await harness.notify("discord", make_alert())
    assert caught.value.retry_after == 2.5


async def test_unknown_webhook_is_permanent_and_hides_the_token(discord, monkeypatch) -> None:
    server, harness = discord
    monkeypatch.setenv("DISCORD_URL", server.url + "/api/webhooks/not-a-number/tok-EN_1")
    with pytest.raises(PermanentDeliveryError) as caught:
        await harness.notify("discord", make_alert())
    assert "Unknown Webhook" in str(caught.value) and "tok-EN_1" not in str(caught.value)


async def test_the_local_server_refuses_what_discord_refuses() -> None:
    assert discord_embed_error({"title": "t" * 257})
    assert discord_embed_error({"fields": [{"name": "a", "value": ""}]})
    assert discord_embed_error({"fields": [{"name": "a", "value": "b"}] * 26})
    assert discord_embed_error({"description": "d" * 4000, "fields": [{"name": "n", "value": "v" * 1000}] * 3})
    assert discord_embed_error({"color": "red"})
    assert discord_embed_error({"title": "ok", "color": 5}) is None
