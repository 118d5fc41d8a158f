"""The Bluesky source: posts from a Jetstream websocket, filtered to what ``[watch]`` asks for."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

from sentineld.changes import MentionChange
from sentineld.components import ComponentContext, Emit, Source
from sentineld.model import Mention
from sentineld.options import Duration
from sentineld.sources_http import (
    HttpSourceOptions,
    Reconnector,
    SourceError,
    StreamClosed,
    StreamSilent,
    connect_websocket,
    get_json,
    open_session,
)
from sentineld.watch import Matcher

from .profiles import MAX_BATCH, ProfileCache
from .records import (
    POST_COLLECTION,
    Event,
    PostRecord,
    decode_event,
    decode_post,
    event_time,
    mention_id,
    mentioned_dids,
    quoted_uri,
    to_mention,
    uri_did,
)

if TYPE_CHECKING:
    import aiohttp


class BlueskyOptions(HttpSourceOptions):
    #: The Jetstream websocket endpoint (any of Bluesky's public instances, or your own).
    url: str = "wss://jetstream2.us-east.bsky.network/subscribe"
    #: The public AppView, for author profiles and for resolving the brand's handles to DIDs.
    api_url: str = "https://public.api.bsky.app"
    #: "watch": keep posts that match a [watch] subject, or that reply to, quote or mention the
    #: brand's own accounts (and the brand's own posts). "all": keep every post (heavy).
    keep: Literal["watch", "all"] = "watch"
    #: On reconnect, ask Jetstream for events from this long before the stored cursor
    #: (delivery is at-least-once; the core drops the repeats by id).
    rewind: Duration = Duration(5)
    #: Reconnect when the stream sends nothing for this long.
    silence_limit: Duration = Duration(60)
    #: Websocket ping interval; a connection whose pongs stop is dropped.
    heartbeat: Duration = Duration(30)
    #: Mentions per batch handed to the core, and the longest a kept post waits for a batch.
    batch_size: int = 100
    batch_wait: Duration = Duration(1)
    #: How often the stream position is stored while nothing relevant is posted.
    cursor_interval: Duration = Duration(5)
    #: Fetch author profiles (followers, follows, posts) so influence scoring has them.
    profiles: bool = True
    #: Profiles per getProfiles call (at most 25), cache size, and how long a profile is reused.
    profile_batch: int = MAX_BATCH
    profile_cache_size: Annotated[int, msgspec.Meta(ge=1)] = 50_000
    profile_ttl: Duration = Duration(6 * 3600)


@dataclass(slots=True)
class _Pending:
    """Kept posts, and edits and deletions of posts, waiting to be handed over, and the stream
    position after them."""

    items: list[tuple[Event, PostRecord]] = field(default_factory=list)
    changes: list[MentionChange] = field(default_factory=list)
    since: float = 0.0
    cursor: int | None = None


class BlueskySource(Source):
    """Follows Jetstream. The cursor is Jetstream's ``time_us`` of the last event read: every
    event before it is either stored or was filtered out."""

    type_name = "bluesky"
    description = "Bluesky posts from Jetstream, filtered to [watch], with author counts"
    Options = BlueskyOptions

    def __init__(self, options: BlueskyOptions, context: ComponentContext) -> None:
        super().__init__(options, context)
        self.options: BlueskyOptions = options
        self.matcher = Matcher(context.watch)
        accounts = [a.strip().lstrip("@") for a in context.watch.accounts]
        self.own_dids = {a for a in accounts if a.startswith("did:")}
        self.unresolved = [a for a in accounts if not a.startswith("did:") and "." in a]
        self.profiles = ProfileCache(
            options.api_url,
            size=options.profile_cache_size,
            ttl=options.profile_ttl,
            batch=options.profile_batch,
            log=self.log,
        )
        #: Kept posts not yet handed over; they survive a reconnection.
        self.pending = _Pending()
        self.events = 0
        self.kept = 0
        #: Edits and deletions of posts handed over (kept or not: the store sorts them out).
        self.changes = 0
        self.connections = 0

    # ------------------------------------------------------------------ run

    async def run(self, emit: Emit) -> None:
        session = open_session(self.options)
        reconnector = Reconnector(self, self.options)
        try:
            await reconnector.run(lambda: self._follow(session, emit, reconnector))
        finally:
            await session.close()

    def resume_from(self) -> int | None:
        """The Jetstream cursor to connect with: the position reached (posts read but not yet
        handed over wait in memory), else the stored cursor; rewound a little either way."""
        position = self.pending.cursor or (int(self.cursor) if self.cursor else None)
        if position is None:
            return None
        return max(0, position - int(self.options.rewind * 1_000_000))

    async def _follow(
        self, session: aiohttp.ClientSession, emit: Emit, reconnector: Reconnector
    ) -> None:
        import aiohttp

        await self._resolve_own_handles(session)
        params = [("wantedCollections", POST_COLLECTION)]
        start = self.resume_from()
        if start is not None:
            params.append(("cursor", str(start)))
        async with connect_websocket(
            session, self.options.url, params=params, heartbeat=self.options.heartbeat
        ) as ws:
            self.connections += 1
            self.log.info("connected to Jetstream", url=self.options.url, cursor=start)
            pending = self.pending
            last_data = last_commit = time.monotonic()
            while True:
                now = time.monotonic()
                deadline = last_data + self.options.silence_limit
                if pending.items or pending.changes:
                    deadline = min(deadline, pending.since + self.options.batch_wait)
                try:
                    message = await ws.receive(timeout=max(0.001, deadline - now))
                except TimeoutError:
                    message = None
                now = time.monotonic()
                if message is not None:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        last_data = now
                        reconnector.progressed()
                        self._read(message.data, pending, now)
                    elif message.type == aiohttp.WSMsgType.BINARY:
                        last_data = now
                        self.reject("binary message (compressed stream?) not understood",
                                    message.data[:64])
                    elif message.type == aiohttp.WSMsgType.ERROR:
                        raise SourceError(f"websocket error: {ws.exception()!r}")
                    else:
                        raise StreamClosed(f"Jetstream closed the stream (code {ws.close_code})")
                elif now - last_data >= self.options.silence_limit:
                    await self._flush(session, emit, pending)
                    raise StreamSilent(
                        f"Jetstream said nothing for {self.options.silence_limit:g}s"
                    )
                due = (pending.items or pending.changes) and (
                    len(pending.items) + len(pending.changes) >= self.options.batch_size
                    or now - pending.since >= self.options.batch_wait
                )
                idle_commit = (
                    pending.cursor is not None
                    and now - last_commit >= self.options.cursor_interval
                )
                if due or idle_commit:
                    await self._flush(session, emit, pending)
                    last_commit = time.monotonic()

    # ------------------------------------------------------------------ events

    def _read(self, raw: str | bytes, pending: _Pending, now: float) -> None:
        self.events += 1
        try:
            event = decode_event(raw)
        except msgspec.DecodeError as exc:
            self.reject(f"not a Jetstream event: {exc}", raw)
            return
        if event_time(event.time_us) is None:
            # Never let such a time become the cursor: a reconnection would ask for the future.
            self.reject(f"implausible time_us {event.time_us}", raw)
            return
        kept = self._post_of(event, raw)
        change = self._change_of(event, raw) if kept is None else None
        if (kept is not None or change is not None) and not (pending.items or pending.changes):
            pending.since = now
        if kept is not None:
            pending.items.append((event, kept))
        elif change is not None:
            pending.changes.append(change)
        elif event.kind == "identity" and event.identity is not None and event.identity.handle:
            self.profiles.rename(event.did, event.identity.handle)
        pending.cursor = event.time_us

    def _post_of(self, event: Event, raw: str | bytes) -> PostRecord | None:
        """The post this event creates, if it is one the [watch] section asks for."""
        commit = event.commit
        if event.kind != "commit" or commit is None:
            return None
        if commit.collection != POST_COLLECTION or commit.operation != "create":
            return None
        post = self._record(event, raw, "post creation")
        return post if post is not None and self.wanted(event.did, post) else None

    def _change_of(self, event: Event, raw: str | bytes) -> MentionChange | None:
        """The edit or deletion of a post this event reports. It is handed over whether or not
        the post was kept: the store ignores (and counts) changes of posts it never stored."""
        commit = event.commit
        if event.kind != "commit" or commit is None or commit.collection != POST_COLLECTION:
            return None
        at = event_time(event.time_us)
        assert at is not None, "events with an implausible time_us are rejected before"
        if commit.operation == "delete":
            return MentionChange.deleted(mention_id(event.did, commit.rkey), at)
        if commit.operation != "update":
            return None
        post = self._record(event, raw, "post update")
        if post is None:
            return None
        return MentionChange.edited(mention_id(event.did, commit.rkey), post.text, at)

    def _record(self, event: Event, raw: str | bytes, what: str) -> PostRecord | None:
        """The post record a create or update commit carries; None, rejected, if it has none
        or it does not decode."""
        commit = event.commit
        assert commit is not None
        if not commit.record:
            self.reject(f"{what} without a record", raw, did=event.did, rkey=commit.rkey)
            return None
        try:
            return decode_post(commit.record)
        except msgspec.DecodeError as exc:
            self.reject(f"malformed post record: {exc}", raw, did=event.did, rkey=commit.rkey)
            return None

    def wanted(self, did: str, post: PostRecord) -> bool:
        if self.options.keep == "all" or did in self.own_dids:
            return True
        if self.matcher.match(post.text):
            return True
        own = self.own_dids
        if not own:
            return False
        if post.reply is not None:
            refs = [post.reply.parent.uri] + ([post.reply.root.uri] if post.reply.root else [])
            if any(uri_did(uri) in own for uri in refs):
                return True
        quoted = quoted_uri(post.embed)
        if quoted is not None and uri_did(quoted) in own:
            return True
        return bool(mentioned_dids(post.facets) & own)

    async def _flush(
        self, session: aiohttp.ClientSession, emit: Emit, pending: _Pending
    ) -> None:
        """Hand the kept posts to the core with the position after them."""
        if pending.cursor is None:
            return
        items, changes, cursor = pending.items, pending.changes, pending.cursor
        pending.items, pending.changes, pending.cursor = [], [], None
        if items and self.options.profiles:
            await self.profiles.fill(session, (event.did for event, _ in items))
        mentions: list[Mention] = []
        for event, post in items:
            profile = self.profiles.get(event.did) if self.options.profiles else None
            mentions.append(to_mention(event, post, profile))
        self.kept += len(mentions)
        if changes:
            self.changes += len(changes)
            await emit(mentions, str(cursor), changes=changes)
        else:
            await emit(mentions, str(cursor))

    async def _resolve_own_handles(self, session: aiohttp.ClientSession) -> None:
        """Turn the brand's handles in [watch] accounts into DIDs (replies point at DIDs)."""
        endpoint = self.options.api_url.rstrip("/") + "/xrpc/com.atproto.identity.resolveHandle"
        for handle in list(self.unresolved):
            try:
                response = await get_json(session, endpoint, params={"handle": handle})
                did = response.data.get("did") if isinstance(response.data, dict) else None
            except (SourceError, OSError, TimeoutError) as exc:
                self.log.warning("cannot resolve the brand's handle yet; will retry",
                                 handle=handle, error=str(exc) or type(exc).__name__)
                continue
            if isinstance(did, str) and did.startswith("did:"):
                self.own_dids.add(did)
                self.unresolved.remove(handle)
                self.log.info("resolved the brand's handle", handle=handle, did=did)
