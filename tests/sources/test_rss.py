"""The RSS/Atom source against a local feed server speaking HTTP as feed hosts do: ETag and
Last-Modified validators, 304 answers, 429 with Retry-After, broken connections."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sentineld.components import HealthState

FAST = {"interval": "100ms", "backoff_initial": "50ms", "backoff_max": "200ms"}


def rss_item(n: int, *, day: int, title: str | None = None, html: str | None = None) -> str:
    return f"""
    <item>
      <title>{title or f"Post {n} about @acme"}</title>
      <link>https://blog.example.org/posts/{n}</link>
      <guid isPermaLink="false">post-{n}</guid>
      <description><![CDATA[{html or f"<p>Body of post {n}: acme <b>lost</b> my bag</p>"}]]></description>
      <author>writer{n}@example.org (Writer {n})</author>
      <category>travel</category>
      <pubDate>{format_datetime(datetime(2026, 11, day, 9, 30, tzinfo=UTC), usegmt=True)}</pubDate>
    </item>"""


def rss(*items: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Travel blog</title>
    <link>https://blog.example.org/</link>
    <description>Stories from the road</description>
    <language>en-us</language>
    {"".join(items)}
  </channel>
</rss>"""


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
  <title>Forum acme</title>
  <link href="https://forum.example.net/"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2026-11-24T09:00:00Z</updated>
  <entry>
    <title>Retard encore</title>
    <link href="https://forum.example.net/t/42"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <published>2026-11-23T08:00:00+01:00</published>
    <updated>2026-11-24T08:00:00Z</updated>
    <author><name>Camille</name><email>Camille@Example.net</email></author>
    <content type="html">&lt;p&gt;Vol @acme en retard&lt;br/&gt;trois heures&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Sans date</title>
    <link href="https://forum.example.net/t/43"/>
    <id>tag:forum.example.net,2026:43</id>
    <summary>Pas de date ici</summary>
  </entry>
</feed>"""


@dataclass
class FeedServer:
    """Serves one feed document with validators; scripted failures come first."""

    body: str
    content_type: str = "application/rss+xml; charset=utf-8"
    version: int = 1
    failures: list[str] = field(default_factory=list)  # "429", "500", "cut"
    requests: list[dict[str, Any]] = field(default_factory=list)
    not_modified: int = 0

    def publish(self, body: str) -> None:
        self.body = body
        self.version += 1

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body.encode()).hexdigest()[:16] + '"'

    @property
    def modified(self) -> str:
        return format_datetime(datetime(2026, 11, 24, 10, self.version, tzinfo=UTC), usegmt=True)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"at": time.monotonic(), **dict(request.headers)})
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "429":
                return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
            if failure == "500":
                return web.Response(status=500, text="oops")
            if failure == "cut":  # headers promise the whole document, then the connection dies
                response = web.StreamResponse(headers={"Content-Type": self.content_type,
                                                       "Content-Length": str(len(self.body))})
                await response.prepare(request)
                await response.write(self.body.encode()[:80])
                assert request.transport is not None
                request.transport.close()
                return response
        if request.headers.get("If-None-Match") == self.etag:
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": self.etag})
        return web.Response(
            body=self.body.encode(),
            headers={"Content-Type": self.content_type, "ETag": self.etag,
                     "Last-Modified": self.modified},
        )


@pytest.fixture
async def feed() -> Any:
    server = FeedServer(rss(rss_item(1, day=20), rss_item(2, day=21)))
    app = web.Application()
    app.router.add_get("/feed.xml", server.handle)
    async with TestServer(app, host="127.0.0.1") as http:
        server.url = str(http.make_url("/feed.xml"))  # type: ignore[attr-defined]
        yield server


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {"blog": {"type": "rss", "url": url, **FAST, **extra}}


async def test_rss_items_become_mentions_oldest_first(live_core, feed) -> None:
    async with live_core.running(config(feed.url)) as core:
        stored = await core.wait_stored(2)
    prefix = f"rss:{hashlib.blake2b(feed.url.encode(), digest_size=6).hexdigest()}:"
    assert [m.id for m in stored] == [prefix + "post-1", prefix + "post-2"]
    first = stored[0]
    assert first.source == "rss"
    assert first.created_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert first.text == "Post 1 about @acme\n\nBody of post 1: acme lost my bag"
    assert first.url == "https://blog.example.org/posts/1"
    assert first.author is not None
    assert (first.author.id, first.author.name) == ("writer1@example.org", "Writer 1")
    assert first.lang == "en"
    assert first.extra["tags"] == ["travel"] and first.extra["feed_title"] == "Travel blog"


async def test_atom_entries(live_core, feed) -> None:
    feed.publish(ATOM)
    feed.content_type = "application/atom+xml"
    async with live_core.running(config(feed.url)) as core:
        stored = await core.wait_stored(2)
    by_url = {m.url: m for m in stored}
    late = by_url["https://forum.example.net/t/42"]
    assert late.id.endswith(":urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a")
    assert late.created_at == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # published wins
    assert late.text == "Retard encore\n\nVol @acme en retard\ntrois heures"
    assert late.author is not None
    assert (late.author.id, late.author.name) == ("camille@example.net", "Camille")
    assert late.lang == "fr"
    undated = by_url["https://forum.example.net/t/43"]
    assert abs((undated.created_at - datetime.now(UTC)).total_seconds()) < 60  # fetch time


async def test_conditional_get_and_only_new_entries(live_core, feed) -> None:
    async with live_core.running(config(feed.url)) as core:
        await core.wait_stored(2)
        await core.wait_for(lambda: feed.not_modified >= 2, what="304 answers")
        validated = feed.requests[-1]
        assert validated["If-None-Match"] == feed.etag
        assert validated["If-Modified-Since"] == feed.modified
        feed.publish(rss(rss_item(3, day=22), rss_item(2, day=21), rss_item(1, day=20)))
        stored = await core.wait_stored(3)
        await asyncio.sleep(0.3)
        assert core.pipeline.stats.duplicates == 0  # seen entries are not handed over again
        assert core.pipeline.stats.received["blog"] == 3
    assert [m.id.rsplit(":", 1)[1] for m in stored] == ["post-1", "post-2", "post-3"]


async def test_resume_after_restart_without_gap_or_duplicate(live_core, feed) -> None:
    async with live_core.running(config(feed.url)) as core:
        await core.wait_stored(2)
    first_run = len(feed.requests)
    async with live_core.running(config(feed.url)) as core:
        await core.wait_for(lambda: len(feed.requests) > first_run, what="a poll")
        assert feed.requests[first_run]["If-None-Match"] == feed.etag  # validators from the cursor
        feed.publish(rss(rss_item(3, day=22), rss_item(2, day=21), rss_item(1, day=20)))
        stored = await core.wait_stored(3)
        await asyncio.sleep(0.3)
        assert core.pipeline.stats.received["blog"] == 1
        assert core.pipeline.stats.duplicates == 0
    assert [m.id.rsplit(":", 1)[1] for m in stored] == ["post-1", "post-2", "post-3"]
    assert len(json.loads(await _cursor(live_core))["seen"]) == 3


async def _cursor(live_core) -> str:
    from sentineld.store import open_store

    store = open_store(live_core.directory / "state")
    try:
        return store.cursor("blog")
    finally:
        store.close()


async def test_rate_limited_waits_for_retry_after(live_core, feed) -> None:
    feed.failures = ["429"]
    async with live_core.running(config(feed.url)) as core:
        source = core.source("blog")
        await core.wait_for(lambda: source.health.state == HealthState.DEGRADED, what="degraded")
        assert "rate limited" in (source.health.last_error or "")
        await core.wait_stored(2)
        assert source.health.state == HealthState.OK
    gap = feed.requests[1]["at"] - feed.requests[0]["at"]
    assert gap >= 1.0  # Retry-After: 1, although the backoff alone would retry after 50 ms


async def test_disconnect_mid_stream_and_server_error_are_retried(live_core, feed) -> None:
    feed.failures = ["cut", "500"]
    async with live_core.running(config(feed.url)) as core:
        stored = await core.wait_stored(2)
        assert len(feed.requests) >= 3
        assert core.source("blog").health.state == HealthState.OK
    assert len(stored) == 2


async def test_malformed_document_and_entries_are_rejected(live_core, feed) -> None:
    feed.publish("<html><body>Maintenance</body></html>")
    feed.content_type = "text/html"
    async with live_core.running(config(feed.url)) as core:
        source = core.source("blog")
        await core.wait_for(lambda: source.malformed >= 1, what="a rejected document")
        assert source.health.state == HealthState.DEGRADED
        assert "not an RSS or Atom feed" in (source.health.last_error or "")
        assert await core.count() == 0
        empty = "<item><description></description></item>"
        feed.publish(rss(rss_item(1, day=20), empty))
        feed.content_type = "application/rss+xml"
        stored = await core.wait_stored(1)
        await core.wait_for(lambda: source.health.state == HealthState.OK, what="recovery")
        await asyncio.sleep(0.3)  # later polls get 304: the bad entry is not rejected again
        assert source.malformed == 2
    assert [m.url for m in stored] == ["https://blog.example.org/posts/1"]


def test_a_url_that_is_not_http_fails_check(tmp_path) -> None:
    """`url = "notaurl"` passed `check`, then the source retried it for ever."""
    from sentineld.config import ConfigError, load_config

    with pytest.raises(ConfigError) as info:
        load_config(text='[sources.blog]\ntype = "rss"\nurl = "blog.example.org/feed.xml"\n')
    assert str(info.value).endswith(
        "sources.blog: url must start with https:// (or http://), got 'blog.example.org/feed.xml'")
