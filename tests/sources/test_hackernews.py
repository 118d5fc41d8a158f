"""The Hacker News source against a local stand-in for the Algolia HN Search API
(``/api/v1/search_by_date`` with ``tags``, ``numericFilters``, ``hitsPerPage`` and ``page``,
answering with the real hit shape)."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest
from aiohttp import web
from harness_http import FAST, LocalServer, SourceRun, closed_port_url

from sentineld.components import HealthState
from sentineld_plugins.sources.hackernews import HackerNewsSource

NOW = int(time.time())


def story(object_id: int, title: str, *, at: int, url: str | None = None,
          text: str | None = None, author: str = "pg", points: int = 10) -> dict[str, Any]:
    return {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at)),
        "created_at_i": at,
        "title": title,
        "url": url,
        "author": author,
        "points": points,
        "story_text": text,
        "comment_text": None,
        "num_comments": 3,
        "story_id": None,
        "story_title": None,
        "story_url": None,
        "parent_id": None,
        "objectID": str(object_id),
        "updated_at": "2026-01-01T00:00:00Z",
        "_tags": ["story", f"author_{author}", f"story_{object_id}"],
        "_highlightResult": {"title": {"value": title, "matchLevel": "none", "matchedWords": []}},
        "children": [],
    }


def comment(object_id: int, text_html: str, *, at: int, parent: int, story_id: int,
            author: str = "dang") -> dict[str, Any]:
    return {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at)),
        "created_at_i": at,
        "title": None,
        "url": None,
        "author": author,
        "points": None,
        "story_text": None,
        "comment_text": text_html,
        "num_comments": None,
        "story_id": story_id,
        "story_title": "Acme Air launches",
        "story_url": "https://acme.example/launch",
        "parent_id": parent,
        "objectID": str(object_id),
        "updated_at": "2026-01-01T00:00:00Z",
        "_tags": ["comment", f"author_{author}", f"story_{story_id}"],
        "_highlightResult": {"comment_text": {"value": text_html, "matchLevel": "none"}},
    }


_CONDITION = re.compile(r"^(\w+)(<=|>=|<|>|=)(-?\d+)$")


class FakeAlgolia:
    """search_by_date over an item list, sorted newest first, paginated like Algolia."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.requests: list[tuple[float, dict[str, str]]] = []
        self.rate_limit_next = 0
        self.drop_next_page: int | None = None  # abort the connection when this page is asked
        self.raw_next: list[bytes] = []  # bodies served (status 200) instead of a real answer
        self.pagination_limit = 1000
        app = web.Application()
        app.router.add_get("/api/v1/search_by_date", self.search)
        self.app = app

    def _matches(self, item: dict[str, Any], tags: str, conditions: list[tuple[str, str, int]],
                 query: str) -> bool:
        wanted = set(tags.strip("()").split(",")) if tags else set()
        if wanted and not wanted & set(item.get("_tags", [])):
            return False
        for field, op, value in conditions:
            have = item.get(field)
            if not isinstance(have, int):
                return False
            if not {"<": have < value, "<=": have <= value, ">": have > value,
                    ">=": have >= value, "=": have == value}[op]:
                return False
        if query:
            blob = " ".join(str(item.get(k) or "") for k in ("title", "story_text", "comment_text"))
            return query.lower() in blob.lower()
        return True

    async def search(self, request: web.Request) -> web.StreamResponse:
        params = dict(request.query)
        self.requests.append((time.monotonic(), params))
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return web.json_response({"message": "Too many requests", "status": 429}, status=429,
                                     headers={"Retry-After": "1"})
        page = int(params.get("page", 0))
        if self.drop_next_page is not None and page == self.drop_next_page:
            self.drop_next_page = None
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if self.raw_next:
            return web.Response(body=self.raw_next.pop(0), content_type="application/json")
        conditions = []
        for part in filter(None, params.get("numericFilters", "").split(",")):
            match = _CONDITION.match(part.strip())
            if not match:
                return web.json_response({"message": f"invalid numericFilters {part}",
                                          "status": 400}, status=400)
            conditions.append((match[1], match[2], int(match[3])))
        found = [i for i in self.items
                 if self._matches(i, params.get("tags", ""), conditions, params.get("query", ""))]
        found.sort(key=lambda i: i["created_at_i"] if isinstance(i["created_at_i"], int) else 0,
                   reverse=True)
        per_page = int(params.get("hitsPerPage", 20))
        reachable = found[: self.pagination_limit]
        hits = reachable[page * per_page : (page + 1) * per_page]
        return web.json_response({
            "hits": hits,
            "nbHits": len(found),
            "page": page,
            "nbPages": math.ceil(len(reachable) / per_page),
            "hitsPerPage": per_page,
            "exhaustiveNbHits": True,
            "exhaustiveTypo": True,
            "query": params.get("query", ""),
            "params": request.query_string,
            "processingTimeMS": 1,
        })


def options(server: LocalServer, **more: Any) -> dict[str, Any]:
    return {"api_url": server.url("/api/v1"), "poll_interval": "100ms", **FAST, **more}


@pytest.fixture
def run(tmp_path):
    harness = SourceRun(tmp_path / "state", HackerNewsSource, "hn")
    yield harness
    harness.close()


async def test_normal_flow(run):
    items = [
        story(1, "Acme Air loses bags again", at=NOW - 500, url="https://news.example/acme"),
        story(2, "Show HN: a tiny database", at=NOW - 400),
        story(3, "Flight delays everywhere", at=NOW - 300, url="https://acme.example/status"),
        comment(4, "<p>I flew <i>Acme</i> &amp; it was fine.</p><p>Really.</p>", at=NOW - 200,
                parent=1, story_id=1),
        comment(5, "unrelated comment", at=NOW - 100, parent=2, story_id=2),
        story(6, "Ask HN: acme?", at=NOW - 50, text="<p>Anyone used <a href=\"x\">acme</a>?</p>"),
    ]
    fake = FakeAlgolia(items)
    started = time.time()
    async with LocalServer(fake.app) as server:
        source = run.start(options(server))
        await run.until(lambda: len(run.ids()) == 4)
        assert source.health.state == HealthState.OK
        await run.stop()

    assert run.ids() == ["hn:1", "hn:3", "hn:4", "hn:6"]
    first = fake.requests[0][1]
    assert first["tags"] == "(story,comment)"
    assert first["numericFilters"].startswith("created_at_i>")
    lower = int(first["numericFilters"].removeprefix("created_at_i>"))
    assert abs(lower - (started - 3600)) <= 2  # first start: read `backfill` (1 h) back
    mentions = {m.id: m for m in run.mentions()}
    bags = mentions["hn:1"]
    assert bags.source == "hackernews"
    assert bags.text == "Acme Air loses bags again"
    assert bags.url == "https://news.ycombinator.com/item?id=1"
    assert bags.extra["link"] == "https://news.example/acme"
    assert bags.metrics is not None and (bags.metrics.likes, bags.metrics.replies) == (10, 3)
    assert bags.author is not None and bags.author.handle == "pg"
    assert int(bags.timestamp) == NOW - 500
    assert mentions["hn:3"].extra["link"] == "https://acme.example/status"  # matched by its link
    reply = mentions["hn:4"]
    assert reply.text == "I flew Acme & it was fine.\n\nReally."
    assert reply.in_reply_to == "hn:1"
    assert reply.extra["story_id"] == "hn:1"
    assert mentions["hn:6"].text == "Ask HN: acme?\n\nAnyone used acme?"
    assert run.cursor() == str(NOW - 50)


async def test_resume_after_restart(run):
    fake = FakeAlgolia([story(n, f"acme story {n}", at=NOW - 1000 + n * 10) for n in range(1, 6)])
    async with LocalServer(fake.app) as server:
        run.start(options(server, overlap="30s"))
        await run.until(lambda: len(run.ids()) == 5)
        await run.stop()
        cursor = int(run.cursor() or 0)
        assert cursor == NOW - 950

        # While stopped: new items, and one indexed late (created just before the cursor).
        fake.items += [story(n, f"acme story {n}", at=NOW - 1000 + n * 10) for n in range(6, 9)]
        fake.items.append(story(99, "acme late arrival", at=cursor - 5))
        before = len(fake.requests)
        run.start(options(server, overlap="30s"))
        await run.until(lambda: len(run.ids()) == 9)
        await run.stop()

    assert fake.requests[before][1]["numericFilters"] == f"created_at_i>{cursor - 30}"
    assert sorted(run.ids()) == sorted([f"hn:{n}" for n in range(1, 9)] + ["hn:99"])
    assert len(run.ids()) == len(set(run.ids()))


async def test_disconnect_mid_stream(run):
    """The connection drops while the second page is read: the poll is retried, and the
    cursor never moved past what was not yet read."""
    items = [story(n, f"acme {n}", at=NOW - 100 + n) for n in range(1, 8)]
    fake = FakeAlgolia(items)
    fake.drop_next_page = 1
    async with LocalServer(fake.app) as server:
        source = run.start(options(server, hits_per_page=3))
        await run.until(lambda: len(run.ids()) == 7)
        await run.stop()
    first_emit_cursor = next(c for _, c in run.emits if c is not None)
    assert first_emit_cursor == str(NOW - 93)  # the first stored cursor came with all 7 items
    assert run.emits[0][0] == 7
    assert source.health.state == HealthState.OK


async def test_rate_limited(run):
    fake = FakeAlgolia([story(1, "acme", at=NOW - 10)])
    fake.rate_limit_next = 1
    async with LocalServer(fake.app) as server:
        run.start(options(server))
        await run.until(lambda: run.ids() == ["hn:1"])
        await run.stop()
    assert fake.requests[1][0] - fake.requests[0][0] >= 1.0


async def test_malformed_payloads(run):
    good = story(3, "acme fine", at=NOW - 10)
    no_id = story(1, "acme broken", at=NOW - 30)
    del no_id["objectID"]
    bad_type = story(2, "acme broken", at=NOW - 20)
    bad_type["points"] = "lots"
    empty = story(4, "", at=NOW - 5)
    future = story(5, "acme in 3 billion years", at=NOW - 3)
    future["created_at_i"] = 10**17
    fake = FakeAlgolia([no_id, bad_type, good, empty, future])
    fake.raw_next = [b"<html>Service Unavailable</html>", b'{"hits": "nope"}']
    async with LocalServer(fake.app) as server:
        source = run.start(options(server))
        await run.until(lambda: run.ids() == ["hn:3"])
        await run.stop()
    # two bad pages, two bad hits, one hit without any text, one from the far future
    assert source.malformed == 6
    assert run.cursor() == str(NOW - 5)  # the far-future hit did not become the cursor


async def test_more_new_items_than_one_query_serves(run):
    """After downtime: more new items than Algolia's pagination limit. The range is split into
    windows read oldest first, each advancing the cursor; nothing is skipped."""
    items = [story(n, f"acme {n}", at=NOW - 1000 + n * 20) for n in range(1, 21)]
    fake = FakeAlgolia(items)
    fake.pagination_limit = 6
    async with LocalServer(fake.app) as server:
        run.start(options(server, hits_per_page=3, max_hits_per_query=6, backfill="2h"))
        await run.until(lambda: len(run.ids()) == 20)
        await run.stop()
    assert sorted(run.ids(), key=lambda i: int(i[3:])) == [f"hn:{n}" for n in range(1, 21)]
    cursors = [int(c) for n, c in run.emits if c is not None]
    assert cursors == sorted(cursors)
    assert len([c for c in cursors if c < NOW - 1000 + 400]) >= 2  # several windows


async def test_unreachable_endpoint_degrades_without_crashing(run):
    source = run.start({"api_url": closed_port_url(path="/api/v1"), **FAST})
    await run.until(lambda: source.health.state == HealthState.FAILING, timeout=5)
    assert run.task is not None and not run.task.done()
    await run.stop()


async def test_restart_through_the_real_pipeline(live_core):
    """The same resume check with the real core: config, pipeline, ingest stage and store."""
    fake = FakeAlgolia([story(n, f"acme {n}", at=NOW - 500 + n) for n in range(1, 4)])
    async with LocalServer(fake.app) as server:
        sources = {"hn": {"type": "hackernews", "api_url": server.url("/api/v1"),
                          "poll_interval": "100ms"}}
        async with live_core.running(sources) as core:
            await core.wait_stored(3)
            assert await core.cursor("hn") == str(NOW - 497)
        fake.items += [story(n, f"acme {n}", at=NOW - 500 + n) for n in range(4, 7)]
        async with live_core.running(sources) as core:
            stored = await core.wait_stored(6)
            assert [m.id for m in stored] == [f"hn:{n}" for n in range(1, 7)]
            # The overlap asked for items 1-3 again; the core dropped them by id.
            assert core.pipeline.stats.duplicates == 3
