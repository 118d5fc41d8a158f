"""The live daemon: the clock tick fires the SLA in wall time, the HTTP API serves the case queue
with its SLA timers, and an approved draft is posted by the running daemon."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from sentineld.model import Author, Mention, encode_mention
from tests.care.platforms import MastodonInstance
from tests.http.conftest import TOKEN, start_daemon
from tests.running import append_lines

CONFIG = """
[sentineld]
state_dir = "state"
checkpoint_interval = "100ms"
tick = "200ms"

[watch]
brand = ["acme"]
accounts = ["acme"]

[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "20ms"

[triggers.waiting]
type = "unanswered"

[cases]
first_response = "1s"

[responses]
post_poll = "100ms"

[responders.drafts]
type = "template"

[responders.toot]
type = "mastodon"
base_url = "{mastodon}"
host = "mastodon.example"
access_token = {{ env = "MASTODON_TOKEN" }}
dry_run = false

[http]
enabled = true
port = 0
token = {{ env = "SENTINELD_API_TEST_TOKEN" }}
"""


async def until(check, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_live_sla_case_queue_and_posting(tmp_path: Path, monkeypatch, serve) -> None:
    instance = await serve(MastodonInstance("tok", {"110000000000000042"}))
    monkeypatch.setenv("SENTINELD_API_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("MASTODON_TOKEN", "tok")
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.chdir(tmp_path)
    daemon, stop, task = await start_daemon(tmp_path, CONFIG.format(mastodon=instance.url))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        complaint = Mention(
            id="mastodon:mastodon.example:110000000000000042", source="mastodon",
            created_at=datetime.now(UTC), text="@acme where is my refund?",
            author=Author(id="jo@mastodon.example", handle="jo"),
        )
        append_lines(tmp_path / "inbox.jsonl", [encode_mention(complaint).decode()])
        async with aiohttp.ClientSession() as session:
            async def queue():
                async with session.get(daemon.http.url.rstrip("/") + "/api/cases?state=open", headers=auth) as r:
                    body = await r.json()
                    return body if r.status == 200 and body["items"] else None

            listing = await until(queue)
            [case] = listing["items"]
            assert case["state"] == "new" and case["channels"] == ["mastodon"] and case["customer_name"] == "jo"
            assert case["sla_due_at"] is not None and case["first_response_at"] is None

        store = daemon.pipeline.store  # the daemon's own store worker

        async def drafted():
            return await store.call("drafts", state="pending")

        # The live clock ticks past the 1-second SLA: the alert opens and a reply is drafted.
        [draft] = await until(drafted)
        assert draft.case_id == case["id"] and draft.text.startswith("Hi @jo")
        assert instance.requests == []  # not before approval
        await store.call("approve_draft", draft.id, "sam")

        async def posted():
            return await store.call("drafts", state="posted")

        [done] = await until(posted)
        assert done.id == draft.id
        assert [body["in_reply_to_id"] for body in instance.accepted] == ["110000000000000042"]
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
