"""The posting responders against local stand-ins of Mastodon and a Bluesky PDS that check
each request as the platform does."""

from __future__ import annotations

import re
from typing import Any

import pytest
import structlog.testing

from sentineld import Draft, PermanentDeliveryError, RetryableDeliveryError
from sentineld.supervisor import Guard
from sentineld.testing import Harness
from sentineld_plugins.responders.bluesky import draft_rkey, tid
from tests.care.platforms import TID, BlueskyPds, MastodonInstance

TOKEN = "mastodon-token"
PASSWORD = "app-pass-word"


async def responder(harness: Harness, monkeypatch: Any, table: dict[str, Any]) -> Any:
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    monkeypatch.setenv("BSKY_APP_PASSWORD", PASSWORD)
    config = harness.configure(responders={"poster": table}).config()
    guard = Guard(config.components["responder"]["poster"], config)
    await guard.start()
    return guard.component


def reply(mention_id: str, text: str = "Hi @jo, sorry about that. Please DM us.", **meta: Any) -> Draft:
    return Draft(alert_id="a1", mention_id=mention_id, channel=mention_id.split(":")[0], text=text,
                 template="apologise_private", meta={"id": "d-0123456789ab", "created_at": 1795000000.0, **meta})


# --------------------------------------------------------------------------- Mastodon


async def test_mastodon_reply_carries_in_reply_to_and_idempotency_key(serve, sentineld_harness, monkeypatch) -> None:
    instance = await serve(MastodonInstance(TOKEN, {"110000000000000042"}))
    poster = await responder(sentineld_harness, monkeypatch, {
        "type": "mastodon", "base_url": instance.url, "access_token": {"env": "MASTODON_TOKEN"},
        "dry_run": False, "host": "mastodon.example", "visibility": "unlisted"})
    try:
        remote = await poster.post(reply("mastodon:mastodon.example:110000000000000042"))
        again = await poster.post(reply("mastodon:mastodon.example:110000000000000042"))
    finally:
        await poster.stop()
    assert remote == again and remote.startswith("mastodon:mastodon.example:")
    assert len(instance.statuses) == 1, "the repeated request with the same key made a second status"
    request, _ = instance.requests[0]
    assert request.headers["Idempotency-Key"] == "d-0123456789ab"
    assert instance.accepted == [{"status": "Hi @jo, sorry about that. Please DM us.",
                                  "visibility": "unlisted", "in_reply_to_id": "110000000000000042"}]


async def test_mastodon_refuses_a_mention_of_another_instance(serve, sentineld_harness, monkeypatch) -> None:
    instance = await serve(MastodonInstance(TOKEN, set()))
    poster = await responder(sentineld_harness, monkeypatch, {
        "type": "mastodon", "base_url": instance.url, "access_token": {"env": "MASTODON_TOKEN"},
        "dry_run": False, "host": "mastodon.example"})
    with pytest.raises(PermanentDeliveryError, match="is on other.example"):
        await poster.post(reply("mastodon:other.example:1"))
    assert instance.requests == []


async def test_mastodon_answers_become_retryable_or_permanent(serve, sentineld_harness, monkeypatch) -> None:
    instance = await serve(MastodonInstance(TOKEN, {"7"}))
    poster = await responder(sentineld_harness, monkeypatch, {
        "type": "mastodon", "base_url": instance.url, "access_token": {"env": "MASTODON_TOKEN"},
        "dry_run": False, "host": "mastodon.example"})
    instance.fail_next.append((503, {"Retry-After": "30"}, "maintenance"))
    with pytest.raises(RetryableDeliveryError) as retry:
        await poster.post(reply("mastodon:mastodon.example:7"))
    assert retry.value.retry_after == 30
    with pytest.raises(PermanentDeliveryError, match="422"):
        await poster.post(reply("mastodon:mastodon.example:7", text="x" * 501))
    with pytest.raises(PermanentDeliveryError, match="404"):
        await poster.post(reply("mastodon:mastodon.example:999"))
    await poster.stop()


async def test_mastodon_dry_run_logs_and_sends_nothing(serve, sentineld_harness, monkeypatch) -> None:
    instance = await serve(MastodonInstance(TOKEN, {"7"}))
    poster = await responder(sentineld_harness, monkeypatch, {
        "type": "mastodon", "base_url": instance.url, "access_token": {"env": "MASTODON_TOKEN"},
        "host": "mastodon.example"})
    assert poster.options.dry_run is True
    with structlog.testing.capture_logs() as logs:
        assert await poster.post(reply("mastodon:mastodon.example:7")) is None
    assert instance.requests == []
    [logged] = [entry for entry in logs if entry["event"].startswith("dry run")]
    assert logged["request"]["in_reply_to_id"] == "7" and logged["request"]["status"].startswith("Hi @jo")
    assert TOKEN not in repr(logs)


# --------------------------------------------------------------------------- Bluesky


PARENT = "at://did:plc:jo/app.bsky.feed.post/3kparent"
ROOT = "at://did:plc:al/app.bsky.feed.post/3kroot"


async def bluesky_pair(serve: Any, harness: Harness, monkeypatch: Any) -> tuple[BlueskyPds, Any]:
    pds = await serve(BlueskyPds("acme.bsky.social", PASSWORD))
    pds.add_record(PARENT, "bafyparent")
    pds.add_record(ROOT, "bafyroot")
    poster = await responder(harness, monkeypatch, {
        "type": "bluesky", "identifier": "acme.bsky.social", "app_password": {"env": "BSKY_APP_PASSWORD"},
        "service": pds.url, "dry_run": False, "langs": ["en"]})
    return pds, poster


async def test_bluesky_reply_is_a_post_record_with_strong_refs(serve, sentineld_harness, monkeypatch) -> None:
    pds, poster = await bluesky_pair(serve, sentineld_harness, monkeypatch)
    draft = reply(f"bluesky:{PARENT}", reply_to={"id": f"bluesky:{PARENT}", "cid": "bafyparent",
                                                 "thread_root": f"bluesky:{ROOT}"})
    try:
        remote = await poster.post(draft)
    finally:
        await poster.stop()
    assert pds.sessions == 1
    [created] = pds.created
    assert created["repo"] == "did:plc:acmebrand" and created["collection"] == "app.bsky.feed.post"
    assert TID.match(created["rkey"]) and created["rkey"] == draft_rkey(draft)
    record = created["record"]
    assert record["$type"] == "app.bsky.feed.post" and record["text"] == draft.text
    assert record["langs"] == ["en"] and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", record["createdAt"])
    assert record["reply"] == {"root": {"uri": ROOT, "cid": "bafyroot"},
                               "parent": {"uri": PARENT, "cid": "bafyparent"}}
    assert remote == f"bluesky:at://did:plc:acmebrand/app.bsky.feed.post/{created['rkey']}"
    # The root's CID was not known: it was read with getRecord.
    assert any("getRecord" in r.path and r.query["rkey"] == "3kroot" for r, _ in pds.requests)


async def test_bluesky_posting_the_same_draft_twice_makes_one_record(serve, sentineld_harness, monkeypatch) -> None:
    pds, poster = await bluesky_pair(serve, sentineld_harness, monkeypatch)
    draft = reply(f"bluesky:{PARENT}", reply_to={"cid": "bafyparent"})
    first = await poster.post(draft)
    second = await poster.post(draft)
    await poster.stop()
    assert first == second and len(pds.created) == 1


async def test_bluesky_expired_session_is_made_again(serve, sentineld_harness, monkeypatch) -> None:
    pds, poster = await bluesky_pair(serve, sentineld_harness, monkeypatch)
    await poster.post(reply(f"bluesky:{PARENT}", reply_to={"cid": "bafyparent"}))
    pds.expire()
    other = reply(f"bluesky:{PARENT}", reply_to={"cid": "bafyparent"}, id="d-second")
    await poster.post(other)
    await poster.stop()
    assert pds.sessions == 2 and len(pds.created) == 2


async def test_bluesky_wrong_app_password_is_permanent(serve, sentineld_harness, monkeypatch) -> None:
    pds = await serve(BlueskyPds("acme.bsky.social", "another-password"))
    pds.add_record(PARENT, "bafyparent")
    poster = await responder(sentineld_harness, monkeypatch, {
        "type": "bluesky", "identifier": "acme.bsky.social", "app_password": {"env": "BSKY_APP_PASSWORD"},
        "service": pds.url, "dry_run": False})
    with pytest.raises(PermanentDeliveryError, match="app password"):
        await poster.post(reply(f"bluesky:{PARENT}", reply_to={"cid": "bafyparent"}))
    await poster.stop()
    assert pds.created == []


async def test_bluesky_dry_run_sends_nothing(serve, sentineld_harness, monkeypatch) -> None:
    pds = await serve(BlueskyPds("acme.bsky.social", PASSWORD))
    poster = await responder(sentineld_harness, monkeypatch, {
        "type": "bluesky", "identifier": "acme.bsky.social", "app_password": {"env": "BSKY_APP_PASSWORD"},
        "service": pds.url})
    assert await poster.post(reply(f"bluesky:{PARENT}")) is None
    assert pds.requests == []


def test_tids_sort_by_time_and_use_the_base32_sortable_alphabet() -> None:
    early, late = tid(1_700_000_000_000_000, 5), tid(1_700_000_000_000_001, 5)
    assert TID.match(early) and TID.match(late) and early < late and len(early) == 13
