"""security: who may send mentions, who may read the API, and what never leaks.

- Webhook requests with a missing, wrong, tampered or replayed (stale timestamp) signature, or a
  wrong bearer token, are refused with a JSON 401 and store nothing (a real webhook source in
  the real pipeline, real sockets, a real SQLite store).
- Every secret comparison goes through `hmac.compare_digest` (counted at run time, and no `==`
  on a revealed secret anywhere in the code).
- Secrets never appear in logs, error output, the API, the metrics or the CLI: a real
  `sentineld run` holds a webhook token, a signing secret, a Slack webhook URL, an SMTP password,
  a notifier bearer token and an API token, all from the environment, while its notifiers fail,
  bad webhook requests come in, a listener cannot bind and the API is read with and without the
  token; `sentineld check` is given secrets written in the file itself.
- The HTTP side and the webhook listener bind to loopback by default: in the code, in the
  shipped and starter configs, and on the listening sockets of a running daemon.
- Everything beyond /healthz and /readyz (and the dashboard's static shell) needs the token.
"""

from __future__ import annotations

import ast
import asyncio
import hmac
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import tomli_w

from sentineld.config import load_config
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld_plugins.sources.webhook.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers
from tests.faults.fuzz_support import StandIn
from tests.running import DaemonProcess, wait_until

REPO = Path(__file__).resolve().parents[2]
TOKEN = "hook-bearer-Q7w"
SIGNING = "hook-signing-Z9k"


def mention(n: int, text: str = "@acme lost my bag", author: str = "jo") -> dict[str, Any]:
    return {"id": f"crm:{n}", "source": "crm", "created_at": "2026-11-24T09:15:02Z", "text": text,
            "author": {"id": author, "handle": author}}


# --------------------------------------------------------------------------- webhook authentication


@dataclass
class Hook:
    url: str
    store: StoreWorker
    session: aiohttp.ClientSession

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        async with self.session.post(self.url, data=body,
                                     headers={"Content-Type": "application/json", **headers}) as response:
            return response.status, dict(response.headers), await response.json(content_type=None)

    async def stored(self) -> int:
        return await self.store.call("count_mentions")


@pytest.fixture
async def hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hook]:
    monkeypatch.setenv("SEC_HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("SEC_HOOK_SIGNING", SIGNING)
    config = load_config(text=tomli_w.dumps({
        "sentineld": {"state_dir": str(tmp_path / "state")},
        "watch": {"brand": ["acme"]},
        "sources": {"hook": {"type": "webhook", "listen": "127.0.0.1:0", "replay_window": "1m",
                             "token": {"env": "SEC_HOOK_TOKEN"}, "signing_secret": {"env": "SEC_HOOK_SIGNING"}}},
    }), entry_points=False)
    worker = StoreWorker(open_store(config.state_dir))
    pipeline = Pipeline(config, worker, live=True, notify=False)
    await pipeline.start()
    source: Any = pipeline.sources[0].component
    deadline = time.monotonic() + 10
    while not source.addresses and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    try:
        async with aiohttp.ClientSession() as session:
            yield Hook(f"http://{source.addresses[0]}/ingest", worker, session)
    finally:
        await pipeline.stop()
        worker.close()


async def refused(hook: Hook, body: bytes, headers: dict[str, str], error: str, says: str) -> None:
    status, response_headers, answer = await hook.post(body, headers)
    assert status == 401, answer
    assert answer["error"] == error and says in answer["message"], answer
    assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert response_headers["Content-Type"].startswith("application/json")
    assert await hook.stored() == 0


async def test_missing_signature_rejected(hook: Hook) -> None:
    await refused(hook, json.dumps(mention(1)).encode(), {}, "unauthorized", "authenticate with")


async def test_signature_without_timestamp_rejected(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    headers = signed_headers(SIGNING, body)
    del headers[TIMESTAMP_HEADER]
    await refused(hook, body, headers, "bad_signature", "send both")


async def test_wrong_signature_rejected(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    await refused(hook, body, signed_headers("not-the-secret", body), "bad_signature", "does not match")


async def test_tampered_body_rejected(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    headers = signed_headers(SIGNING, body)
    await refused(hook, body.replace(b"lost", b"found"), headers, "bad_signature", "does not match")


async def test_stale_signature_rejected(hook: Hook) -> None:
    """A captured request replayed after the replay window (1 minute here)."""
    body = json.dumps(mention(1)).encode()
    captured = signed_headers(SIGNING, body, timestamp=int(time.time()) - 61)
    await refused(hook, body, captured, "bad_signature", "within 60s")


async def test_future_timestamp_rejected(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    await refused(hook, body, signed_headers(SIGNING, body, timestamp=int(time.time()) + 61),
                  "bad_signature", "within 60s")


async def test_replayed_request_rejected_once_the_window_has_passed(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    """The very bytes of a request that was accepted, sent again later: refused, and the second
    mention it carries (smuggled into a signed array) is never stored."""
    body = json.dumps([mention(1), mention(2)]).encode()
    headers = signed_headers(SIGNING, body)
    status, _, answer = await hook.post(body, headers)
    assert (status, answer["new"]) == (202, 2)
    later = time.time() + 61
    monkeypatch.setattr("sentineld_plugins.sources.webhook.signing.time.time", lambda: later)
    status, _, answer = await hook.post(body, headers)
    assert status == 401 and answer["error"] == "bad_signature"
    other = json.dumps([mention(3)]).encode()
    status, _, _ = await hook.post(other, {**headers, SIGNATURE_HEADER: sign(SIGNING, headers[TIMESTAMP_HEADER], other)})
    assert status == 401
    assert await hook.stored() == 2


@pytest.mark.parametrize("value", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}",
                                   TOKEN, f"Bearer {SIGNING}"])
async def test_wrong_bearer_token_rejected(hook: Hook, value: str) -> None:
    body = json.dumps(mention(1)).encode()
    status, response_headers, answer = await hook.post(body, {"Authorization": value})
    assert status == 401 and answer["error"] == "unauthorized", answer
    assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert await hook.stored() == 0


async def test_wrong_bearer_token_is_not_rescued_by_a_valid_signature(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    headers = {**signed_headers(SIGNING, body), "Authorization": "Bearer nope"}
    status, _, answer = await hook.post(body, headers)
    assert status == 401 and await hook.stored() == 0, answer


# --------------------------------------------------------------------------- constant time


async def test_secrets_are_compared_in_constant_time(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted at run time: the bearer token, the webhook signature and the API token all go
    through `hmac.compare_digest`."""
    from sentineld.http.auth import TokenAuth

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    body = json.dumps(mention(1)).encode()
    await hook.post(body, {"Authorization": "Bearer wrong"})
    assert any(TOKEN.encode() in pair for pair in calls), "the bearer token was not compared by compare_digest"
    calls.clear()
    await hook.post(body, signed_headers("wrong", body))
    assert calls, "the signature was not compared by compare_digest"
    calls.clear()
    auth = TokenAuth("api-token")
    assert not auth.allowed(SimpleNamespace(headers={"Authorization": "Bearer api-tokex"}, cookies={}))
    assert not auth.allowed(SimpleNamespace(headers={}, cookies={"sentineld_session": "forged"}))
    assert len(calls) == 2


def test_no_revealed_secret_is_compared_with_equals() -> None:
    """Read the source: `==`/`!=` next to `.reveal()` would leak a secret's length and prefix
    through timing; every built-in must use `hmac.compare_digest`."""
    offenders = []
    for path in [*REPO.joinpath("sentineld").rglob("*.py"), *REPO.joinpath("plugins").rglob("*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                sides = [node.left, *node.comparators]
                if any(isinstance(side, ast.Call) and isinstance(side.func, ast.Attribute)
                       and side.func.attr == "reveal" for side in sides):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, offenders


# --------------------------------------------------------------------------- tracebacks


def test_exception_logs_never_show_local_variables() -> None:
    """A component that fails while a revealed secret sits in a local variable: the JSON log's
    traceback names the frames but never their locals."""
    from sentineld.logs import configure_logging

    import structlog

    saved = structlog.get_config()
    stream = io.StringIO()
    configure_logging("info", "json", stream)

    def deliver(password: str) -> None:
        url = f"https://hooks.example/services/{password}"
        raise ConnectionError(f"cannot connect ({len(url)} bytes of URL)")

    try:
        deliver("very-secret-smtp-password")
    except ConnectionError as exc:
        structlog.get_logger("sentineld").error("component call failed", exc_info=exc)
    finally:
        structlog.configure(**saved)
    output = stream.getvalue()
    assert "component call failed" in output and "deliver" in output  # the traceback is there
    assert "very-secret-smtp-password" not in output, output
