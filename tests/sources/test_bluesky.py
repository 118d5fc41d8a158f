"""The Bluesky source against a local Jetstream websocket and AppView that send the real
payload shapes (Jetstream commit/identity events, app.bsky.actor.getProfiles,
com.atproto.identity.resolveHandle)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from harness_http import FAST, LocalServer, SourceRun, closed_port_url

from sentineld.components import HealthState
from sentineld_plugins.sources.bluesky import BlueskySource

BRAND_DID = "did:plc:acmebrand0000000000000"
T0 = 1_732_439_700_000_000  # 2024-11-24T09:15:00Z in microseconds


def post_event(
    n: int,
    text: str,
    *,
    did: str = "did:plc:jo00000000000000000000",
    reply_to: str | None = None,
    quote: str | None = None,
    langs: tuple[str, ...] = ("en",),
    created_at: str | None = None,
) -> dict[str, Any]:
    """A Jetstream commit event creating an app.bsky.feed.post, as Jetstream sends it."""
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": created_at or f"2024-11-24T09:15:{n:02d}.000Z",
        "langs": list(langs),
    }
    if reply_to:
        ref = {"uri": reply_to, "cid": "bafyreiparent"}
        record["reply"] = {"parent": ref, "root": ref}
    if quote:
        record["embed"] = {
            "$type": "app.bsky.embed.record",
            "record": {"uri": quote, "cid": "bafyreiquoted"},
        }
    return {
        "did": did,
        "time_us": T0 + n * 1_000_000,
        "kind": "commit",
        "commit": {
            "rev": f"3l{n:011d}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"3kpost{n:05d}",
            "record": record,
            "cid": f"bafyreipost{n}",
        },
    }


def identity_event(n: int, did: str, handle: str) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": T0 + n * 1_000_000,
        "kind": "identity",
        "identity": {"did": did, "handle": handle, "seq": 1000 + n, "time": "2024-11-24T09:15:00Z"},
    }


def delete_event(n: int, did: str, rkey: str) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": T0 + n * 1_000_000,
        "kind": "commit",
        "commit": {"rev": "3lx", "operation": "delete", "collection": "app.bsky.feed.post",
                   "rkey": rkey},
    }


def brand_post_uri(rkey: str = "3kbrandpost") -> str:
    return f"at://{BRAND_DID}/app.bsky.feed.post/{rkey}"


PROFILES = {
    "did:plc:jo00000000000000000000": {"handle": "jo.bsky.social", "displayName": "Jo",
                                       "followersCount": 1200, "followsCount": 300,
                                       "postsCount": 5400},
    "did:plc:sam0000000000000000000": {"handle": "sam.bsky.social", "displayName": "Sam",
                                       "followersCount": 42, "followsCount": 10,
                                       "postsCount": 77},
}


class FakeBluesky:
    """Jetstream (/subscribe) and the AppView (/xrpc/...) on one local server.

    Each websocket connection replays the event list from the `cursor` it asks for (Jetstream's
    semantics), filtered by `wantedCollections`, then stays open (or closes after
    `drop_after` messages on the first connection, or goes silent).
    """

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.connections: list[dict[str, Any]] = []
        self.attempts: list[float] = []
        self.refuse_next: int = 0  # handshakes answered 429 Retry-After: 1
        self.drop_after: int | None = None
        self.new_events = asyncio.Event()
        self.profile_requests: list[list[str]] = []
        self.profile_429: int = 0
        self.sent = 0
        app = web.Application()
        app.router.add_get("/subscribe", self.subscribe)
        app.router.add_get("/xrpc/app.bsky.actor.getProfiles", self.get_profiles)
        app.router.add_get("/xrpc/com.atproto.identity.resolveHandle", self.resolve_handle)
        self.app = app

    def add(self, *events: Any) -> None:
        self.events.extend(events)
        self.new_events.set()

    async def subscribe(self, request: web.Request) -> web.StreamResponse:
        self.attempts.append(time.monotonic())
        if self.refuse_next:
            self.refuse_next -= 1
            return web.json_response({"error": "RateLimitExceeded"}, status=429,
                                     headers={"Retry-After": "1"})
        wanted = request.query.getall("wantedCollections", [])
        cursor = int(request.query["cursor"]) if "cursor" in request.query else None
        self.connections.append({"cursor": cursor, "wanted": wanted})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        first = len(self.connections) == 1
        position = 0
        sent_here = 0
        while not ws.closed:
            while position < len(self.events):
                event = self.events[position]
                position += 1
                if isinstance(event, dict):
                    if cursor is not None and event["time_us"] < cursor:
                        continue
                    collection = (event.get("commit") or {}).get("collection")
                    if collection and wanted and collection not in wanted:
                        continue
                    await ws.send_str(json.dumps(event))
                elif isinstance(event, bytes):
                    await ws.send_bytes(event)
                else:
                    await ws.send_str(event)
                self.sent += 1
                sent_here += 1
                if first and self.drop_after is not None and sent_here >= self.drop_after:
                    request.transport.close()  # abrupt: no close frame
                    return ws
            self.new_events.clear()
            waiter = asyncio.ensure_future(self.new_events.wait())
            receiver = asyncio.ensure_future(ws.receive())
            done, _ = await asyncio.wait({waiter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if receiver in done:
                message = receiver.result()
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
            else:
                receiver.cancel()
        return ws

    async def get_profiles(self, request: web.Request) -> web.Response:
        actors = request.query.getall("actors", [])
        self.profile_requests.append(actors)
        if self.profile_429:
            self.profile_429 -= 1
            return web.json_response({"error": "RateLimitExceeded"}, status=429,
                                     headers={"Retry-After": "1"})
        if len(actors) > 25:
            return web.json_response({"error": "InvalidRequest"}, status=400)
        profiles = [
            {"did": did, "indexedAt": "2024-01-01T00:00:00Z", "createdAt": "2023-05-01T10:00:00Z",
             "labels": [], "viewer": {"muted": False}, **PROFILES[did]}
            for did in actors
            if did in PROFILES
        ]
        return web.json_response({"profiles": profiles})

    async def resolve_handle(self, request: web.Request) -> web.Response:
        if request.query.get("handle") == "acme.bsky.social":
            return web.json_response({"did": BRAND_DID})
        return web.json_response({"error": "InvalidRequest", "message": "Unable to resolve handle"},
                                 status=400)


WATCH = {"brand": ["acme", "@acme", "#acme"], "accounts": ["acme", "acme.bsky.social"]}


def options(server: LocalServer, **more: Any) -> dict[str, Any]:
    return {
        "url": server.url("/subscribe", scheme="ws"),
        "api_url": server.url(),
        "batch_wait": "50ms",
        "cursor_interval": "100ms",
        **FAST,
        **more,
    }


@pytest.fixture
def run(tmp_path):
    harness = SourceRun(tmp_path / "state", BlueskySource, "bsky")
    yield harness
    harness.close()


async def test_normal_flow(run):
    events = [
        post_event(1, "@acme lost my bag again"),
        post_event(2, "lovely weather today", did="did:plc:sam0000000000000000000"),
        post_event(3, "please help", reply_to=brand_post_uri(), did="did:plc:sam0000000000000000000"),
        post_event(4, "look at this", quote=brand_post_uri(), langs=("fr",)),
        {"did": "did:plc:jo00000000000000000000", "time_us": T0 + 5_000_000, "kind": "commit",
         "commit": {"rev": "3l", "operation": "create", "collection": "app.bsky.feed.like",
                    "rkey": "3klike", "record": {"$type": "app.bsky.feed.like"}}},
        identity_event(6, "did:plc:sam0000000000000000000", "sam.example.com"),
        # The deletion of a post that was filtered out (test_deleted_and_edited_posts: of
        # stored ones): handed over, ignored by the store.
        delete_event(7, "did:plc:sam0000000000000000000", "3kpost00002"),
        post_event(8, "we are on it, sorry!", did=BRAND_DID, reply_to=brand_post_uri("3kother")),
        # A client clock in the future: event time is when Jetstream saw the post.
        post_event(9, "#acme from the future", created_at="2031-01-01T00:00:00Z"),
    ]
    fake = FakeBluesky(events)
    async with LocalServer(fake.app) as server:
        source = run.start(options(server), WATCH)
        await run.until(lambda: len(run.ids()) == 5 and run.cursor() == str(T0 + 9_000_000))
        assert source.health.state == HealthState.OK
        await run.stop()

    assert fake.connections[0]["wanted"] == ["app.bsky.feed.post"]
    assert fake.connections[0]["cursor"] is None
    stored = {m.id: m for m in run.mentions()}
    jo = "did:plc:jo00000000000000000000"
    sam = "did:plc:sam0000000000000000000"
    assert list(stored) == [
        f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00001",
        f"bluesky:at://{sam}/app.bsky.feed.post/3kpost00003",
        f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00004",
        f"bluesky:at://{BRAND_DID}/app.bsky.feed.post/3kpost00008",
        f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00009",
    ]
    first = stored[f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00001"]
    assert first.text == "@acme lost my bag again"
    assert first.source == "bluesky"
    assert first.lang == "en"
    assert first.url == f"https://bsky.app/profile/{jo}/post/3kpost00001"
    assert first.author is not None
    assert (first.author.handle, first.author.name) == ("jo.bsky.social", "Jo")
    assert (first.author.followers, first.author.following, first.author.posts) == (1200, 300, 5400)
    assert first.created_at.isoformat() == "2024-11-24T09:15:01+00:00"
    reply = stored[f"bluesky:at://{sam}/app.bsky.feed.post/3kpost00003"]
    assert reply.in_reply_to == f"bluesky:{brand_post_uri()}"
    assert reply.author is not None and reply.author.followers == 42
    quote = stored[f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00004"]
    assert quote.reshare_of == f"bluesky:{brand_post_uri()}"
    assert quote.lang == "fr"
    future = stored[f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00009"]
    assert future.created_at.isoformat() == "2024-11-24T09:15:09+00:00"
    # Profiles were fetched in batches, each DID once (then served from the cache).
    asked = [did for batch in fake.profile_requests for did in batch]
    assert sorted(asked) == sorted(set(asked))
    assert set(asked) == {jo, sam, BRAND_DID}


async def test_resume_after_restart(run):
    """Stop after the first events, post more while down, restart: the second run asks for the
    stored cursor minus the rewind, re-reads the overlap and stores each post exactly once."""
    fake = FakeBluesky([post_event(n, f"acme post {n}") for n in range(1, 6)])
    async with LocalServer(fake.app) as server:
        run.start(options(server, rewind="3s"))
        await run.until(lambda: run.cursor() == str(T0 + 5_000_000))
        await run.stop()
        assert len(run.ids()) == 5

        fake.add(*[post_event(n, f"acme post {n}") for n in range(6, 11)])
        sent_before = fake.sent
        run.start(options(server, rewind="3s"))
        await run.until(lambda: run.cursor() == str(T0 + 10_000_000))
        await run.stop()

    assert fake.connections[1]["cursor"] == T0 + 5_000_000 - 3_000_000
    # The rewind re-sent posts 2..5; they were dropped as duplicates, nothing is missing.
    assert fake.sent - sent_before == 9
    ids = run.ids()
    assert ids == [
        f"bluesky:at://did:plc:jo00000000000000000000/app.bsky.feed.post/3kpost{n:05d}"
        for n in range(1, 11)
    ]


async def test_disconnect_mid_stream(run):
    fake = FakeBluesky([post_event(n, f"acme #{n}") for n in range(1, 9)])
    fake.drop_after = 3
    async with LocalServer(fake.app) as server:
        source = run.start(options(server, rewind="0s"))
        await run.until(lambda: len(run.ids()) == 8)
        await run.stop()
    assert len(fake.connections) == 2
    # The reconnection resumed from the position reached before the drop.
    assert fake.connections[1]["cursor"] is not None
    assert fake.connections[1]["cursor"] <= T0 + 3_000_000
    assert len(set(run.ids())) == 8
    assert source.health.state == HealthState.OK


async def test_rate_limited(run):
    """A 429 on the websocket handshake: the next attempt comes no earlier than Retry-After.
    A 429 from getProfiles pauses profile lookups without holding the stream up."""
    fake = FakeBluesky([post_event(1, "acme one"), post_event(2, "acme two")])
    fake.refuse_next = 1
    fake.profile_429 = 1
    async with LocalServer(fake.app) as server:
        source = run.start(options(server))
        await run.until(lambda: len(run.ids()) == 2)
        await run.stop()
    assert len(fake.attempts) == 2
    assert fake.attempts[1] - fake.attempts[0] >= 1.0
    # Rate limiting is "degraded", not an outage, and does not count as a failure.
    assert source.health.state == HealthState.OK
    stored = run.mentions()
    assert all(m.author is not None and m.author.followers is None for m in stored)
    assert len(fake.profile_requests) == 1  # paused after the 429: no hammering


async def test_malformed_payloads(run):
    fake = FakeBluesky([
        "this is not json",
        json.dumps({"kind": "commit", "time_us": T0}),  # no did
        json.dumps({**post_event(1, "acme"), "time_us": "soon"}),
        json.dumps({**post_event(2, "x"), "commit": {**post_event(2, "x")["commit"],
                                                    "record": {"$type": "app.bsky.feed.post",
                                                               "text": 12}}}),
        b"\x28\xb5\x2f\xfd binary",
        json.dumps({**post_event(4, "acme"), "time_us": 2**63}),  # would poison the cursor
        post_event(3, "acme still here"),
    ])
    async with LocalServer(fake.app) as server:
        source = run.start(options(server))
        await run.until(lambda: run.cursor() == str(T0 + 3_000_000))
        await run.stop()
    assert source.malformed == 6
    assert run.ids() == ["bluesky:at://did:plc:jo00000000000000000000/app.bsky.feed.post/3kpost00003"]


async def test_silent_stream_is_reconnected(run):
    fake = FakeBluesky([post_event(1, "acme")])
    async with LocalServer(fake.app) as server:
        source = run.start(options(server, silence_limit="300ms"))
        # Until the new connection's replayed post arrived, not only until it connected.
        await run.until(lambda: len(fake.connections) >= 2 and source.health.state == HealthState.OK,
                        timeout=5)
        await run.stop()
    assert run.ids() == ["bluesky:at://did:plc:jo00000000000000000000/app.bsky.feed.post/3kpost00001"]
    assert fake.connections[1]["cursor"] == T0 + 1_000_000 - 5_000_000
    # The client gave up on the silent connection only once the limit had passed.
    assert fake.attempts[1] - fake.attempts[0] >= 0.3
    assert source.health.state == HealthState.OK  # the replayed post proved the new one alive


async def test_unreachable_endpoint_degrades_without_crashing(run):
    url = closed_port_url("ws", "/subscribe")
    source = run.start({"url": url, "api_url": closed_port_url(), **FAST}, WATCH)
    await run.until(lambda: source.health.state == HealthState.FAILING, timeout=5)
    assert run.task is not None and not run.task.done()
    assert source.health.last_error
    await run.stop()


def update_event(n: int, did: str, rkey: str, text: str | None) -> dict[str, Any]:
    """A Jetstream commit event for an edited app.bsky.feed.post: the whole new record."""
    commit: dict[str, Any] = {"rev": f"3l{n:011d}", "operation": "update",
                              "collection": "app.bsky.feed.post", "rkey": rkey, "cid": f"bafyreiedit{n}"}
    if text is not None:
        commit["record"] = {"$type": "app.bsky.feed.post", "text": text,
                            "createdAt": "2024-11-24T09:15:02.000Z", "langs": ["en"]}
    return {"did": did, "time_us": T0 + n * 1_000_000, "kind": "commit", "commit": commit}


async def test_deleted_and_edited_posts(run):
    """A deleted post is redacted, an edited one shows its new text; the deletion and edit of
    posts never stored are counted; malformed updates are rejected with their reason and the
    posts around them are kept. A restart re-reads the overlap (rewind): each change once."""
    jo, sam = "did:plc:jo00000000000000000000", "did:plc:sam0000000000000000000"
    without_text = update_event(8, sam, "3kpost00002", "x")
    del without_text["commit"]["record"]["text"]
    events = [
        post_event(1, "@acme lost my bag again"),
        post_event(2, "acme my flight is late", did=sam),
        update_event(3, sam, "3kpost00002", "acme my flight is late, 3 hours now"),
        delete_event(4, jo, "3kpost00001"),
        delete_event(5, sam, "3knotstored"),
        update_event(6, sam, "3kalsonot", "acme? no: this post was never kept"),
        update_event(7, sam, "3kpost00002", None),  # no record
        without_text,
        post_event(9, "acme thanks for the help"),
    ]
    fake = FakeBluesky(events)
    first_id = f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00001"
    late_id = f"bluesky:at://{sam}/app.bsky.feed.post/3kpost00002"
    async with LocalServer(fake.app) as server:
        source = run.start(options(server, rewind="30s"), WATCH)
        reasons: list[str] = []
        original = source.reject
        source.reject = lambda reason, sample=None, **where: (reasons.append(reason), original(reason, sample, **where))  # type: ignore[method-assign]
        await run.until(lambda: run.cursor() == str(T0 + 9_000_000))
        await run.stop()
        assert run.changes == {"deleted": 1, "edited": 1, "unknown": 2, "repeated": 0}
        assert reasons == ["post update without a record",
                           "malformed post record: Object missing required field `text`"]
        stored = {m.id: m for m in run.mentions()}
        assert list(stored) == [first_id, late_id, f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00009"]
        assert stored[first_id].text == ""
        assert stored[first_id].extra["deleted_at"] == "2024-11-24T09:15:04Z"
        assert stored[late_id].text == "acme my flight is late, 3 hours now"
        assert stored[late_id].extra["edited_at"] == "2024-11-24T09:15:03Z"
        assert stored[f"bluesky:at://{jo}/app.bsky.feed.post/3kpost00009"].text == "acme thanks for the help"

        # Restart: Jetstream replays every event from 30 s before the cursor (all of them).
        source = run.start(options(server, rewind="30s"), WATCH)
        await run.until(lambda: len(fake.connections) == 2 and run.changes.get("repeated") == 2)
        await asyncio.sleep(0.2)
        await run.stop()
    assert fake.connections[1]["cursor"] == T0 + 9_000_000 - 30_000_000
    assert run.changes == {"deleted": 1, "edited": 1, "unknown": 4, "repeated": 2}
    again = {m.id: m for m in run.mentions()}
    assert list(again) == list(stored)  # the replayed creation of the deleted post is not stored anew
    assert again[first_id].text == "" and again[late_id].text == "acme my flight is late, 3 hours now"
