"""The generic webhook: signed JSON with an Idempotency-Key, against a receiver that checks both."""

from __future__ import annotations

import json
import time

import pytest

from sentineld import PermanentDeliveryError, RetryableDeliveryError
from sentineld.testing import make_alert
from sentineld_plugins.notifiers.webhook import sign, verify_signature
from tests.notifiers.receivers import WebhookReceiver

SECRET = "shh-its-a-secret"


@pytest.fixture
async def hook(serve, sentineld_harness, monkeypatch):
    server = await serve(WebhookReceiver(SECRET))
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("HOOK_TOKEN", "tok123")
    sentineld_harness.configure(
        notifiers={"hook": {"type": "webhook", "url": server.url + "/in",
                            "secret": {"env": "HOOK_SECRET"}, "bearer_token": {"env": "HOOK_TOKEN"},
                            "headers": {"X-Team": "care"}}}
    )
    return server, sentineld_harness


async def test_signed_json_with_idempotency_key(hook) -> None:
    server, harness = hook
    alert = make_alert(summary="spike", evidence={"observed": 3})
    notification = await harness.notify("hook", alert)
    assert list(server.processed) == [notification.key]
    request, body = server.requests[0]
    assert request.headers["Idempotency-Key"] == notification.key
    assert request.headers["X-Sentineld-Event"] == "opened"
    assert request.headers["Authorization"] == "Bearer tok123"
    assert request.headers["X-Team"] == "care"
    assert request.headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["event"] == "opened" and payload["alert"]["id"] == alert.id
    assert payload["alert"]["evidence"] == {"observed": 3} and payload["draft"] is None


async def test_a_repeated_notification_is_processed_once(hook) -> None:
    server, harness = hook
    alert = make_alert()
    await harness.notify("hook", alert)
    await harness.notify("hook", alert)
    await harness.notify("hook", alert, "resolved")
    assert len(server.requests) == 3 and server.duplicates == 1
    assert [p["event"] for p in server.processed.values()] == ["opened", "resolved"]


async def test_wrong_secret_is_refused_permanently(hook, monkeypatch) -> None:
    server, harness = hook
    monkeypatch.setenv("HOOK_SECRET", "not-the-secret")
    with pytest.raises(PermanentDeliveryError, match="401"):
        await harness.notify("hook", make_alert())
    assert server.processed == {}


async def test_server_error_is_retryable(hook) -> None:
    server, harness = hook
    server.mode = "unavailable"
    with pytest.raises(RetryableDeliveryError, match="503"):
        await harness.notify("hook", make_alert())


async def test_verify_signature_for_receivers() -> None:
    body = b'{"key":"k"}'
    now = time.time()
    stamp = str(int(now))
    signature = sign(SECRET, stamp, body)
    assert verify_signature(SECRET, stamp, body, signature, now=now)
    assert not verify_signature(SECRET, stamp, body + b" ", signature, now=now)
    assert not verify_signature("other", stamp, body, signature, now=now)
    assert not verify_signature(SECRET, stamp, body, signature, now=now + 301)  # replayed later
    assert not verify_signature(SECRET, "soon", body, signature, now=now)


async def test_url_must_be_http(sentineld_harness) -> None:
    from sentineld.config import ConfigError

    sentineld_harness.configure(notifiers={"hook": {"type": "webhook", "url": "ftp://x"}})
    with pytest.raises(ConfigError, match="notifiers.hook.*http"):
        sentineld_harness.config()
