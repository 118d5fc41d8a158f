"""The Mastodon source: hashtag timelines and the account's notifications, live through the
streaming API (server-sent events), caught up and backed up by REST polling.

Each feed (a hashtag, or the notifications) runs the same loop: open the stream, catch up over
REST from the stored position (``min_id`` paging, oldest page first), then read the stream. The
stream is opened *before* the catch-up, so nothing posted in between falls through the gap
(repeats are dropped by id). When the streaming endpoint cannot be used (refused, 401, not an
event stream), the feed is polled over REST instead and streaming is tried again later.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from sentineld.changes import MentionChange
from sentineld.components import ComponentContext, Emit, Source
from sentineld.options import Duration, Secret
from sentineld.sources_http import (
    HttpSourceOptions,
    HttpStatusError,
    MalformedPayload,
    RateBudget,
    Reconnector,
    check_status,
    get_json,
    iter_sse,
    open_session,
    plausible_time,
)
from sentineld.watch import Matcher

from .entities import SOURCE, Notification, Status, id_key, newest, to_mention

if TYPE_CHECKING:
    import aiohttp

    from sentineld.model import Mention


class MastodonOptions(HttpSourceOptions):
    #: The instance whose API is read.
    instance: str = "https://mastodon.social"
    #: The streaming API's base URL. Empty: ask the instance (/api/v2/instance), else use
    #: the instance URL itself.
    streaming_url: str = ""
    #: Hashtags (without "#") to follow.
    hashtags: list[str] = []
    #: An access token (read:statuses, read:notifications): follows the account's notifications
    #: (people mentioning it) and is sent with every request. Many servers require it for
    #: streaming.
    access_token: Secret | None = None
    #: Follow the account's notifications (mentions) when a token is set.
    notifications: bool = True
    #: Use the streaming API; false polls REST only.
    streaming: bool = True
    #: "all" keeps every status of the followed feeds; "watch" only those matching [watch] (or
    #: mentioning the brand's accounts). Notifications are always kept.
    keep: Literal["all", "watch"] = "all"
    #: Reconnect a stream that sends nothing (not even its heartbeat) for this long.
    silence_limit: Duration = Duration(60)
    #: How often a feed is polled while streaming is unavailable.
    poll_interval: Duration = Duration(60)
    #: While polling, try streaming again after this long.
    streaming_retry: Duration = Duration(600)
    #: Statuses per REST page (Mastodon serves at most 40), and pages per catch-up.
    page_limit: int = 40
    max_pages: int = 25

    def __post_init__(self) -> None:
        if not self.hashtags and self.access_token is None:
            raise ValueError("set hashtags, or an access_token to follow the notifications")


@dataclass(slots=True)
class _Feed:
    """One followed timeline: a hashtag's statuses or the account's notifications."""

    key: str
    stream_path: str
    stream_params: dict[str, str]
    rest_path: str
    rest_params: list[tuple[str, str]]
    notifications: bool = False
    stream_retry_at: float = 0.0


class MastodonSource(Source):
    """The cursor maps each feed to the id of the newest status (or notification) stored."""

    type_name = "mastodon"
    description = "Mastodon hashtags and notifications: streaming API with REST fallback"
    Options = MastodonOptions

    def __init__(self, options: MastodonOptions, context: ComponentContext) -> None:
        super().__init__(options, context)
        self.options: MastodonOptions = options
        import yarl

        base = options.instance if "://" in options.instance else f"https://{options.instance}"
        self.base = base.rstrip("/")
        self.host = yarl.URL(self.base).host or options.instance
        self.matcher = Matcher(context.watch)
        self.own_accounts = {a.lower().lstrip("@") for a in context.watch.accounts}
        self.budget = RateBudget(max_wait=options.retry_after_max)
        self.streaming_base: str | None = options.streaming_url.rstrip("/") or None
        self.feeds = [
            _Feed(f"tag:{tag.lstrip('#')}", "/api/v1/streaming/hashtag",
                  {"tag": tag.lstrip("#")}, f"/api/v1/timelines/tag/{tag.lstrip('#')}", [])
            for tag in options.hashtags
        ]
        if options.access_token is not None and options.notifications:
            self.feeds.append(_Feed(
                "notifications", "/api/v1/streaming/user/notification", {},
                "/api/v1/notifications", [("types[]", "mention"), ("types[]", "status")],
                notifications=True,
            ))
        self.positions: dict[str, str] = {}
        self.streamed = 0
        self.polled = 0
        self.deletions = 0
        self.edits = 0

    # ------------------------------------------------------------------ run

    async def run(self, emit: Emit) -> None:
        headers = {}
        if self.options.access_token is not None:
            headers["Authorization"] = f"Bearer {self.options.access_token.reveal()}"
        session = open_session(self.options, headers=headers)
        self.positions = json.loads(self.cursor) if self.cursor else {}
        reconnector = Reconnector(self, self.options)
        try:
            await reconnector.run(lambda: self._follow_all(session, emit, reconnector))
        finally:
            await session.close()

    async def _follow_all(
        self, session: aiohttp.ClientSession, emit: Emit, reconnector: Reconnector
    ) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for feed in self.feeds:
                    group.create_task(self._follow(session, emit, reconnector, feed))
        except* Exception as failures:
            raise failures.exceptions[0] from None

    async def _follow(
        self, session: aiohttp.ClientSession, emit: Emit, reconnector: Reconnector, feed: _Feed
    ) -> None:
        while True:
            if self.options.streaming and time.monotonic() >= feed.stream_retry_at:
                response = await self._open_stream(session, feed)
                if response is not None:
                    async with response:
                        await self._catch_up(session, emit, feed)
                        reconnector.progressed()
                        await self._read_stream(emit, feed, response, reconnector)
                    continue
            await self._catch_up(session, emit, feed)
            self.polled += 1
            reconnector.progressed()
            if self.finite:
                return
            await asyncio.sleep(self.options.poll_interval)

    # ------------------------------------------------------------------ streaming

    async def _open_stream(
        self, session: aiohttp.ClientSession, feed: _Feed
    ) -> aiohttp.ClientResponse | None:
        """The event-stream response, or None (and a later retry) when streaming is unusable."""
        import aiohttp

        base = await self._streaming_base(session)
        try:
            response = await session.get(
                base + feed.stream_path,
                params=feed.stream_params,
                headers={"Accept": "text/event-stream"},
                timeout=aiohttp.ClientTimeout(total=None, connect=self.options.connect_timeout),
            )
        except (aiohttp.ClientConnectionError, OSError, TimeoutError) as exc:
            return self._no_streaming(feed, f"cannot connect: {exc!r}")
        try:
            await check_status(response)
        except HttpStatusError as exc:
            response.release()
            return self._no_streaming(feed, str(exc))
        except BaseException:
            response.release()
            raise
        if response.content_type != "text/event-stream":
            response.release()
            return self._no_streaming(feed, f"answered {response.content_type}, not an event stream")
        self.log.info("streaming", feed=feed.key, url=str(response.url))
        return response

    def _no_streaming(self, feed: _Feed, reason: str) -> None:
        feed.stream_retry_at = time.monotonic() + self.options.streaming_retry
        self.log.warning("streaming unavailable; polling over REST instead", feed=feed.key,
                         reason=reason, retry_streaming_in_s=self.options.streaming_retry)
        return None

    async def _streaming_base(self, session: aiohttp.ClientSession) -> str:
        """Where the streaming API lives: configured, else announced by the instance."""
        if self.streaming_base is None:
            announced = None
            try:
                response = await get_json(session, self.base + "/api/v2/instance",
                                          budget=self.budget)
                urls = (response.data.get("configuration") or {}).get("urls") or {}
                announced = urls.get("streaming")
            except (MalformedPayload, HttpStatusError, AttributeError) as exc:
                self.log.info("instance does not announce a streaming URL; using its own",
                              error=str(exc))
            if isinstance(announced, str) and announced:
                announced = announced.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
            self.streaming_base = (announced or self.base).rstrip("/")
        return self.streaming_base

    async def _read_stream(
        self, emit: Emit, feed: _Feed, response: aiohttp.ClientResponse, reconnector: Reconnector
    ) -> None:
        async for event in iter_sse(response, silence_limit=self.options.silence_limit):
            reconnector.progressed()
            if event.event == "delete":
                change = self._deletion(event.data, feed)
                if change is not None:
                    self.deletions += 1
                    await self._emit(emit, feed, [], [], changes=[change])
            elif event.event == "status.update":
                change = self._edit(event.data, feed)
                if change is not None:
                    self.edits += 1
                    await self._emit(emit, feed, [], [], changes=[change])
            elif event.event == "update" and not feed.notifications:
                status = self._decode(event.data, Status, feed)
                if status is not None:
                    self.streamed += 1
                    await self._emit(emit, feed, self._keep([status]), [status.id])
            elif event.event == "notification" and feed.notifications:
                notification = self._decode(event.data, Notification, feed)
                if notification is not None:
                    self.streamed += 1
                    await self._emit(emit, feed, self._from_notifications([notification]),
                                     [notification.id])

    def _deletion(self, data: str, feed: _Feed) -> MentionChange | None:
        """A ``delete`` event: its data is the deleted status's id (Mastodon gives no time)."""
        status_id = data.strip()
        if not status_id or len(status_id) > 64 or any(c.isspace() or c in "{}\"" for c in status_id):
            self.reject("malformed delete event: its data is not a status id", data, feed=feed.key)
            return None
        return MentionChange.deleted(f"{SOURCE}:{self.host}:{status_id}", datetime.now(UTC))

    def _edit(self, data: str, feed: _Feed) -> MentionChange | None:
        """A ``status.update`` event: the edited status, whose text replaces the stored one."""
        status = self._decode(data, Status, feed)
        if status is None:
            return None
        mention = self._mention(status)
        if mention is None:
            return None
        edited_at = plausible_time(status.edited_at) if status.edited_at else None
        return MentionChange.edited(mention.id, mention.text, edited_at or datetime.now(UTC))

    def _decode(self, data: str, kind: type[Any], feed: _Feed) -> Any:
        try:
            return msgspec.json.decode(data, type=kind)
        except msgspec.DecodeError as exc:
            self.reject(f"malformed {kind.__name__} event: {exc}", data, feed=feed.key)
            return None

    # ------------------------------------------------------------------ REST

    async def _catch_up(self, session: aiohttp.ClientSession, emit: Emit, feed: _Feed) -> None:
        """Everything newer than the stored position, oldest page first (``min_id`` paging,
        following the Link header's ``prev``). Without a position: the newest page only."""
        position = self.positions.get(feed.key)
        url: str | None = self.base + feed.rest_path
        params: list[tuple[str, str]] | None = [*feed.rest_params,
                                                ("limit", str(self.options.page_limit))]
        if position is not None:
            params.append(("min_id", position))
        for _ in range(self.options.max_pages):
            assert url is not None
            response = await get_json(session, url, params=params, budget=self.budget)
            items = self._page(response.data, feed)
            if not items:
                return
            ids = [item.id for item in items]
            if feed.notifications:
                mentions = self._from_notifications(items)
            else:
                mentions = self._keep(items)
            await self._emit(emit, feed, mentions, ids)
            if position is None or len(items) < self.options.page_limit:
                return
            url, params = response.links.get("prev"), None
            if url is None:
                url = self.base + feed.rest_path
                params = [*feed.rest_params, ("limit", str(self.options.page_limit)),
                          ("min_id", self.positions[feed.key])]
        self.log.warning("catch-up stopped after max_pages; the rest comes with the next one",
                         feed=feed.key, pages=self.options.max_pages)

    def _page(self, data: Any, feed: _Feed) -> list[Any]:
        if not isinstance(data, list):
            raise MalformedPayload(f"{feed.rest_path} did not answer a list", data)
        kind = Notification if feed.notifications else Status
        items = []
        for raw in data:
            try:
                items.append(msgspec.convert(raw, kind))
            except msgspec.ValidationError as exc:
                self.reject(f"malformed {kind.__name__}: {exc}", raw, feed=feed.key)
        items.sort(key=lambda item: id_key(item.id))
        return items

    # ------------------------------------------------------------------ mentions

    def _mention(self, status: Status) -> Mention | None:
        try:
            return to_mention(status, self.host, datetime.now(UTC))
        except ValueError as exc:
            self.reject(str(exc), msgspec.to_builtins(status))
            return None

    def _keep(self, statuses: list[Status]) -> list[Mention]:
        mentions = []
        for status in statuses:
            mention = self._mention(status)
            if mention is not None and (self.options.keep == "all"
                                        or self._wanted(status, mention)):
                mentions.append(mention)
        return mentions

    def _wanted(self, status: Status, mention: Mention) -> bool:
        if self.matcher.match(mention.text):
            return True
        shown = status.reblog or status
        return any(ref.acct.lower() in self.own_accounts or ref.username.lower()
                   in self.own_accounts for ref in shown.mentions)

    def _from_notifications(self, notifications: list[Notification]) -> list[Mention]:
        mentions = []
        for notification in notifications:
            if notification.type in ("mention", "status") and notification.status is not None:
                mention = self._mention(notification.status)
                if mention is not None:
                    mentions.append(mention)
        return mentions

    async def _emit(self, emit: Emit, feed: _Feed, mentions: list[Mention], ids: list[str],
                    changes: list[MentionChange] | None = None) -> None:
        """Hand mentions over with the feed's new position. The position is recorded only once
        the batch is queued, so a cursor another feed emits meanwhile is never ahead of it."""
        top = newest(ids)
        current = self.positions.get(feed.key)
        if top is not None and (current is None or id_key(top) > id_key(current)):
            position = top
        else:
            position = current
        cursor = {**self.positions}
        if position is not None:
            cursor[feed.key] = position
        if changes:
            await emit(mentions, json.dumps(cursor, sort_keys=True), changes=changes)
        else:
            await emit(mentions, json.dumps(cursor, sort_keys=True))
        if position is not None:
            self.positions[feed.key] = position
