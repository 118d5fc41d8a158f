"""The Reddit source against a local stand-in for reddit.com and oauth.reddit.com: Listing JSON
with t3/t1 things, ``after`` paging by fullname, ``X-Ratelimit-*`` headers, 429 with
Retry-After, and the client-credentials token endpoint ``/api/v1/access_token``."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest
from aiohttp import web
from harness_http import FAST, LocalServer, SourceRun, closed_port_url

from sentineld.components import HealthState
from sentineld_plugins.sources.reddit import RedditSource

NOW = time.time()


def post(ident: str, title: str, *, at: float, sub: str = "acmeair", selftext: str = "",
         author: str = "jo_flies", score: int = 5) -> dict[str, Any]:
    return {"kind": "t3", "data": {
        "approved_at_utc": None, "subreddit": sub, "selftext": selftext,
        "author_fullname": f"t2_{author}", "title": title, "subreddit_name_prefixed": f"r/{sub}",
        "name": f"t3_{ident}", "id": ident, "score": score, "ups": score, "num_comments": 2,
        "created": at, "created_utc": at, "author": author, "is_self": not selftext == "",
        "permalink": f"/r/{sub}/comments/{ident}/slug/", "url": f"https://example.com/{ident}",
        "over_18": False, "stickied": False,
    }}


def reply(ident: str, body: str, *, at: float, parent: str, link: str, sub: str = "acmeair",
          author: str = "sam") -> dict[str, Any]:
    return {"kind": "t1", "data": {
        "subreddit": sub, "author_fullname": f"t2_{author}", "body": body,
        "body_html": f"&lt;div class=\"md\"&gt;&lt;p&gt;{body}&lt;/p&gt;&lt;/div&gt;",
        "name": f"t1_{ident}", "id": ident, "score": 1, "created": at, "created_utc": at,
        "author": author, "parent_id": parent, "link_id": link, "link_title": "Lost bag",
        "permalink": f"/r/{sub}/comments/{link[3:]}/slug/{ident}/",
    }}


class FakeReddit:
    """Listings newest first, paged by `after` fullname, with Reddit's rate-limit headers."""

    def __init__(self) -> None:
        self.things: dict[str, list[dict[str, Any]]] = {"new": [], "comments": [], "search": []}
        self.requests: list[dict[str, Any]] = []
        self.tokens_issued = 0
        self.require_token = False
        self.remaining = 99.0
        self.reset = 400
        self.rate_limit_next = 0
        self.drop_next_after = False  # abort the connection on the next request with `after`
        self.raw_next: list[Any] = []
        app = web.Application()
        app.router.add_post("/api/v1/access_token", self.access_token)
        app.router.add_get("/r/{sub}/{listing:new|comments}{ext:(\\.json)?}", self.listing)
        app.router.add_get("/search{ext:(\\.json)?}", self.search)
        self.app = app

    def add(self, listing: str, *things: dict[str, Any]) -> None:
        self.things[listing].extend(things)

    async def access_token(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        form = await request.post()
        expected = "Basic " + base64.b64encode(b"my-client:my-secret").decode()
        if auth != expected or form.get("grant_type") != "client_credentials":
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        self.tokens_issued += 1
        return web.json_response({"access_token": f"tok{self.tokens_issued}",
                                  "token_type": "bearer", "expires_in": 86400, "scope": "*"})

    def _headers(self) -> dict[str, str]:
        self.remaining = max(0.0, self.remaining - 1)
        return {"X-Ratelimit-Used": str(100 - self.remaining),
                "X-Ratelimit-Remaining": f"{self.remaining:.1f}",
                "X-Ratelimit-Reset": str(self.reset)}

    async def _serve(self, request: web.Request, items: list[dict[str, Any]]) -> web.StreamResponse:
        self.requests.append({"at": time.monotonic(), "path": request.path,
                              "query": dict(request.query), "headers": dict(request.headers)})
        if self.require_token and request.headers.get("Authorization", "") not in {
            f"bearer tok{self.tokens_issued}"
        }:
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return web.json_response({"message": "Too Many Requests", "error": 429}, status=429,
                                     headers={"Retry-After": "1", **self._headers()})
        if self.drop_next_after and "after" in request.query:
            self.drop_next_after = False
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if self.raw_next:
            body = self.raw_next.pop(0)
            if isinstance(body, bytes):
                return web.Response(body=body, content_type="text/html")
            return web.json_response(body, headers=self._headers())
        ordered = sorted(items, key=lambda t: t["data"].get("created_utc", 0), reverse=True)
        start = 0
        if "after" in request.query:
            names = [t["data"]["name"] for t in ordered]
            start = names.index(request.query["after"]) + 1
        limit = int(request.query.get("limit", 25))
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        return web.json_response({"kind": "Listing", "data": {
            "after": page[-1]["data"]["name"] if page and more else None,
            "dist": len(page), "modhash": "", "geo_filter": "", "children": page, "before": None,
        }}, headers=self._headers())

    async def listing(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, self.things[request.match_info["listing"]])

    async def search(self, request: web.Request) -> web.StreamResponse:
        q = request.query.get("q", "").lower()
        found = [t for t in self.things["search"] if q in t["data"].get("title", "").lower()]
        return await self._serve(request, found)


def options(server: LocalServer, **more: Any) -> dict[str, Any]:
    return {
        "subreddits": ["acmeair"],
        "reddit_username": "acme_care",
        "base_url": server.url(),
        "oauth_url": server.url(),
        "token_url": server.url("/api/v1/access_token"),
        "poll_interval": "100ms",
        **FAST,
        **more,
    }


@pytest.fixture
def run(tmp_path):
    harness = SourceRun(tmp_path / "state", RedditSource, "reddit")
    yield harness
    harness.close()


async def test_normal_flow(run):
    fake = FakeReddit()
    fake.add("new",
             post("p1", "Acme lost my bag", at=NOW - 300, selftext="Flight AC12, no bag."),
             post("p2", "Best lounges?", at=NOW - 200),
             post("p3", "acme refund worked", at=NOW - 100))
    fake.add("comments", reply("c1", "same with acme yesterday", at=NOW - 250, parent="t3_p1",
                               link="t3_p1"))
    fake.add("search", post("s1", "Acme Air strike news", at=NOW - 50, sub="travel"))
    async with LocalServer(fake.app) as server:
        source = run.start(options(server, queries=["acme"]))
        await run.until(lambda: len(run.ids()) == 4)
        assert source.health.state == HealthState.OK
        await run.stop()

    assert set(run.ids()) == {"reddit:t3_p1", "reddit:t3_p3", "reddit:t1_c1", "reddit:t3_s1"}
    paths = {r["path"] for r in fake.requests}
    assert paths == {"/r/acmeair/new.json", "/r/acmeair/comments.json", "/search.json"}
    search = next(r for r in fake.requests if r["path"] == "/search.json")
    assert search["query"]["sort"] == "new" and search["query"]["q"] == "acme"
    agent = fake.requests[0]["headers"]["User-Agent"]
    assert re.fullmatch(r"\w+:sentineld:\d+\.\d+\.\d+\S* \(by /u/acme_care\)", agent), agent
    mentions = {m.id: m for m in run.mentions()}
    bag = mentions["reddit:t3_p1"]
    assert bag.source == "reddit"
    assert bag.text == "Acme lost my bag\n\nFlight AC12, no bag."
    assert bag.url == "https://www.reddit.com/r/acmeair/comments/p1/slug/"
    assert bag.author is not None and (bag.author.id, bag.author.handle) == ("t2_jo_flies", "jo_flies")
    assert bag.extra["subreddit"] == "acmeair"
    assert bag.metrics is not None and (bag.metrics.likes, bag.metrics.replies) == (5, 2)
    assert abs(bag.timestamp - (NOW - 300)) < 1e-3
    comment = mentions["reddit:t1_c1"]
    assert comment.in_reply_to == "reddit:t3_p1"
    assert comment.extra["post_id"] == "reddit:t3_p1"
    # Posts of one listing are stored oldest first.
    assert run.ids().index("reddit:t3_p1") < run.ids().index("reddit:t3_p3")


async def test_oauth_client_credentials(run, monkeypatch):
    monkeypatch.setenv("REDDIT_ID", "my-client")
    monkeypatch.setenv("REDDIT_SECRET", "my-secret")
    fake = FakeReddit()
    fake.require_token = True
    fake.add("new", post("p1", "acme", at=NOW - 10))
    async with LocalServer(fake.app) as server:
        source = run.start(options(server, comments=False, client_id={"env": "REDDIT_ID"},
                                   client_secret={"env": "REDDIT_SECRET"}))
        await run.until(lambda: run.ids() == ["reddit:t3_p1"])
        assert fake.tokens_issued == 1
        fake.tokens_issued += 1  # the server revokes the token: next listing answers 401
        fake.add("new", post("p2", "acme again", at=NOW - 5))
        await run.until(lambda: len(run.ids()) == 2)
        await run.stop()
    assert fake.requests[0]["path"] == "/r/acmeair/new"  # the OAuth API form, no .json
    assert fake.requests[0]["headers"]["Authorization"] == "bearer tok1"
    assert fake.tokens_issued == 3  # renewed once after the 401
    assert source.health.state == HealthState.OK


async def test_resume_after_restart(run):
    fake = FakeReddit()
    fake.add("new", *[post(f"p{n}", f"acme {n}", at=NOW - 1000 + n) for n in range(1, 4)])
    async with LocalServer(fake.app) as server:
        run.start(options(server, comments=False, limit=2))
        await run.until(lambda: len(run.ids()) == 2)
        await run.stop()
        # First start: one page only (the newest), not the subreddit's whole history.
        assert run.ids() == ["reddit:t3_p2", "reddit:t3_p3"]
        fake.add("new", *[post(f"p{n}", f"acme {n}", at=NOW - 1000 + n) for n in range(4, 10)])
        run.start(options(server, comments=False, limit=2))
        await run.until(lambda: len(run.ids()) == 8)
        await run.stop()
    assert run.ids() == [f"reddit:t3_p{n}" for n in range(2, 10)]
    # The restart paged back with `after` until it reached the stored newest thing.
    afters = [r["query"].get("after") for r in fake.requests[1:]]
    assert afters[:4] == [None, "t3_p8", "t3_p6", "t3_p4"]


async def test_disconnect_mid_stream(run):
    fake = FakeReddit()
    fake.add("new", post("p0", "acme zero", at=NOW - 2000))
    async with LocalServer(fake.app) as server:
        run.start(options(server, comments=False, limit=2))
        await run.until(lambda: run.ids() == ["reddit:t3_p0"])
        fake.add("new", *[post(f"p{n}", f"acme {n}", at=NOW - 1000 + n) for n in range(1, 6)])
        fake.drop_next_after = True  # the connection drops while paging back
        await run.until(lambda: len(run.ids()) == 6)
        await run.stop()
    assert run.ids() == ["reddit:t3_p0"] + [f"reddit:t3_p{n}" for n in range(1, 6)]
    # Nothing was handed over from the interrupted read: the first cursor naming the newest
    # post came together with all five new posts.
    first_with_p5 = next((n, c) for n, c in run.emits if c and '"t3_p5"' in c)
    assert first_with_p5[0] == 5


async def test_rate_limited(run):
    """429 + Retry-After, then X-Ratelimit-Remaining running out: both waits are honoured."""
    fake = FakeReddit()
    fake.add("new", post("p1", "acme", at=NOW - 10))
    fake.rate_limit_next = 1
    async with LocalServer(fake.app) as server:
        run.start(options(server, comments=False))
        await run.until(lambda: run.ids() == ["reddit:t3_p1"])
        assert fake.requests[1]["at"] - fake.requests[0]["at"] >= 1.0
        fake.remaining = 1.0  # the next answer says 0 left, reset in 1 s
        fake.reset = 1
        count = len(fake.requests)
        await run.until(lambda: len(fake.requests) >= count + 2, timeout=5)
        await run.stop()
    assert fake.requests[count + 1]["at"] - fake.requests[count]["at"] >= 1.0


async def test_malformed_payloads(run):
    fake = FakeReddit()
    bad = post("p1", "acme", at=NOW - 30)
    del bad["data"]["created_utc"]
    wrong = post("p2", "acme", at=NOW - 20)
    wrong["data"]["score"] = "high"
    far = post("p4", "acme from the year 10^292", at=NOW - 40)
    far["data"]["created_utc"] = 1e300
    fake.add("new", bad, wrong, post("p3", "acme fine", at=NOW - 10), far)
    fake.raw_next = [b"<html>our CDN is sad</html>", {"kind": "t3", "data": {}}]
    async with LocalServer(fake.app) as server:
        source = run.start(options(server, comments=False))
        await run.until(lambda: run.ids() == ["reddit:t3_p3"])
        await run.stop()
    assert source.malformed == 5
    # The position is the newest *valid* thing: the absurd time did not poison the cursor.
    assert json.loads(run.cursor() or "{}")["r/acmeair/new"][0] == "t3_p3"


async def test_unreachable_endpoint_degrades_without_crashing(run):
    url = closed_port_url()
    source = run.start({"subreddits": ["acme"], "reddit_username": "u", "base_url": url, **FAST})
    await run.until(lambda: source.health.state == HealthState.FAILING, timeout=5)
    assert run.task is not None and not run.task.done()
    await run.stop()


@pytest.mark.parametrize("name", ["r/acmeair", "/r/acmeair", "acme air"])
def test_a_subreddit_written_as_a_path_fails_check(name: str) -> None:
    """"r/acmeair" passed `check` and was read as /r/r/acmeair/new."""
    from sentineld.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=r'sources\.reddit: subreddits are names without "r/"'):
        load_config(text=f'[sources.reddit]\ntype = "reddit"\nreddit_username = "care"\nsubreddits = ["{name}"]\n')
    load_config(text='[sources.reddit]\ntype = "reddit"\nreddit_username = "care"\nsubreddits = ["acmeair", "a+b"]\n')
