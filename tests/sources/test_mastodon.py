"""The Mastodon source against a local Mastodon stand-in: Status / Account / Notification
entities, the streaming API as server-sent events (``event: update`` / ``data: {...}``,
``:thump`` heartbeats, ``delete``, ``status.update``, ``notification``), REST timelines and
notifications with ``min_id`` / ``max_id`` and Link headers, X-RateLimit headers and 429."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from harness_http import FAST, LocalServer, SourceRun, closed_port_url

from sentineld.components import HealthState
from sentineld.model import format_time
from sentineld_plugins.sources.mastodon import MastodonSource

BASE_TIME = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
_ids = iter(range(113_000_000_000_000_000, 10**19, 1000))


def account(username: str = "jo", *, domain: str | None = None, followers: int = 120) -> dict:
    acct = f"{username}@{domain}" if domain else username
    return {
        "id": str(abs(hash(acct)) % 10**17), "username": username, "acct": acct,
        "display_name": username.title(), "locked": False, "bot": False, "discoverable": True,
        "group": False, "created_at": "2022-04-26T00:00:00.000Z", "note": "<p>hi</p>",
        "url": f"https://{domain or 'local.test'}/@{username}", "avatar": "", "header": "",
        "followers_count": followers, "following_count": 80, "statuses_count": 900,
        "last_status_at": "2026-11-23", "emojis": [], "fields": [],
    }


def status(html: str, *, minute: int = 0, who: dict | None = None, reply_to: str | None = None,
           tags: tuple[str, ...] = ("acme",), cw: str = "", lang: str = "en") -> dict[str, Any]:
    ident = str(next(_ids))
    created = (BASE_TIME + timedelta(minutes=minute)).isoformat().replace("+00:00", ".000Z")
    who = who or account()
    return {
        "id": ident, "created_at": created, "in_reply_to_id": reply_to,
        "in_reply_to_account_id": "1" if reply_to else None, "sensitive": bool(cw),
        "spoiler_text": cw, "visibility": "public", "language": lang,
        "uri": f"https://local.test/users/{who['username']}/statuses/{ident}",
        "url": f"https://local.test/@{who['username']}/{ident}",
        "replies_count": 1, "reblogs_count": 2, "favourites_count": 3, "edited_at": None,
        "content": html, "reblog": None, "application": {"name": "Web", "website": None},
        "account": who, "media_attachments": [], "mentions": [],
        "tags": [{"name": t, "url": f"https://local.test/tags/{t}"} for t in tags],
        "emojis": [], "card": None, "poll": None,
    }


def notification(kind: str, st: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": str(next(_ids)), "type": kind, "created_at": "2026-11-24T09:30:00.000Z",
            "account": (st or {}).get("account") or account("fan"), "status": st}


class FakeMastodon:
    def __init__(self) -> None:
        self.timelines: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[dict[str, Any]] = []
        self.token = "s3cret"
        self.stream_requires_token = False
        self.streaming_enabled = True
        self.heartbeat: float | None = 0.1
        self.queues: list[tuple[str, asyncio.Queue[str | None]]] = []
        self.stream_connects: list[dict[str, Any]] = []
        self.rest: list[dict[str, Any]] = []
        self.rate_limit_next = 0
        self.raw_next: list[Any] = []
        app = web.Application()
        app.router.add_get("/api/v2/instance", self.instance)
        app.router.add_get("/api/v1/timelines/tag/{tag}", self.tag_timeline)
        app.router.add_get("/api/v1/notifications", self.notifications)
        app.router.add_get("/api/v1/streaming/hashtag", self.stream_hashtag)
        app.router.add_get("/api/v1/streaming/user/notification", self.stream_notifications)
        self.app = app
        self.port = 0

    # ----------------------------------------------------------- test controls

    def post(self, tag: str, st: dict[str, Any], *, stream: bool = True) -> dict[str, Any]:
        self.timelines.setdefault(tag, []).append(st)
        if stream:
            self.push(f"hashtag:{tag}", "update", json.dumps(st))
        return st

    def notify(self, note: dict[str, Any], *, stream: bool = True) -> None:
        self.notes.append(note)
        if stream:
            self.push("notification", "notification", json.dumps(note))

    def push(self, stream: str, event: str, data: str) -> None:
        for name, queue in self.queues:
            if name == stream:
                queue.put_nowait(f"event: {event}\ndata: {data}\n\n")

    def drop_streams(self) -> None:
        for _, queue in self.queues:
            queue.put_nowait(None)

    # ----------------------------------------------------------- REST

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def instance(self, request: web.Request) -> web.Response:
        return web.json_response({
            "domain": "local.test", "title": "Local", "version": "4.3.0",
            "configuration": {"urls": {"streaming": f"ws://127.0.0.1:{request.url.port}"},
                              "statuses": {"max_characters": 500}},
        })

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.StreamResponse:
        self.rest.append({"at": time.monotonic(), "path": request.path,
                          "query": list(request.query.items())})
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return web.json_response({"error": "Too many requests"}, status=429,
                                     headers={"Retry-After": "1"})
        if self.raw_next:
            return web.json_response(self.raw_next.pop(0))
        key = lambda item: (len(item["id"]), item["id"])  # noqa: E731
        ordered = sorted(items, key=key)
        limit = min(int(request.query.get("limit", 20)), 40)
        if "min_id" in request.query:
            low = (len(request.query["min_id"]), request.query["min_id"])
            page = [i for i in ordered if key(i) > low][:limit]
        else:
            if "max_id" in request.query:
                high = (len(request.query["max_id"]), request.query["max_id"])
                ordered = [i for i in ordered if key(i) < high]
            page = ordered[-limit:]
        page = list(reversed(page))  # newest first, as Mastodon answers
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                   "X-RateLimit-Reset": "2099-01-01T00:00:00.000Z"}
        if page:  # like Mastodon, the links keep `limit` and the filters
            kept = [(k, v) for k, v in request.query.items() if k not in ("min_id", "max_id")]
            older = request.url.with_query([*kept, ("max_id", page[-1]["id"])])
            newer = request.url.with_query([*kept, ("min_id", page[0]["id"])])
            headers["Link"] = f'<{older}>; rel="next", <{newer}>; rel="prev"'
        return web.json_response(page, headers=headers)

    async def tag_timeline(self, request: web.Request) -> web.StreamResponse:
        return self._page(request, self.timelines.get(request.match_info["tag"], []))

    async def notifications(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "The access token is invalid"}, status=401)
        types = request.query.getall("types[]", [])
        return self._page(request, [n for n in self.notes if not types or n["type"] in types])

    # ----------------------------------------------------------- streaming (SSE)

    async def _stream(self, request: web.Request, name: str) -> web.StreamResponse:
        self.stream_connects.append({"at": time.monotonic(), "stream": name,
                                     "auth": request.headers.get("Authorization")})
        if not self.streaming_enabled:
            return web.json_response({"error": "Streaming is disabled"}, status=404)
        if self.stream_requires_token and not self._authorized(request):
            return web.json_response({"error": "Missing access token"}, status=401)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store"})
        await response.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        entry = (name, queue)
        self.queues.append(entry)
        try:
            await response.write(b":)\n")
            while True:
                try:
                    chunk = await asyncio.wait_for(queue.get(), self.heartbeat)
                except TimeoutError:
                    await response.write(b":thump\n")
                    continue
                if chunk is None:
                    assert request.transport is not None
                    request.transport.abort()
                    break
                await response.write(chunk.encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.queues.remove(entry)
        return response

    async def stream_hashtag(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, f"hashtag:{request.query['tag']}")

    async def stream_notifications(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "Missing access token"}, status=401)
        return await self._stream(request, "notification")

    def streams_open(self, name: str) -> int:
        return sum(1 for n, _ in self.queues if n == name)


def options(server: LocalServer, **more: Any) -> dict[str, Any]:
    return {"instance": server.url(), "hashtags": ["acme"], "poll_interval": "100ms",
            "page_limit": 2, **FAST, **more}


@pytest.fixture
def run(tmp_path):
    harness = SourceRun(tmp_path / "state", MastodonSource, "masto")
    yield harness
    harness.close()


def mid(st: dict[str, Any]) -> str:
    return f"mastodon:127.0.0.1:{st['id']}"


async def test_normal_flow(run, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", "s3cret")
    fake = FakeMastodon()
    old = fake.post("acme", status("<p>older #acme post</p>", minute=1), stream=False)
    brand = account("acmeair", followers=50_000)
    async with LocalServer(fake.app) as server:
        source = run.start(options(server, access_token={"env": "MASTODON_TOKEN"}))
        await run.until(lambda: fake.streams_open("hashtag:acme") and
                        fake.streams_open("notification") and run.ids() == [mid(old)])
        live = fake.post("acme", status(
            '<p>Hey <span class="h-card"><a href="https://local.test/@acmeair" class="u-url '
            'mention">@<span>acmeair</span></a></span> my bag &amp; my <a href="https://local.'
            'test/tags/acme" class="mention hashtag" rel="tag">#<span>acme</span></a> '
            'trip</p><p>second line</p>', minute=2, who=account("sam", domain="other.social",
                                                                followers=4321),
            reply_to=old["id"], lang="de"))
        # A deletion and an edit of a status never stored (see test_deleted_and_edited_statuses
        # for ones that were): read, ignored, counted.
        never_seen = status("<p>not about us</p>", minute=2, tags=())
        fake.push("hashtag:acme", "delete", never_seen["id"])
        edited = dict(never_seen, content="<p>edited</p>", edited_at="2026-11-24T09:05:00.000Z")
        fake.push("hashtag:acme", "status.update", json.dumps(edited))
        cw = fake.post("acme", status("<p>the details</p>", minute=3, cw="airline rant"))
        asked = status("<p>@acmeair help!</p>", minute=4, tags=())
        fake.notify(notification("mention", asked))
        fake.notify(notification("favourite", status("<p>liked</p>", who=brand)))
        await run.until(lambda: len(run.ids()) == 4)
        await run.until(lambda: source.edits == 1 and source.deletions == 1)
        # The favourite is read (the position moves past it) but not kept.
        await run.until(lambda: json.loads(run.cursor() or "{}").get("notifications")
                        == fake.notes[-1]["id"])
        assert source.health.state == HealthState.OK
        await run.stop()

    # Two streams (hashtag, notifications) race each other; within one, order is kept.
    assert sorted(run.ids()) == sorted([mid(old), mid(live), mid(cw), mid(asked)])
    tag_ids = [i for i in run.ids() if i != mid(asked)]
    assert tag_ids == [mid(old), mid(live), mid(cw)]
    assert {c["auth"] for c in fake.stream_connects} == {"Bearer s3cret"}
    assert source.streamed == 4  # 2 updates and 2 notifications came through the streams
    assert run.changes == {"deleted": 0, "edited": 0, "unknown": 2, "repeated": 0}
    stored = {m.id: m for m in run.mentions()}
    m = stored[mid(live)]
    assert m.source == "mastodon"
    assert m.text == "Hey @acmeair my bag & my #acme trip\n\nsecond line"
    assert m.in_reply_to == mid(old)
    assert m.lang == "de"
    assert m.url == live["url"]
    assert m.author is not None
    assert (m.author.id, m.author.handle, m.author.name) == ("sam@other.social",
                                                             "sam@other.social", "Sam")
    assert (m.author.followers, m.author.following, m.author.posts) == (4321, 80, 900)
    assert m.metrics is not None and (m.metrics.likes, m.metrics.reshares, m.metrics.replies) == (3, 2, 1)
    assert m.created_at == BASE_TIME + timedelta(minutes=2)
    assert stored[mid(old)].author.id == "jo@127.0.0.1"  # a local account, qualified
    assert stored[mid(cw)].text == "airline rant\n\nthe details"
    position = json.loads(run.cursor() or "{}")
    assert position["tag:acme"] == cw["id"]


async def test_rest_fallback_when_streaming_is_refused(run):
    """Streaming needs a token this source does not have: the hashtag is polled over REST,
    paging with min_id and the Link header, oldest page first."""
    fake = FakeMastodon()
    fake.stream_requires_token = True
    first = fake.post("acme", status("<p>one</p>"), stream=False)
    async with LocalServer(fake.app) as server:
        source = run.start(options(server))
        await run.until(lambda: run.ids() == [mid(first)])
        later = [fake.post("acme", status(f"<p>n{i}</p>", minute=i), stream=False)
                 for i in range(1, 6)]
        await run.until(lambda: len(run.ids()) == 6)
        await run.stop()
    assert run.ids() == [mid(first)] + [mid(s) for s in later]
    assert len(fake.stream_connects) == 1  # not retried before streaming_retry
    assert source.polled >= 1
    min_ids = [dict(r["query"]).get("min_id") for r in fake.rest if "min_id" in dict(r["query"])]
    # Caught up page by page (2 per page): each page starts after the newest of the last.
    assert later[1]["id"] in min_ids and later[3]["id"] in min_ids


async def test_resume_after_restart(run):
    fake = FakeMastodon()
    async with LocalServer(fake.app) as server:
        run.start(options(server))
        await run.until(lambda: fake.streams_open("hashtag:acme"))
        a = fake.post("acme", status("<p>a</p>"))
        await run.until(lambda: run.ids() == [mid(a)])
        await run.stop()
        missed = [fake.post("acme", status(f"<p>m{i}</p>"), stream=False) for i in range(5)]
        run.start(options(server))
        await run.until(lambda: fake.streams_open("hashtag:acme"))
        b = fake.post("acme", status("<p>b</p>"))
        await run.until(lambda: len(run.ids()) == 7)
        await run.stop()
    assert run.ids() == [mid(a)] + [mid(s) for s in missed] + [mid(b)]
    catch_up = [dict(r["query"]) for r in fake.rest]
    assert {"limit": "2", "min_id": a["id"]} in catch_up


async def test_disconnect_mid_stream(run):
    fake = FakeMastodon()
    async with LocalServer(fake.app) as server:
        source = run.start(options(server))
        await run.until(lambda: fake.streams_open("hashtag:acme"))
        first = fake.post("acme", status("<p>first</p>"))
        await run.until(lambda: run.ids() == [mid(first)])
        # Posted while the connection breaks: the stream never delivers them.
        gap = [fake.post("acme", status(f"<p>gap {i}</p>"), stream=False) for i in range(3)]
        fake.drop_streams()
        await run.until(lambda: len(run.ids()) == 4)
        await run.stop()
    assert run.ids() == [mid(first)] + [mid(s) for s in gap]
    assert len([c for c in fake.stream_connects if c["stream"] == "hashtag:acme"]) == 2
    assert source.health.state == HealthState.OK


async def test_silent_stream_is_reconnected(run):
    fake = FakeMastodon()
    async with LocalServer(fake.app) as server:
        run.start(options(server, silence_limit="500ms"))
        await run.until(lambda: fake.streams_open("hashtag:acme"))
        await asyncio.sleep(1.2)  # heartbeats every 100 ms keep the stream alive
        assert len(fake.stream_connects) == 1
        fake.heartbeat = 30  # a stalled stream: no more heartbeats
        fake.drop_streams()  # (reconnect once to pick up the stalled behaviour)
        await run.until(lambda: len(fake.stream_connects) >= 3, timeout=5)
        await run.stop()
    stalled, reconnected = fake.stream_connects[1], fake.stream_connects[2]
    assert reconnected["at"] - stalled["at"] >= 0.5


async def test_rate_limited(run):
    fake = FakeMastodon()
    fake.post("acme", status("<p>x</p>"), stream=False)
    fake.rate_limit_next = 1
    async with LocalServer(fake.app) as server:
        run.start(options(server, streaming=False))
        await run.until(lambda: len(run.ids()) == 1)
        await run.stop()
    assert fake.rest[1]["at"] - fake.rest[0]["at"] >= 1.0


async def test_malformed_payloads(run):
    fake = FakeMastodon()
    broken = status("<p>no account</p>")
    del broken["account"]
    ancient = status("<p>from year one</p>")
    ancient["created_at"] = "0001-01-01T00:00:00+01:00"  # cannot even be converted to UTC
    fake.raw_next = [{"error": "not a list"}, [broken, ancient]]
    async with LocalServer(fake.app) as server:
        source = run.start(options(server))
        # The bad REST pages were read (the first one forced a reconnection) and the stream is
        # open again.
        await run.until(lambda: not fake.raw_next and fake.streams_open("hashtag:acme"))
        fake.push("hashtag:acme", "update", "{not json")
        fake.push("hashtag:acme", "update", json.dumps({"id": "1", "content": "no date"}))
        good = fake.post("acme", status("<p>fine</p>"))
        await run.until(lambda: run.ids() == [mid(good)])
        await run.stop()
    assert source.malformed == 5


async def test_unreachable_endpoint_degrades_without_crashing(run):
    source = run.start({"instance": closed_port_url(), "hashtags": ["acme"], **FAST})
    await run.until(lambda: source.health.state == HealthState.FAILING, timeout=5)
    assert run.task is not None and not run.task.done()
    await run.stop()


async def test_deleted_and_edited_statuses(run):
    """Streaming ``delete`` (data: the status id) redacts the stored status, ``status.update``
    (data: the edited status) replaces its text; a status never stored is counted; malformed
    events are rejected with their reason and what follows is kept. After a restart the same
    events change nothing more."""
    fake = FakeMastodon()
    async with LocalServer(fake.app) as server:
        source = run.start(options(server))
        reasons: list[str] = []
        original = source.reject
        source.reject = lambda reason, sample=None, **where: (reasons.append(reason), original(reason, sample, **where))  # type: ignore[method-assign]
        await run.until(lambda: fake.streams_open("hashtag:acme"))
        bag = fake.post("acme", status("<p>#acme lost my bag</p>", minute=1))
        late = fake.post("acme", status("<p>#acme my flight is late</p>", minute=2))
        await run.until(lambda: len(run.ids()) == 2)
        edited = dict(late, content="<p>#acme my flight is late, <b>3 hours</b> now</p>",
                      edited_at=(BASE_TIME + timedelta(minutes=5)).isoformat().replace("+00:00", ".000Z"))
        fake.push("hashtag:acme", "status.update", json.dumps(edited))
        fake.push("hashtag:acme", "delete", bag["id"])
        fake.push("hashtag:acme", "delete", "109999999999999999")  # never stored
        fake.push("hashtag:acme", "delete", json.dumps({"id": bag["id"]}))
        fake.push("hashtag:acme", "status.update", "{not json")
        thanks = fake.post("acme", status("<p>#acme thanks!</p>", minute=6))
        await run.until(lambda: len(run.ids()) == 3 and sum(run.changes.values()) == 3)
        await run.stop()
        assert run.changes == {"deleted": 1, "edited": 1, "unknown": 1, "repeated": 0}
        assert reasons[0] == "malformed delete event: its data is not a status id"
        assert reasons[1].startswith("malformed Status event: JSON is malformed")
        assert len(reasons) == 2
        stored = {m.id: m for m in run.mentions()}
        assert list(stored) == [mid(bag), mid(late), mid(thanks)]
        assert stored[mid(bag)].text == "" and "deleted_at" in stored[mid(bag)].extra
        assert "tags" not in stored[mid(bag)].extra  # nothing of its content is kept
        assert stored[mid(late)].text == "#acme my flight is late, 3 hours now"
        assert stored[mid(late)].extra["edited_at"] == format_time(BASE_TIME + timedelta(minutes=5))
        assert stored[mid(thanks)].text == "#acme thanks!"

        # A restart, and the instance sends the same events again: each was applied once.
        connects = len(fake.stream_connects)
        run.start(options(server))
        await run.until(lambda: len(fake.stream_connects) > connects and fake.streams_open("hashtag:acme") == 1)
        fake.push("hashtag:acme", "status.update", json.dumps(edited))
        fake.push("hashtag:acme", "delete", bag["id"])
        await run.until(lambda: run.changes["repeated"] == 2)
        await run.stop()
    assert run.changes == {"deleted": 1, "edited": 1, "unknown": 1, "repeated": 2}
    assert [m.text for m in run.mentions()] == ["", "#acme my flight is late, 3 hours now", "#acme thanks!"]
