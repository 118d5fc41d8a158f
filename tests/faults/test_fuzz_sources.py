"""bad input: property-based fuzzing of every source's parser, from the payload as the platform
sends it to the Mentions the source hands over.

Each example feeds near-valid payloads (a real shape with fields replaced by wrong types, deleted,
nulled, huge, odd unicode, nested junk) or plain junk through the source's own code: the HTTP
sources poll a real stand-in server on 127.0.0.1 that answers with the example's body; Bluesky
reads Jetstream messages and looks profiles up on the stand-in; Mastodon also reads a real
server-sent event stream; RSS gets feed XML; IMAP parses raw RFC 822 messages; jsonl reads a
file. What is handed over is stored in a real SQLite store.

The property: no crash (only the documented rejection path: `Source.reject`, or a
`MalformedPayload` that the reconnector counts as a rejection), no hang (each example has a hard
timeout), every rejection explained (a non-empty reason), and every Mention sound enough for the
stages after it (`check_mention`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sentineld.sources_http import MalformedPayload, open_session
from sentineld.store import SQLiteStore
from tests.faults.fuzz_support import SourceUnderTest, StandIn, check_mention, json_junk, payloads

#: CI runs 150 examples per parser (the fuzz suite takes about half a minute); set
#: SENTINELD_FUZZ_EXAMPLES=3000 to hunt longer.
EXAMPLES = int(os.environ.get("SENTINELD_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def rejected_or_none(exc: BaseException | None) -> None:
    """A poll may end in a MalformedPayload (the whole answer is unusable): it must say why."""
    if exc is not None:
        assert isinstance(exc, MalformedPayload), f"{type(exc).__name__}: {exc}"
        assert exc.reason.strip()


def outcome(run: SourceUnderTest) -> str:
    """For --hypothesis-show-statistics: how often examples get through to a Mention."""
    return f"mentions: {bool(run.mentions)}, rejections: {bool(run.rejections)}"


async def polled(call: Any) -> BaseException | None:
    try:
        await call
    except MalformedPayload as exc:
        return exc
    return None


# --------------------------------------------------------------------------- the shared HTTP layer

answer_bodies = st.binary(max_size=200) | st.sampled_from([
    b'"\xed\xa0\x80"', b'{"a": "\xff"}', b"[" * 100_000, b'{"a":' * 50_000, b"1e999", b"NaN", b"",
    b"\xef\xbb\xbf{}", b'"\\ud800"', b"null",
]) | json_junk.map(body_of)


@FUZZ
@given(body=answer_bodies, status=st.sampled_from([200, 200, 203, 400, 404, 429, 500, 503]))
def test_http_answers_are_json_or_an_explained_failure(stand_in: StandIn, body: bytes, status: int) -> None:
    """Every JSON-over-HTTP source reads its answers through `get_json`."""
    from sentineld.sources_http import HttpSourceOptions, SourceError, get_json

    stand_in.answer("/json", body, status=status, headers={"Retry-After": "1"})

    async def example() -> None:
        session = open_session(HttpSourceOptions())
        try:
            await get_json(session, stand_in.url + "/json")
        except SourceError as exc:  # MalformedPayload, HttpStatusError, RateLimited
            assert str(exc).strip()
        finally:
            await session.close()

    stand_in.run(example())


sse_lines = st.lists(
    st.sampled_from([b"event: update\n", b"data: x\n", b"\n", b":thump\n", b"id: 1\n", b"\r\n",
                     b"data: " + b"x" * 600_000 + b"\n", b"\xff\xfe\n", b"data"]) | st.binary(max_size=30),
    max_size=6,
).map(b"".join)


@FUZZ
@given(body=sse_lines)
def test_event_stream_framing(stand_in: StandIn, body: bytes) -> None:
    """Mastodon's streaming API (and any server-sent events) through `iter_sse`: events, or the
    end of the stream, or an explained malformed payload (which reconnects)."""
    from sentineld.sources_http import HttpSourceOptions, MalformedPayload, StreamClosed, iter_sse

    stand_in.answer("/sse", body, content_type="text/event-stream")

    async def example() -> None:
        session = open_session(HttpSourceOptions())
        try:
            async with session.get(stand_in.url + "/sse") as response:
                async for item in iter_sse(response, silence_limit=5):
                    assert isinstance(item.data, str)
        except StreamClosed:
            pass
        except MalformedPayload as exc:
            assert exc.reason.strip()
        finally:
            await session.close()

    stand_in.run(example())


# --------------------------------------------------------------------------- Bluesky

BSKY_POST = {
    "did": "did:plc:jo", "time_us": 1_732_439_702_000_000, "kind": "commit",
    "commit": {
        "rev": "3l3qo2vutsw2b", "operation": "create", "collection": "app.bsky.feed.post",
        "rkey": "3k2la3b", "cid": "bafyreipost",
        "record": {
            "$type": "app.bsky.feed.post", "text": "@acme lost my bag again",
            "createdAt": "2024-11-24T09:15:02.000Z", "langs": ["en"],
            "reply": {"parent": {"uri": "at://did:plc:acmebrand/app.bsky.feed.post/3k", "cid": "b1"},
                      "root": {"uri": "at://did:plc:acmebrand/app.bsky.feed.post/3k", "cid": "b1"}},
            "embed": {"$type": "app.bsky.embed.recordWithMedia",
                      "record": {"record": {"uri": "at://did:plc:x/app.bsky.feed.post/9", "cid": "c"}},
                      "media": {"$type": "app.bsky.embed.images", "images": []}},
            "facets": [{"index": {"byteStart": 0, "byteEnd": 5},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:acmebrand"}]}],
        },
    },
}
BSKY_IDENTITY = {"did": "did:plc:jo", "time_us": 1_732_439_703_000_000, "kind": "identity",
                 "identity": {"did": "did:plc:jo", "handle": "jo2.bsky.social", "seq": 1, "time": "2024-11-24T09:15:03Z"}}
BSKY_PROFILES = {"profiles": [{
    "did": "did:plc:jo", "handle": "jo.bsky.social", "displayName": "Jo", "followersCount": 1200,
    "followsCount": 300, "postsCount": 5400, "createdAt": "2023-04-01T00:00:00.000Z",
}]}
jetstream_messages = st.lists(
    payloads(BSKY_POST).map(json.dumps) | payloads(BSKY_IDENTITY).map(json.dumps)
    | st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    min_size=1, max_size=4,
)


@FUZZ
@given(messages=jetstream_messages, profiles=payloads(BSKY_PROFILES), keep=st.sampled_from(["all", "watch"]))
def test_bluesky_jetstream_events_and_profiles(
    stand_in: StandIn, fuzz_store: SQLiteStore, fuzz_dir: Path, messages: list[str], profiles: Any, keep: str,
) -> None:
    from sentineld_plugins.sources.bluesky.source import BlueskySource

    stand_in.answer("/xrpc/app.bsky.actor.getProfiles", body_of(profiles))
    run = SourceUnderTest(BlueskySource, {"keep": keep, "api_url": stand_in.url}, fuzz_store, fuzz_dir)
    source: Any = run.source

    async def example() -> None:
        session = open_session(source.options)
        try:
            for message in messages:
                source._read(message, source.pending, time.monotonic())
            await source._flush(session, run.emit, source.pending)
        finally:
            await session.close()

    stand_in.run(example())
    run.assert_rejections_explained()
    event(outcome(run))


# --------------------------------------------------------------------------- Mastodon

MASTODON_ACCOUNT = {
    "id": "109", "username": "jo", "acct": "jo@example.social", "display_name": "Jo :blobcat:",
    "url": "https://example.social/@jo", "followers_count": 120, "following_count": 80,
    "statuses_count": 3400, "created_at": "2022-11-03T00:00:00.000Z", "bot": False,
}
MASTODON_STATUS = {
    "id": "113500000000000001", "created_at": "2024-11-24T09:15:02.000Z",
    "in_reply_to_id": "113499", "in_reply_to_account_id": "1", "sensitive": False,
    "spoiler_text": "", "visibility": "public", "language": "en",
    "uri": "https://example.social/users/jo/statuses/113500000000000001",
    "url": "https://example.social/@jo/113500000000000001",
    "replies_count": 1, "reblogs_count": 2, "favourites_count": 3, "edited_at": None,
    "content": "<p>Lost my bag again <span class=\"h-card\"><a href=\"https://x/@acme\">@<span>acme</span></a></span> "
               "<a href=\"https://x/tags/acme\" class=\"hashtag\">#<span>acme</span></a><br/>second&amp;line</p>",
    "reblog": None, "account": MASTODON_ACCOUNT, "media_attachments": [],
    "mentions": [{"id": "1", "username": "acme", "acct": "acme", "url": "https://x/@acme"}],
    "tags": [{"name": "acme", "url": "https://x/tags/acme"}],
    "quote": {"state": "accepted", "quoted_status": {"id": "113400"}},
}
MASTODON_REBLOG = {**MASTODON_STATUS, "id": "113500000000000002", "content": "",
                   "reblog": {**MASTODON_STATUS, "quote": None}}
MASTODON_NOTIFICATION = {"id": "3401", "type": "mention", "created_at": "2024-11-24T09:15:03.000Z",
                         "account": MASTODON_ACCOUNT, "status": MASTODON_STATUS}
statuses_page = st.lists(payloads(MASTODON_STATUS) | payloads(MASTODON_REBLOG), max_size=3) | json_junk
notifications_page = st.lists(payloads(MASTODON_NOTIFICATION), max_size=3) | json_junk


def sse_event(kind: str, data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"event: {kind}\n" + "".join(f"data: {line}\n" for line in text.split("\n")) + "\n"


sse_bodies = st.lists(
    st.builds(sse_event, st.sampled_from(["update", "notification", "delete", "status.update", "x"]),
              payloads(MASTODON_STATUS) | payloads(MASTODON_NOTIFICATION) | st.text(max_size=20))
    | st.sampled_from([":thump\n", "data:\n\n", "event:\n", "\r\n", "id: 7\n", "data: {\n\n"])
    | st.text(max_size=30),
    max_size=5,
).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass")) | st.binary(max_size=80)


def mastodon(stand_in: StandIn, store: SQLiteStore, directory: Path, keep: str) -> SourceUnderTest:
    from sentineld_plugins.sources.mastodon.source import MastodonSource

    options = {"instance": stand_in.url, "streaming_url": stand_in.url, "hashtags": ["acme"],
               "access_token": {"env": "SENTINELD_FUZZ_MASTODON_TOKEN"}, "keep": keep, "max_pages": 2}
    return SourceUnderTest(MastodonSource, options, store, directory,
                           cursor=json.dumps({"tag:acme": "1", "notifications": "1"}))


@FUZZ
@given(statuses=statuses_page, notifications=notifications_page, keep=st.sampled_from(["all", "watch"]))
def test_mastodon_rest_pages_of_statuses_and_notifications(
    stand_in: StandIn, fuzz_store: SQLiteStore, fuzz_dir: Path, mastodon_token: None,
    statuses: Any, notifications: Any, keep: str,
) -> None:
    stand_in.answer("/api/v1/timelines/tag/acme", body_of(statuses))
    stand_in.answer("/api/v1/notifications", body_of(notifications))
    run = mastodon(stand_in, fuzz_store, fuzz_dir, keep)
    source: Any = run.source
    source.positions = json.loads(source.cursor)

    async def example() -> list[BaseException | None]:
        session = open_session(source.options)
        try:
            return [await polled(source._catch_up(session, run.emit, feed)) for feed in source.feeds]
        finally:
            await session.close()

    for failure in stand_in.run(example()):
        rejected_or_none(failure)
    run.assert_rejections_explained()
    event(outcome(run))


@FUZZ
@given(body=sse_bodies, notifications=st.booleans())
def test_mastodon_streaming_events(
    stand_in: StandIn, fuzz_store: SQLiteStore, fuzz_dir: Path, mastodon_token: None,
    body: bytes, notifications: bool,
) -> None:
    from sentineld.sources_http import Reconnector, StreamClosed

    stand_in.answer("/api/v1/streaming", body, content_type="text/event-stream")
    run = mastodon(stand_in, fuzz_store, fuzz_dir, "all")
    source: Any = run.source
    feed = source.feeds[-1 if notifications else 0]

    async def example() -> BaseException | None:
        session = open_session(source.options)
        try:
            response = await source._open_stream(session, feed)
            assert response is not None, "the stand-in serves an event stream"
            async with response:
                try:
                    return await polled(source._read_stream(run.emit, feed, response,
                                                            Reconnector(source, source.options)))
                except StreamClosed:
                    return None  # the body ended: what a closed stream does
        finally:
            await session.close()

    rejected_or_none(stand_in.run(example()))
    run.assert_rejections_explained()
    event(outcome(run))


# --------------------------------------------------------------------------- Reddit

REDDIT_POST = {"kind": "t3", "data": {
    "name": "t3_1gyx0a", "id": "1gyx0a", "created_utc": 1732439702.0, "author": "jo",
    "author_fullname": "t2_abc", "title": "acme lost my bag", "selftext": "third time this year",
    "permalink": "/r/travel/comments/1gyx0a/acme_lost_my_bag/", "subreddit": "travel", "score": 12,
    "num_comments": 3, "url": "https://www.reddit.com/r/travel/comments/1gyx0a/", "is_self": True,
}}
REDDIT_COMMENT = {"kind": "t1", "data": {
    "name": "t1_lzz9", "id": "lzz9", "created_utc": 1732439800.0, "author": "[deleted]",
    "body": "same with @acme", "parent_id": "t3_1gyx0a", "link_id": "t3_1gyx0a",
    "link_title": "acme lost my bag", "permalink": "/r/travel/comments/1gyx0a/_/lzz9/",
    "subreddit": "travel", "score": 1,
}}
REDDIT_LISTING = {"kind": "Listing", "data": {"after": None, "before": None, "dist": 2,
                                              "children": [REDDIT_POST, REDDIT_COMMENT]}}


@FUZZ
@given(listing=payloads(REDDIT_LISTING), keep=st.sampled_from(["all", "watch"]), resume=st.booleans())
def test_reddit_listings(
    stand_in: StandIn, fuzz_store: SQLiteStore, fuzz_dir: Path, listing: Any, keep: str, resume: bool,
) -> None:
    from sentineld_plugins.sources.reddit.source import RedditSource

    stand_in.answer("/r/travel/", body_of(listing))
    cursor = json.dumps({"r/travel/new": ["t3_0", 1700000000.0]}) if resume else None
    run = SourceUnderTest(RedditSource, {
        "subreddits": ["travel"], "comments": False, "reddit_username": "fuzzer", "keep": keep,
        "base_url": stand_in.url, "max_pages": 2,
    }, fuzz_store, fuzz_dir, cursor=cursor)
    source: Any = run.source

    async def example() -> BaseException | None:
        session = open_session(source.options)
        try:
            return await polled(source.poll(session, run.emit))
        finally:
            await session.close()

    rejected_or_none(stand_in.run(example()))
    run.assert_rejections_explained()
    event(outcome(run))


# --------------------------------------------------------------------------- Hacker News

HN_STORY = {
    "objectID": "42200001", "created_at": "2024-11-24T09:15:02Z", "created_at_i": 1732439702,
    "author": "jo", "title": "Ask HN: acme lost my bag", "url": "https://example.com/acme",
    "story_text": "<p>Anyone else?<p>It&#x27;s the third time", "points": 12, "num_comments": 3,
    "story_id": 42200001, "_tags": ["story", "author_jo", "story_42200001", "ask_hn"],
    "_highlightResult": {"title": {"value": "acme", "matchLevel": "full"}},
}
HN_COMMENT = {
    "objectID": "42200002", "created_at_i": 1732439800, "author": "kim",
    "comment_text": "<i>acme</i> did that to me<p><a href=\"https://x\">link</a>", "parent_id": 42200001,
    "story_id": 42200001, "story_title": "Ask HN: acme lost my bag", "points": None,
    "_tags": ["comment", "author_kim", "story_42200001"],
}
HN_PAGE = {"hits": [HN_STORY, HN_COMMENT], "nbHits": 2, "page": 0, "nbPages": 1, "hitsPerPage": 100,
           "exhaustiveNbHits": True, "query": "", "params": "tags=%28story%2Ccomment%29"}


@FUZZ
@given(page=payloads(HN_PAGE), keep=st.sampled_from(["all", "watch"]), resume=st.booleans())
def test_hackernews_search_pages(
    stand_in: StandIn, fuzz_store: SQLiteStore, fuzz_dir: Path, page: Any, keep: str, resume: bool,
) -> None:
    from sentineld_plugins.sources.hackernews.source import HackerNewsSource

    stand_in.answer("/hn/search_by_date", body_of(page))
    run = SourceUnderTest(HackerNewsSource, {"api_url": stand_in.url + "/hn", "keep": keep},
                          fuzz_store, fuzz_dir, cursor="1732439000" if resume else None)
    source: Any = run.source

    async def example() -> BaseException | None:
        session = open_session(source.options)
        try:
            return await polled(source.poll(session, run.emit))
        finally:
            await session.close()

    rejected_or_none(stand_in.run(example()))
    run.assert_rejections_explained()
    event(outcome(run))


# --------------------------------------------------------------------------- RSS and Atom

RSS_ITEM = """<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>
<pubDate>{date}</pubDate><author>{author}</author><category>{tag}</category>
<description>{body}</description></item>"""
ATOM_ENTRY = """<entry><title type="html">{title}</title><link href="{link}"/><id>{guid}</id>
<updated>{date}</updated><author><name>{author}</name><email>{author}@example.com</email></author>
<category term="{tag}"/><content type="{kind}">{body}</content></entry>"""
RSS_DOC = """<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0"><channel><title>{feed_title}</title><link>https://example.com/</link>
<language>{lang}</language>{items}</channel></rss>"""
ATOM_DOC = """<?xml version="1.0" encoding="{encoding}"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{feed_title}</title><id>urn:x</id>
<updated>2024-11-24T09:15:02Z</updated>{items}</feed>"""
FEED_DATES = ["Sun, 24 Nov 2024 09:15:02 GMT", "2024-11-24T09:15:02Z", "Mon, 31 Feb 2024 99:99:99 +9999",
              "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "", "yesterday", "1732439702",
              "Sun, 24 Nov 10000 09:15:02 GMT", "2024-W47-7"]
xml_text = (st.sampled_from(["acme lost my bag", "", "<![CDATA[<b>acme</b>]]>", "&lt;p&gt;acme&lt;/p&gt;",
                             "&amp;#55296;", "&#0;", "&bogus;", "<b>unclosed", "]]>", "\x00\x01", "&#x1F600;"])
            | st.text(max_size=40) | st.text(max_size=40).map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;")))
feed_entries = st.fixed_dictionaries({
    "title": xml_text, "link": st.sampled_from(["https://example.com/1", "", "javascript:x", "\x00"]) | xml_text,
    "guid": st.sampled_from(["post-1", "post-2", "", "  "]) | xml_text, "date": st.sampled_from(FEED_DATES),
    "author": xml_text, "tag": xml_text, "body": xml_text, "kind": st.sampled_from(["html", "text", "xhtml", "x"]),
})


def render_feed(atom: bool, encoding: str, lang: str, title: str, entries: list[dict[str, str]]) -> bytes:
    template, item = (ATOM_DOC, ATOM_ENTRY) if atom else (RSS_DOC, RSS_ITEM)
    document = template.format(encoding=encoding, feed_title=title, lang=lang,
                               items="".join(item.format(**entry) for entry in entries))
    return document.encode("utf-8", "surrogatepass")


def damaged(document: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    """A document with bytes overwritten at a few places (truncations, stray markup, binary)."""
    data = bytearray(document)
    for position, junk in cuts:
        at = position % (len(data) + 1)
        data[at : at + len(junk)] = junk
    return bytes(data)


feeds = st.builds(
    render_feed, st.booleans(), st.sampled_from(["utf-8", "iso-8859-1", "utf-16", "bogus-charset"]),
    st.sampled_from(["en-us", "", "x" * 300, "-"]), xml_text, st.lists(feed_entries, max_size=3),
)
feed_bodies = (
    feeds | st.builds(damaged, feeds, st.lists(st.tuples(st.integers(0, 2000), st.binary(min_size=1, max_size=8)), max_size=3))
    | st.binary(max_size=200)
)


@FUZZ
@pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")  # feedparser's own
@given(body=feed_bodies, content_type=st.sampled_from(["application/rss+xml", "application/atom+xml",
                                                        "text/html", "text/xml; charset=latin-1"]))
def test_rss_and_atom_documents(
    stand_in: StandIn, fuzz_store: SQLiteStore, fuzz_dir: Path, body: bytes, content_type: str,
) -> None:
    from sentineld_plugins.sources.rss import RssSource

    stand_in.answer("/feed", body, content_type=content_type)
    run = SourceUnderTest(RssSource, {"url": stand_in.url + "/feed"}, fuzz_store, fuzz_dir)
    source: Any = run.source

    async def example() -> None:
        session = open_session(source.options)
        try:
            await source.poll(session, run.emit)
        finally:
            await session.close()

    stand_in.run(example())
    run.assert_rejections_explained()
    event(outcome(run))


# --------------------------------------------------------------------------- IMAP (RFC 822)

MAIL_HEADERS = {
    "From": ["Jo Doe <jo@example.com>", "=?utf-8?b?SsO2cmc=?= <jorg@example.de>", "<>", "@@", "jo",
             '"unterminated <jo@example.com>', "jo@example.com, kim@example.com", "=?bogus?q?x?= <a@b>",
             "Jo <jo@[300.1.1.1]>", "=?utf-8?b?!!!?= <x@y>", "\udcff <a@b>", ""],
    "Date": ["Sun, 24 Nov 2024 09:15:02 +0000", "Mon, 31 Feb 2024 99:99:99 +9999", "",
             "Mon, 1 Jan 0001 00:00:00 +2359", "Fri, 31 Dec 9999 23:59:59 -2359", "24 Nov 2024 09:15",
             "Sun, 24 Nov 2024 09:15:02 -0000", "1732439702", "Sun, 24 Nov 10000 09:15:02 +0000"],
    "Message-ID": ["<abc.123@example.com>", "", "<>", "no-brackets@example.com", "<a@b> <c@d>", "<" * 50,
                   "<\udcff@x>"],
    "Subject": ["acme lost my bag", "=?utf-8?q?acme_=F0=9F=99=82?=", "=?iso-8859-1?b?////?=", "=?x?q??=",
                "=?utf-8?b?" + "QUFB" * 2000 + "?=", "", "a\r\n b"],
    "In-Reply-To": ["<prev@example.com>", "junk", ""],
    "References": ["<a@b> <c@d>", "<<<>>>", ""],
    "To": ["support@acme.example", "undisclosed-recipients:;", "\"a,b\" <a@b>, c", ""],
    "Content-Language": ["en-US", "", ",", "x" * 300],
}
BODY_PARTS = [
    ("text/plain; charset=utf-8", "8bit", "Hello, acme lost my bag.\n> quoted line\nthanks".encode()),
    ("text/plain; charset=bogus-8", "8bit", b"caf\xe9"),
    ("text/plain; charset=utf-8", "base64", b"!!!not base64@@@"),
    ("text/plain; charset=utf-8", "quoted-printable", b"=E2=9C=93 =ZZ =\r\nend"),
    ("text/html; charset=iso-8859-1", "8bit", b"<p>caf\xe9 <b>acme</b><script>x</script>"),
    ("text/html", "x-uuencode", b"begin 644 x\n`\nend\n"),
    ("application/octet-stream", "base64", b"AAAA"),
    ("text/plain; charset=\"utf-16\"", "8bit", b"\xff\xfe\x00"),
    ("text", "7bit", b"no subtype"),
]


def render_message(headers: dict[str, str], parts: list[tuple[str, str, bytes]], multipart: str) -> bytes:
    lines = [f"{name}: {value}".encode("utf-8", "surrogateescape") for name, value in headers.items()]
    if not parts:
        return b"\r\n".join(lines) + b"\r\n\r\n"
    if len(parts) == 1:
        kind, encoding, payload = parts[0]
        lines += [f"Content-Type: {kind}".encode(), f"Content-Transfer-Encoding: {encoding}".encode()]
        return b"\r\n".join(lines) + b"\r\n\r\n" + payload
    boundary = "=-=b0undary=-="
    lines.append(f'MIME-Version: 1.0\r\nContent-Type: {multipart}; boundary="{boundary}"'.encode())
    body = b""
    for kind, encoding, payload in parts:
        body += (f"--{boundary}\r\nContent-Type: {kind}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
                 .encode() + payload + b"\r\n")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + f"--{boundary}--\r\n".encode()


messages = st.builds(
    render_message,
    st.fixed_dictionaries({}, optional={name: st.sampled_from(values) | st.text(max_size=20)
                                        for name, values in MAIL_HEADERS.items()}),
    st.lists(st.sampled_from(BODY_PARTS), max_size=3),
    st.sampled_from(["multipart/alternative", "multipart/mixed", "multipart/related", "multipart/bogus"]),
)
raw_messages = messages | st.builds(damaged, messages, st.lists(
    st.tuples(st.integers(0, 500), st.binary(min_size=1, max_size=6)), min_size=1, max_size=3)) | st.binary(max_size=300)


@FUZZ
@given(raw=raw_messages, internal=st.sampled_from([None, "2024-11-24T09:15:02+00:00", "0001-01-01T00:00:00+14:00"]))
def test_imap_raw_messages(raw: bytes, internal: str | None) -> None:
    from datetime import datetime

    from sentineld_plugins.sources.imap.messages import MessageError, message_to_mention

    internal_date = datetime.fromisoformat(internal) if internal else None
    try:
        mention = message_to_mention(raw, internal_date=internal_date, mailbox="INBOX", uid=7)
    except MessageError as exc:
        assert str(exc).strip()
        event("rejected")
    else:
        check_mention(mention)
        event("mention")


# --------------------------------------------------------------------------- jsonl

MENTION = {
    "id": "bluesky:at://did:plc:abc/app.bsky.feed.post/3k2", "source": "bluesky",
    "created_at": "2026-11-24T09:15:02Z", "text": "@acmeair lost my bag again",
    "author": {"id": "did:plc:abc", "handle": "jo.bsky.social", "name": "Jo", "followers": 1200,
               "following": 300, "posts": 5400, "created_at": "2023-04-01T00:00:00Z"},
    "url": "https://bsky.app/profile/did:plc:abc/post/3k2", "lang": "en", "in_reply_to": None,
    "reshare_of": None, "metrics": {"likes": 3, "reshares": 1, "replies": 0}, "extra": {"cid": "b"},
}
NASTY_LINES = [
    b'{"id": "a\xff", "source": "x", "created_at": "2026-11-24T09:15:02Z", "text": "t"}',  # invalid UTF-8
    b"[" * 20_000 + b"]" * 20_000,  # nesting deeper than any parser's stack
    b'{"id": "a", "source": "x", "created_at": "2026-11-24T09:15:02Z", "text": "\\ud800"}',  # lone surrogate
    b'{"id": "a", "source": "x", "created_at": "0001-01-01T00:00:00+01:00", "text": "t"}',
    b'{"id": "a", "source": "x", "created_at": "9999-12-31T23:59:59-12:00", "text": "t"}',
    b'{"id": "a", "source": "x", "created_at": "2026-11-24T09:15:02Z", "text": "t", "metrics": {"likes": 1e999}}',
    b"\xef\xbb\xbf" + json.dumps(MENTION).encode(), b"\x00", b"NaN", b"\r",
]
jsonl_lines = st.lists(
    payloads(MENTION).map(lambda m: json.dumps(m).encode("utf-8", "surrogatepass"))
    | st.sampled_from(NASTY_LINES) | st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
    min_size=1, max_size=6,
)


@FUZZ
@given(lines=jsonl_lines, final_newline=st.booleans())
def test_jsonl_lines(
    stand_in: StandIn, fuzz_store: SQLiteStore, fuzz_dir: Path, lines: list[bytes], final_newline: bool,
) -> None:
    from sentineld_plugins.sources.jsonl import JsonlSource

    path = fuzz_dir / "lines.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline else b""))
    run = SourceUnderTest(JsonlSource, {"path": str(path), "follow": False}, fuzz_store, fuzz_dir)
    run.source.finite = True
    stand_in.run(run.source.run(run.emit))
    run.assert_rejections_explained()
    assert run.source.lines_read == sum(1 for line in lines if line.strip())  # type: ignore[attr-defined]
    event(outcome(run))


# --------------------------------------------------------------------------- HTML to text

markup = st.lists(
    st.sampled_from(["<p>", "</p>", "<br>", "<br/>", "<script>", "</script>", "<style>", "</style>", "<b>",
                     "<a href='x'>", "</a>", "<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#55296;",
                     "&#x110000;", "&#99999999999;", "&nbsp;", "&bogus", "&", "<", ">", "<div", "<p <p>",
                     "<template>", "<li>", "\r\n", "\u00a0", "\ud800", "acme"])
    | st.text(max_size=20),
    max_size=30,
).map("".join)


@FUZZ
@given(html=markup)
def test_html_to_text_of_any_markup(html: str) -> None:
    """Mastodon statuses, Hacker News comments, feed entries and HTML mail all go through it."""
    from sentineld.html_text import html_to_text

    text = html_to_text(html)
    assert isinstance(text, str)
    assert "\n\n\n" not in text and text == text.strip()
