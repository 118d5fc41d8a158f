"""The shared HTTP mapping: what is delivered, retried, or dead-lettered."""

from __future__ import annotations

import socket
from email.utils import formatdate

import pytest

from sentineld import PermanentDeliveryError, RetryableDeliveryError
from sentineld.testing import make_alert
from sentineld_plugins.notifiers._http import HttpAnswer, classify, parse_retry_after


def answer(status: int, body: str = "") -> HttpAnswer:
    return HttpAnswer(status, {}, body.encode())


def test_retry_after_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(formatdate(1_000_030, usegmt=True), now=1_000_000) == 30.0
    assert parse_retry_after(formatdate(999_000, usegmt=True), now=1_000_000) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("inf") is None


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    with pytest.raises(RetryableDeliveryError):
        classify(answer(status, "busy"), "svc")


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 410, 413, 422])
def test_permanent_statuses(status: int) -> None:
    with pytest.raises(PermanentDeliveryError, match=f"svc answered {status}"):
        classify(answer(status, "nope"), "svc")


def test_success_and_retry_after() -> None:
    classify(answer(200), "svc")
    classify(answer(204), "svc")
    with pytest.raises(RetryableDeliveryError) as caught:
        classify(HttpAnswer(429, {"Retry-After": "9"}, b""), "svc")
    assert caught.value.retry_after == 9.0
    with pytest.raises(RetryableDeliveryError) as caught:
        classify(HttpAnswer(503, {}, b""), "svc")
    assert caught.value.retry_after is None


def test_long_answers_are_quoted_short() -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        classify(answer(400, "x" * 5000), "svc")
    assert len(str(caught.value)) < 400


async def test_connection_refused_is_retryable_and_hides_the_path(sentineld_harness, monkeypatch) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SLACK_URL", f"http://127.0.0.1:{port}/services/T/B/secret-token")
    sentineld_harness.configure(notifiers={"s": {"type": "slack", "webhook_url": {"env": "SLACK_URL"}}})
    with pytest.raises(RetryableDeliveryError, match="cannot connect") as caught:
        await sentineld_harness.notify("s", make_alert())
    assert "secret-token" not in str(caught.value)
