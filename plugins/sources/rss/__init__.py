"""RSS and Atom source: polls a feed with conditional GETs and hands over the entries it has not
seen yet (parsed by feedparser)."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sentineld import Duration, Source, hookimpl
from sentineld.components import Emit, HealthState
from sentineld.sources_http import HttpSourceOptions

if TYPE_CHECKING:
    import aiohttp

    from sentineld.model import Mention
    from sentineld.sources_http import Reconnector

__all__ = ["RssOptions", "RssSource"]

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


class RssOptions(HttpSourceOptions, kw_only=True):
    #: The feed's URL (RSS 0.9x/1.0/2.0 or Atom).
    url: str
    #: How often the feed is fetched. A server's Retry-After (429, 503) is honoured on top.
    interval: Duration = Duration(300)
    #: How many entry ids the cursor remembers (beyond those in the latest document), so that
    #: an entry that drops out of the feed and comes back is not handed over twice.
    remember: int = 1000
    #: Largest feed document accepted, in bytes.
    max_bytes: int = 10 << 20

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with https:// (or http://), got {self.url!r}")


@dataclass(slots=True)
class FeedState:
    """The cursor: the validators of the last document (for a conditional GET) and fingerprints
    of the entries already handed over, newest first."""

    etag: str | None = None
    modified: str | None = None
    seen: list[str] = field(default_factory=list)

    def dump(self) -> str:
        return json.dumps({"etag": self.etag, "modified": self.modified, "seen": self.seen})

    @classmethod
    def load(cls, cursor: str | None) -> FeedState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(data.get("etag"), data.get("modified"), list(data.get("seen") or []))


class RssSource(Source):
    """Polls one feed. Each poll is a conditional GET (If-None-Match / If-Modified-Since); a
    304 costs nothing. New entries are handed over oldest first, together with the new cursor
    (validators + entries seen), so a restart neither skips nor repeats an entry."""

    type_name = "rss"
    description = "RSS and Atom feeds, polled with conditional GETs"
    Options = RssOptions

    def __init__(self, options: RssOptions, context: Any) -> None:
        super().__init__(options, context)
        self.state = FeedState()
        self.fetches = 0
        self.not_modified = 0

    async def run(self, emit: Emit) -> None:
        from sentineld.sources_http import Reconnector, open_session

        self.state = FeedState.load(self.cursor)
        session = open_session(self.options, headers={"Accept": ACCEPT})
        reconnector = Reconnector(self, self.options)
        try:
            await reconnector.run(lambda: self._poll_forever(session, emit, reconnector))
        finally:
            await session.close()

    async def _poll_forever(
        self, session: aiohttp.ClientSession, emit: Emit, reconnector: Reconnector
    ) -> None:
        while True:
            if await self.poll(session, emit):
                reconnector.progressed()
            if self.finite:
                return
            await asyncio.sleep(self.options.interval)

    async def poll(self, session: aiohttp.ClientSession, emit: Emit) -> bool:
        """Fetch the feed once and hand over what is new. False when the document was not a
        feed (rejected; the next poll tries again)."""
        from sentineld.sources_http import SourceError, check_status

        headers = {}
        if self.state.etag:
            headers["If-None-Match"] = self.state.etag
        if self.state.modified:
            headers["If-Modified-Since"] = self.state.modified
        self.fetches += 1
        async with session.get(self.options.url, headers=headers) as response:
            if response.status == 304:
                self.not_modified += 1
                return True
            await check_status(response)
            if (response.content_length or 0) > self.options.max_bytes:
                raise SourceError(f"feed is {response.content_length} bytes, over max_bytes")
            body = await response.content.read(self.options.max_bytes + 1)
            if len(body) > self.options.max_bytes:
                raise SourceError(f"feed is over max_bytes ({self.options.max_bytes})")
            response_headers = {k.lower(): v for k, v in response.headers.items()}
            response_headers.setdefault("content-location", str(response.url))
        try:
            document = await asyncio.to_thread(_parse, body, response_headers)
        except Exception as exc:  # noqa: BLE001 - feedparser raises on some bodies (a bad encoding name)
            return self._not_a_feed(f"feedparser failed: {exc!r}", body)
        if not document.entries and (document.bozo or not document.feed):
            return self._not_a_feed(getattr(document, "bozo_exception", None) or "no feed and no entries", body)
        mentions = self._new_mentions(document)
        state = FeedState(
            etag=response_headers.get("etag"),
            modified=response_headers.get("last-modified"),
            seen=self._remember(document),
        )
        if mentions or state != self.state:
            await emit(mentions, state.dump())
            self.state = state
        return True

    def _not_a_feed(self, reason: object, body: bytes) -> bool:
        self.reject(f"not an RSS or Atom feed: {reason}", body[:200], url=self.options.url)
        self.health.set(HealthState.DEGRADED, f"not an RSS or Atom feed: {reason}")
        return False

    def _new_mentions(self, document: Any) -> list[Mention]:
        from sentineld_plugins.sources.rss.entries import (
            EntryError,
            entry_key,
            entry_to_mention,
            fingerprint,
        )

        seen = set(self.state.seen)
        fetched_at = datetime.now(UTC)
        mentions = []
        for entry in document.entries:
            key = entry_key(entry)
            if key is not None and fingerprint(key) in seen:
                continue
            try:
                mention = entry_to_mention(entry, document.feed, self.options.url, fetched_at)
            except EntryError as exc:
                self.reject(str(exc), dict(entry), url=self.options.url)
                continue
            mentions.append(mention)
        mentions.sort(key=lambda m: m.created_at)  # feeds list newest first; hand over in time order
        return mentions

    def _remember(self, document: Any) -> list[str]:
        from sentineld_plugins.sources.rss.entries import entry_key, fingerprint

        current = [fingerprint(k) for k in map(entry_key, document.entries) if k is not None]
        known = set(current)
        older = [f for f in self.state.seen if f not in known]
        return (current + older)[: max(self.options.remember, len(current))]


def _parse(body: bytes, headers: dict[str, str]) -> Any:
    import feedparser

    # A file object, never bytes: feedparser would try bytes as a local file name first.
    return feedparser.parse(io.BytesIO(body), response_headers=headers)


@hookimpl
def register_sources(register: Any) -> None:
    register(RssSource)
