"""The webhook source over real sockets: authentication, limits, errors, durability."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sentineld.components import HealthState
from sentineld.model import mention_to_dict
from sentineld.testing import make_mention
from sentineld_plugins.sources.webhook import webhook_routes
from sentineld_plugins.sources.webhook.signing import signed_headers

TOKEN = "s3cret-token"
SECRET = "hmac-signing-secret"


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def hook(**extra: Any) -> dict[str, dict[str, Any]]:
    options = {"type": "webhook", "listen": "127.0.0.1:0", "token": {"env": "HOOK_TOKEN"},
               "signing_secret": {"env": "HOOK_SECRET"}, **extra}
    return {"hook": options}


def payload(*ids: str) -> list[dict[str, Any]]:
    return [mention_to_dict(make_mention(f"@acme {i}", id=f"crm:{i}", source="crm")) for i in ids]


async def endpoint(core) -> str:
    source = core.source("hook")
    await core.wait_for(lambda: source.addresses, what="the webhook listener")
    return f"http://{source.addresses[0]}/ingest"


async def post(url: str, body: bytes, headers: dict[str, str] | None = None,
               content_type: str = "application/json") -> tuple[int, dict[str, Any], Any]:
    async with aiohttp.ClientSession() as session, session.post(
        url, data=body, headers={"Content-Type": content_type, **(headers or {})}
    ) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_one_mention_with_a_bearer_token_is_stored_before_202(live_core) -> None:
    async with live_core.running(hook()) as core:
        url = await endpoint(core)
        body = json.dumps(payload("1")[0]).encode()
        status, _, answer = await post(url, body, BEARER)
        assert status == 202, answer
        assert answer == {"accepted": 1, "new": 1, "duplicates": 0}
        # 202 means durably stored: the store has it the moment the answer arrives.
        stored = await core.store.call("mention", "crm:1")
        assert stored is not None and stored.text == "@acme 1"


async def test_signed_array_then_the_same_again_is_idempotent(live_core) -> None:
    async with live_core.running(hook()) as core:
        url = await endpoint(core)
        body = json.dumps(payload("1", "2", "3")).encode()
        status, _, answer = await post(url, body, signed_headers(SECRET, body))
        assert (status, answer["new"]) == (202, 3)
        status, _, answer = await post(url, body, signed_headers(SECRET, body))
        assert status == 202 and answer == {"accepted": 3, "new": 0, "duplicates": 3}
        assert [m.id for m in await core.mentions()] == ["crm:1", "crm:2", "crm:3"]


async def test_json_lines_body(live_core) -> None:
    async with live_core.running(hook()) as core:
        url = await endpoint(core)
        body = b"".join(json.dumps(m).encode() + b"\n" for m in payload("a", "b"))
        status, _, answer = await post(url, body, BEARER, content_type="application/x-ndjson")
        assert (status, answer["new"]) == (202, 2)


@pytest.mark.parametrize(
    ("headers", "error", "says"),
    [
        ({}, "unauthorized", "authenticate with Authorization: Bearer"),
        ({"Authorization": "Bearer wrong"}, "unauthorized", "bearer token is not valid"),
        ({"Authorization": f"Basic {TOKEN}"}, "unauthorized", "authenticate with"),
        ({"X-Sentineld-Timestamp": "1"}, "bad_signature", "send both"),
    ],
)
async def test_unauthenticated_requests_get_401(live_core, headers, error, says) -> None:
    async with live_core.running(hook()) as core:
        url = await endpoint(core)
        status, response_headers, answer = await post(url, json.dumps(payload("1")).encode(), headers)
        assert status == 401 and answer["error"] == error
        assert response_headers["WWW-Authenticate"].startswith("Bearer")
        assert says in answer["message"]
        assert await core.count() == 0


async def test_tampered_body_and_stale_timestamp_are_refused(live_core) -> None:
    async with live_core.running(hook(replay_window="1m")) as core:
        url = await endpoint(core)
        body = json.dumps(payload("1")).encode()
        tampered = body.replace(b"@acme 1", b"@acme X")
        status, _, answer = await post(url, tampered, signed_headers(SECRET, body))
        assert status == 401 and "does not match" in answer["message"]
        old = int(time.time()) - 120  # a captured request, replayed two minutes later
        status, _, answer = await post(url, body, signed_headers(SECRET, body, timestamp=old))
        assert status == 401 and "within 60s" in answer["message"]
        assert await core.count() == 0


async def test_too_large_bodies_get_413_with_or_without_content_length(live_core) -> None:
    async with live_core.running(hook(max_body=2000)) as core:
        url = await endpoint(core)
        body = json.dumps(payload(*map(str, range(40)))).encode()
        assert len(body) > 2000
        status, _, answer = await post(url, body, BEARER)
        assert status == 413 and answer["limit"] == 2000

        async def chunks():  # chunked transfer: no Content-Length to check up front
            for start in range(0, len(body), 500):
                yield body[start : start + 500]

        async with aiohttp.ClientSession() as session, session.post(
            url, data=chunks(), headers={"Content-Type": "application/json", **BEARER}
        ) as response:
            assert response.status == 413
        assert await core.count() == 0


async def test_other_media_types_get_415_and_other_methods_405(live_core) -> None:
    async with live_core.running(hook()) as core:
        url = await endpoint(core)
        status, _, answer = await post(url, b"id=1", BEARER, content_type="application/x-www-form-urlencoded")
        assert status == 415 and "application/json" in answer["message"]
        async with aiohttp.ClientSession() as session, session.get(url, headers=BEARER) as response:
            assert response.status == 405 and response.headers["Allow"] == "POST"
            assert (await response.json())["error"] == "method_not_allowed"


async def test_malformed_payloads_get_400_and_nothing_is_stored(live_core) -> None:
    async with live_core.running(hook()) as core:
        url = await endpoint(core)
        status, _, answer = await post(url, b'{"id": "crm:1",', BEARER)
        assert status == 400 and "not valid JSON" in answer["message"]
        items = payload("1", "2", "3")
        del items[1]["created_at"]
        items[2]["created_at"] = "2026-11-24T09:15:02"  # no zone
        status, _, answer = await post(url, json.dumps(items).encode(), BEARER)
        assert status == 400 and answer["error"] == "invalid_mention"
        assert [p["at"] for p in answer["problems"]] == ["[1]", "[2]"]
        assert "created_at" in answer["problems"][0]["reason"]
        lines = b'{"id": "crm:9", "source": "crm", "created_at": "2026-11-24T09:15:02Z"}\n'
        status, _, answer = await post(url, lines, BEARER, content_type="application/x-ndjson")
        assert status == 400 and answer["problems"][0]["at"] == "line 1"
        assert "text" in answer["problems"][0]["reason"]
        status, _, answer = await post(url, b"[]", BEARER)
        assert status == 400 and answer["error"] == "empty"
        assert await core.count() == 0
        assert core.source("hook").malformed == 4


async def test_client_disconnect_mid_body_stores_nothing_and_serving_goes_on(live_core) -> None:
    async with live_core.running(hook()) as core:
        url = await endpoint(core)
        host, port = url.split("/")[2].split(":")
        body = json.dumps(payload("1", "2")).encode()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"POST /ingest HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        await writer.drain()
        writer.close()  # the sender dies half-way through the body
        await writer.wait_closed()
        await asyncio.sleep(0.2)
        assert await core.count() == 0
        status, _, answer = await post(url, body, BEARER)
        assert (status, answer["new"]) == (202, 2)


async def test_mounted_on_the_daemons_http_server(live_core) -> None:
    async with live_core.running(hook(listen="")) as core:
        source = core.source("hook")
        # Until the source task runs, a POST waits for it, then is refused (tested apart).
        await core.wait_for(lambda: source.health.state == HealthState.OK, what="the source running")
        assert source.addresses == []
        app = web.Application()
        app.add_routes(webhook_routes(source))
        async with TestServer(app, host="127.0.0.1") as server:
            body = json.dumps(payload("1")).encode()
            status, _, answer = await post(str(server.make_url("/ingest/hook")), body, BEARER)
            assert (status, answer["new"]) == (202, 1)
        assert [m.id for m in await core.mentions()] == ["crm:1"]


async def test_a_source_that_is_not_running_answers_503(live_core, monkeypatch) -> None:
    import sentineld_plugins.sources.webhook as webhook_module

    monkeypatch.setattr(webhook_module, "STARTING_GRACE_S", 0.05)
    config = live_core.config(hook())
    spec = config.components["source"]["hook"]
    source = spec.build(config.context(spec))
    app = web.Application()
    app.add_routes(webhook_routes(source))
    async with TestServer(app, host="127.0.0.1") as server:
        status, headers, answer = await post(
            str(server.make_url("/ingest/hook")), json.dumps(payload("1")).encode(), BEARER
        )
    assert status == 503 and headers["Retry-After"] == "1" and answer["error"] == "not_running"


async def test_a_post_that_comes_while_the_source_starts_waits_for_it(live_core) -> None:
    """The daemon's HTTP server answers before its sources have started: a POST in that
    moment is held until the source runs, not refused."""
    config = live_core.config(hook(listen=""))
    spec = config.components["source"]["hook"]
    source = spec.build(config.context(spec))
    received: list[list[str]] = []

    async def emit(mentions, cursor, *, wait=False, changes=()):
        received.append([m.id for m in mentions])
        return len(mentions)

    app = web.Application()
    app.add_routes(webhook_routes(source))
    async with TestServer(app, host="127.0.0.1") as server:
        sending = asyncio.create_task(post(
            str(server.make_url("/ingest/hook")), json.dumps(payload("1")).encode(), BEARER))
        await asyncio.sleep(0.3)
        assert not sending.done()
        running = asyncio.create_task(source.run(emit))
        status, _, answer = await asyncio.wait_for(sending, 5)
        running.cancel()
    assert (status, answer["new"]) == (202, 1) and received == [["crm:1"]]


def test_a_webhook_without_authentication_is_a_config_error(live_core) -> None:
    from sentineld.config import ConfigError

    with pytest.raises(ConfigError, match="authenticate senders"):
        live_core.config({"hook": {"type": "webhook"}})


async def test_deletions_and_edits_are_applied_before_202(live_core) -> None:
    async with live_core.running(hook()) as core:
        url = await endpoint(core)
        status, _, answer = await post(url, json.dumps(payload("1", "2")).encode(), BEARER)
        assert status == 202, answer
        changes = [{"edited": "crm:2", "text": "@acme 2, and now 3 hours late", "at": "2026-11-24T10:00:00Z"},
                   {"deleted": "crm:1"}, {"deleted": "crm:never-sent"}]
        lines = b"\n".join(json.dumps(c).encode() for c in changes)
        status, _, answer = await post(url, lines, BEARER, content_type="application/x-ndjson")
        assert status == 202, answer
        assert answer == {"accepted": 0, "new": 0, "duplicates": 0, "changes": 3}
        assert (await core.store.call("mention", "crm:1")).text == ""  # applied when 202 came
        edited = await core.store.call("mention", "crm:2")
        assert edited.text == "@acme 2, and now 3 hours late"
        assert edited.extra["edited_at"] == "2026-11-24T10:00:00Z"
        assert core.pipeline.stats.changes == {"deleted": 1, "edited": 1, "unknown": 1, "repeated": 0}

        # A malformed change: 400 with the reason, nothing of the request applied.
        bad = json.dumps([{"deleted": "crm:2"}, {"edited": "crm:2", "at": "2026-11-24T11:00:00Z"}]).encode()
        status, _, answer = await post(url, bad, BEARER)
        assert status == 400 and answer["error"] == "invalid_mention"
        assert answer["problems"] == [{"at": "[1]", "reason": "text: an edited change needs the new text (a string)"}]
        assert (await core.store.call("mention", "crm:2")).text == "@acme 2, and now 3 hours late"
