"""The Hacker News source: new stories and comments from HN's Algolia search API.

Each poll asks ``search_by_date`` for what was created after the cursor
(``numericFilters=created_at_i>CURSOR``), newest first, page by page. Algolia serves at most
``max_hits_per_query`` hits of one query (its pagination limit), so when more than that is new
(after downtime) the time range is split into windows small enough to read whole, oldest window
first, and the cursor advances window by window: a restart never leaves a gap.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from sentineld.components import ComponentContext, Emit, Source
from sentineld.html_text import html_to_text
from sentineld.model import Author, Count, Mention, Metrics
from sentineld.options import Duration
from sentineld.sources_http import (
    HttpSourceOptions,
    MalformedPayload,
    Reconnector,
    from_posix,
    get_json,
    open_session,
)
from sentineld.watch import Matcher

if TYPE_CHECKING:
    import aiohttp

SOURCE = "hackernews"


class HackerNewsOptions(HttpSourceOptions):
    #: The Algolia HN Search API.
    api_url: str = "https://hn.algolia.com/api/v1"
    #: Which items: Algolia tags; "(story,comment)" means stories or comments.
    tags: str = "(story,comment)"
    #: A full-text query sent to Algolia; empty asks for every new item (then [watch] filters).
    query: str = ""
    #: "watch" keeps items whose text (or a story's link) matches a [watch] subject; "all" keeps
    #: every item returned.
    keep: Literal["watch", "all"] = "watch"
    #: How often to ask for new items.
    poll_interval: Duration = Duration(60)
    #: Ask again for this much before the cursor: items indexed late are still found (repeats
    #: are dropped by id).
    overlap: Duration = Duration(120)
    #: On the very first start (no cursor yet), how far back to read.
    backfill: Duration = Duration(3600)
    #: Hits per page, and the most hits Algolia serves for one query (its pagination limit).
    hits_per_page: int = 100
    max_hits_per_query: int = 1000


class Hit(msgspec.Struct):
    """One Algolia hit, the fields sentineld uses."""

    objectID: str  # noqa: N815 - Algolia's spelling
    created_at_i: int
    author: str | None = None
    title: str | None = None
    story_text: str | None = None
    comment_text: str | None = None
    url: str | None = None
    points: Count | None = None
    num_comments: Count | None = None
    parent_id: int | None = None
    story_id: int | None = None
    story_title: str | None = None
    tags: list[str] = msgspec.field(name="_tags", default_factory=list)


class SearchPage(msgspec.Struct):
    hits: list[Any]
    nbHits: int  # noqa: N815
    nbPages: int  # noqa: N815
    page: int = 0


class HackerNewsSource(Source):
    """Polls Algolia. The cursor is the ``created_at_i`` (POSIX seconds) up to which every item
    has been read."""

    type_name = "hackernews"
    description = "Hacker News stories and comments from the Algolia search API"
    Options = HackerNewsOptions

    def __init__(self, options: HackerNewsOptions, context: ComponentContext) -> None:
        super().__init__(options, context)
        self.options: HackerNewsOptions = options
        self.matcher = Matcher(context.watch)
        self.requests = 0
        self.polls = 0

    async def run(self, emit: Emit) -> None:
        session = open_session(self.options)
        try:
            await Reconnector(self, self.options).poll(
                lambda: self.poll(session, emit), self.options.poll_interval
            )
        finally:
            await session.close()

    async def poll(self, session: aiohttp.ClientSession, emit: Emit) -> None:
        """Read everything created since the cursor, oldest window first."""
        self.polls += 1
        now = int(time.time())
        cursor = int(self.cursor) if self.cursor else now - int(self.options.backfill)
        lower = cursor - int(self.options.overlap) if self.cursor else cursor
        while True:
            upper: int | None = None  # None: up to now, open-ended
            page = await self._search(session, lower, upper, 0)
            # Split only while the page is full: an nbHits that its page contradicts would make
            # every second of the window its own query.
            while (page.nbHits > self.options.max_hits_per_query
                   and len(page.hits) >= self.options.hits_per_page):
                span = (upper if upper is not None else now) - lower
                if span <= 1:
                    self.log.warning("more items in one second than Algolia serves; some are lost",
                                     second=lower + 1, hits=page.nbHits)
                    break
                upper = lower + span // 2
                page = await self._search(session, lower, upper, 0)
            hits = await self._read_all(session, page, lower, upper)
            newest = max((hit.created_at_i for hit in hits), default=cursor)
            position = max(cursor, upper if upper is not None else newest)
            mentions = [m for m in (self._mention(hit) for hit in hits) if m is not None]
            mentions.sort(key=lambda m: m.created_at)
            await emit(mentions, str(position))
            cursor = position
            if upper is None:
                return
            lower = upper

    async def _read_all(
        self, session: aiohttp.ClientSession, first: SearchPage, lower: int, upper: int | None
    ) -> list[Hit]:
        hits = self._decode_hits(first)
        for number in range(1, first.nbPages):
            if number * self.options.hits_per_page >= self.options.max_hits_per_query:
                break
            page = await self._search(session, lower, upper, number)
            hits += self._decode_hits(page)
        return hits

    async def _search(
        self, session: aiohttp.ClientSession, lower: int, upper: int | None, page: int
    ) -> SearchPage:
        numeric = f"created_at_i>{lower}" + (f",created_at_i<={upper}" if upper is not None else "")
        params = {
            "tags": self.options.tags,
            "numericFilters": numeric,
            "hitsPerPage": str(self.options.hits_per_page),
            "page": str(page),
        }
        if self.options.query:
            params["query"] = self.options.query
        response = await get_json(
            session, self.options.api_url.rstrip("/") + "/search_by_date", params=params
        )
        self.requests += 1
        try:
            return msgspec.convert(response.data, SearchPage)
        except msgspec.ValidationError as exc:
            raise MalformedPayload(f"not a search_by_date result: {exc}", response.data) from None

    def _decode_hits(self, page: SearchPage) -> list[Hit]:
        hits = []
        for raw in page.hits:
            try:
                hit = msgspec.convert(raw, Hit)
            except msgspec.ValidationError as exc:
                self.reject(f"malformed hit: {exc}", raw)
                continue
            if from_posix(hit.created_at_i) is None:
                self.reject(f"implausible created_at_i {hit.created_at_i}", raw)
                continue
            hits.append(hit)
        return hits

    def _mention(self, hit: Hit) -> Mention | None:
        is_comment = "comment" in hit.tags or hit.comment_text is not None
        if is_comment:
            text = html_to_text(hit.comment_text or "")
        else:
            body = html_to_text(hit.story_text) if hit.story_text else ""
            text = "\n\n".join(part for part in (hit.title or "", body) if part)
        if not text:
            self.reject("hit without title or text", msgspec.to_builtins(hit))
            return None
        if self.options.keep == "watch":
            haystack = text if is_comment else f"{text}\n{hit.url or ''}"
            if not self.matcher.match(haystack):
                return None
        created = from_posix(hit.created_at_i)
        assert created is not None, "hits with an implausible time are rejected when decoded"
        extra: dict[str, Any] = {"kind": "comment" if is_comment else _kind(hit.tags)}
        if hit.url:
            extra["link"] = hit.url
        if hit.story_id is not None and is_comment:
            extra["story_id"] = f"hn:{hit.story_id}"
            if hit.story_title:
                extra["story_title"] = hit.story_title
        return Mention(
            id=f"hn:{hit.objectID}",
            source=SOURCE,
            created_at=created,
            text=text,
            author=Author(id=hit.author, handle=hit.author) if hit.author else None,
            url=f"https://news.ycombinator.com/item?id={hit.objectID}",
            in_reply_to=f"hn:{hit.parent_id}" if is_comment and hit.parent_id is not None else None,
            metrics=Metrics(likes=hit.points or 0, replies=hit.num_comments or 0),
            extra=extra,
        )


def _kind(tags: list[str]) -> str:
    for kind in ("story", "poll", "pollopt", "job", "show_hn", "ask_hn"):
        if kind in tags:
            return kind
    return "story"
