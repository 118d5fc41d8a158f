"""The Reddit source: new posts and comments of subreddits, and search results, by polling
Reddit's JSON listings (anonymously, or through OAuth client credentials)."""

from __future__ import annotations

import base64
import json
import re
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from sentineld.components import ComponentContext, Emit, Source
from sentineld.options import Duration, Secret
from sentineld.sources_http import (
    HttpSourceOptions,
    HttpStatusError,
    MalformedPayload,
    RateBudget,
    Reconnector,
    SourceError,
    from_posix,
    get_json,
    open_session,
)
from sentineld.watch import Matcher

from .listing import Listing, Thing, to_mention

if TYPE_CHECKING:
    import aiohttp

    from sentineld.model import Mention


class RedditOptions(HttpSourceOptions, kw_only=True):
    #: Subreddits (without "r/") whose new posts are read.
    subreddits: list[str] = []
    #: Also read each subreddit's new comments.
    comments: bool = True
    #: Site-wide searches (newest first), e.g. ["acme air", "acmeair"].
    queries: list[str] = []
    #: "watch" keeps posts and comments whose text matches a [watch] subject; "all" keeps all
    #: (right for the brand's own subreddit).
    keep: Literal["watch", "all"] = "watch"
    #: Your Reddit username: Reddit's API rules require it in the User-Agent.
    reddit_username: str
    #: The app id in the User-Agent ("<platform>:<app id>:<version> (by /u/<username>)").
    app_id: str = "sentineld"
    #: A complete User-Agent instead of the one built from the above.
    user_agent: str = ""
    #: OAuth "script" or "web" app credentials (client credentials grant). Without them the
    #: public JSON listings are read anonymously (with a lower rate limit).
    client_id: Secret | None = None
    client_secret: Secret | None = None
    #: Anonymous site, OAuth API and token endpoint.
    base_url: str = "https://www.reddit.com"
    oauth_url: str = "https://oauth.reddit.com"
    token_url: str = "https://www.reddit.com/api/v1/access_token"
    #: How often each listing is read.
    poll_interval: Duration = Duration(60)
    #: Things per page (Reddit serves at most 100), and pages read per listing and poll when
    #: catching up; on the very first start only the first page is read.
    limit: int = 100
    max_pages: int = 10
    #: Requests kept in reserve: when X-Ratelimit-Remaining falls below this, the source waits
    #: for X-Ratelimit-Reset.
    rate_reserve: float = 1.0

    def __post_init__(self) -> None:
        if not self.subreddits and not self.queries:
            raise ValueError("set at least one of subreddits or queries")
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("client_id and client_secret go together")
        if not self.reddit_username.strip():
            raise ValueError("reddit_username is required in Reddit's User-Agent")
        for name in self.subreddits:
            if not re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", name):
                raise ValueError(f"subreddits are names without \"r/\", such as \"acmeair\" (or \"a+b\"), got {name!r}")


@dataclass(slots=True)
class _Feed:
    """One listing to follow: its cursor key, path and parameters."""

    key: str
    path: str
    params: dict[str, str]


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float


class RedditSource(Source):
    """Polls listings. The cursor maps each listing to the fullname and ``created_utc`` of the
    newest thing read from it; a listing is read back (``after`` paging by fullname) until that
    thing or an older one shows up."""

    type_name = "reddit"
    description = "Reddit posts and comments: subreddits' new listings and searches"
    Options = RedditOptions

    def __init__(self, options: RedditOptions, context: ComponentContext) -> None:
        super().__init__(options, context)
        self.options: RedditOptions = options
        self.matcher = Matcher(context.watch)
        self.budget = RateBudget(reserve=options.rate_reserve, max_wait=options.retry_after_max)
        self.token: _Token | None = None
        self.requests = 0
        self.feeds = [
            _Feed(f"r/{sub}/new", f"/r/{sub}/new", {}) for sub in options.subreddits
        ]
        if options.comments:
            self.feeds += [
                _Feed(f"r/{sub}/comments", f"/r/{sub}/comments", {}) for sub in options.subreddits
            ]
        self.feeds += [
            _Feed(f"search:{query}", "/search", {"q": query, "sort": "new", "type": "link"})
            for query in options.queries
        ]

    @property
    def user_agent(self) -> str:
        if self.options.user_agent:
            return self.options.user_agent
        from sentineld import __version__

        return (f"{sys.platform}:{self.options.app_id}:{__version__} "
                f"(by /u/{self.options.reddit_username.removeprefix('/u/')})")

    async def run(self, emit: Emit) -> None:
        session = open_session(self.options, user_agent=self.user_agent)
        try:
            await Reconnector(self, self.options).poll(
                lambda: self.poll(session, emit), self.options.poll_interval
            )
        finally:
            await session.close()

    def positions(self) -> dict[str, list[Any]]:
        return json.loads(self.cursor) if self.cursor else {}

    async def poll(self, session: aiohttp.ClientSession, emit: Emit) -> None:
        for feed in self.feeds:
            positions = self.positions()
            mentions, newest = await self._read_feed(session, feed, positions.get(feed.key))
            if newest is not None:
                positions[feed.key] = newest
            await emit(mentions, json.dumps(positions, sort_keys=True))

    async def _read_feed(
        self, session: aiohttp.ClientSession, feed: _Feed, position: list[Any] | None
    ) -> tuple[list[Mention], list[Any] | None]:
        """New things of one listing, oldest first, and the new position."""
        seen_name, seen_time = (position[0], float(position[1])) if position else (None, None)
        fresh: list[tuple[str, Thing]] = []
        after: str | None = None
        reached = False
        for _ in range(self.options.max_pages):
            listing = await self._listing(session, feed, after)
            for child in listing.data.children:
                thing = self._thing(child.kind, child.data)
                if thing is None:
                    continue
                if seen_time is not None and (
                    thing.name == seen_name or thing.created_utc < seen_time
                ):
                    reached = True
                    break
                fresh.append((child.kind, thing))
            after = listing.data.after
            if reached or position is None or after is None:
                break
        else:
            self.log.warning("more new things than max_pages reads; older ones are skipped",
                             listing=feed.key, pages=self.options.max_pages)
        newest = [fresh[0][1].name, fresh[0][1].created_utc] if fresh else None
        mentions = []
        for kind, thing in reversed(fresh):
            mention = to_mention(kind, thing)
            if self.options.keep == "all" or self.matcher.match(mention.text):
                mentions.append(mention)
        return mentions, newest

    def _thing(self, kind: str, data: dict[str, Any]) -> Thing | None:
        if kind not in ("t1", "t3"):
            return None
        try:
            thing = msgspec.convert(data, Thing)
        except msgspec.ValidationError as exc:
            self.reject(f"malformed {kind}: {exc}", data)
            return None
        if from_posix(thing.created_utc) is None:
            self.reject(f"implausible created_utc {thing.created_utc}", data)
            return None
        return thing

    async def _listing(
        self, session: aiohttp.ClientSession, feed: _Feed, after: str | None
    ) -> Listing:
        params = {**feed.params, "limit": str(self.options.limit), "raw_json": "1"}
        if after:
            params["after"] = after
        for attempt in (1, 2):
            url, headers = await self._endpoint(session, feed.path)
            try:
                response = await get_json(session, url, params=params, headers=headers,
                                          budget=self.budget)
                break
            except HttpStatusError as exc:
                if exc.status == 401 and self.token is not None and attempt == 1:
                    self.token = None  # revoked or expired early: fetch a new one, once
                    continue
                raise
        self.requests += 1
        try:
            listing = msgspec.convert(response.data, Listing)
        except msgspec.ValidationError as exc:
            raise MalformedPayload(f"not a Reddit listing: {exc}", response.data) from None
        if listing.kind != "Listing":
            raise MalformedPayload(f"expected a Listing, got {listing.kind!r}", response.data)
        return listing

    async def _endpoint(
        self, session: aiohttp.ClientSession, path: str
    ) -> tuple[str, dict[str, str]]:
        """The URL and headers for a listing: OAuth API with a bearer token when credentials
        are configured, else the anonymous ``.json`` form."""
        if self.options.client_id is None:
            return f"{self.options.base_url.rstrip('/')}{path}.json", {}
        token = await self._token(session)
        return (f"{self.options.oauth_url.rstrip('/')}{path}",
                {"Authorization": f"bearer {token}"})

    async def _token(self, session: aiohttp.ClientSession) -> str:
        """An application-only token (client credentials grant), renewed before it expires."""
        if self.token is not None and time.monotonic() < self.token.expires_at - 60:
            return self.token.value
        assert self.options.client_id is not None and self.options.client_secret is not None
        response = await get_json(
            session,
            self.options.token_url,
            method="POST",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": _basic_auth(self.options.client_id.reveal(),
                                                  self.options.client_secret.reveal())},
        )
        data = response.data
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            error = data.get("error") if isinstance(data, dict) else data
            raise SourceError(f"Reddit gave no access token (error: {error!r}); check "
                              "client_id and client_secret")
        expires_in = float(data.get("expires_in") or 3600)
        self.token = _Token(data["access_token"], time.monotonic() + expires_in)
        self.log.info("got a Reddit OAuth token", expires_in_s=expires_in,
                      scope=data.get("scope"))
        return self.token.value


def _basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
