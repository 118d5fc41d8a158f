"""What every source that talks HTTP or websockets needs, in one place.

- `HttpSourceOptions`: the options such a source shares (User-Agent, timeouts, backoff); a
  source's own options subclass it.
- `open_session`: an aiohttp session with the User-Agent and timeouts set.
- `get_json`: one GET that turns 429 / ``Retry-After`` into `RateLimited`, other errors into
  `HttpStatusError`, a body that is not JSON into `MalformedPayload`, and feeds the
  ``X-RateLimit-*`` headers to a `RateBudget`.
- `RateBudget`: the request budget a server announces; waits for the reset when it runs out.
- `until_silent` / `iter_sse`: read a stream, raising `StreamSilent` when it says nothing (not
  even a heartbeat) for longer than a limit, so that a stalled connection is reconnected.
- `Reconnector`: runs "connect and consume" forever under tenacity, with exponential backoff and
  jitter, the server's ``Retry-After`` honoured, and the source's health kept up to date.

aiohttp and tenacity are imported inside the functions that use them, so that importing a
plugin (``sentineld check``) stays fast.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

from sentineld.components import HealthState, Source
from sentineld.options import Duration, Options

if TYPE_CHECKING:
    import aiohttp
    import tenacity

__all__ = [
    "DEFAULT_USER_AGENT",
    "HttpSourceOptions",
    "HttpStatusError",
    "JsonResponse",
    "MalformedPayload",
    "RateBudget",
    "RateLimited",
    "Reconnector",
    "SourceError",
    "SseEvent",
    "StreamClosed",
    "StreamSilent",
    "check_status",
    "from_posix",
    "plausible_time",
    "connect_websocket",
    "get_json",
    "iter_sse",
    "open_session",
    "retry_after_seconds",
    "until_silent",
]


def _default_user_agent() -> str:
    from sentineld import __version__

    return f"sentineld/{__version__} (social customer care daemon)"


DEFAULT_USER_AGENT: Final = _default_user_agent()


class HttpSourceOptions(Options):
    """Options shared by every HTTP source (subclass it to add the source's own)."""

    #: The User-Agent header sent with every request.
    user_agent: str = DEFAULT_USER_AGENT
    #: Longest wait for a TCP/TLS connection to open.
    connect_timeout: Duration = Duration(10)
    #: Longest wait for the next bytes of a response.
    read_timeout: Duration = Duration(60)
    #: First wait before reconnecting after a failure; it doubles on each consecutive failure.
    backoff_initial: Duration = Duration(1)
    #: Longest wait between reconnection attempts.
    backoff_max: Duration = Duration(300)
    #: Longest wait a server may impose through Retry-After or X-RateLimit-Reset.
    retry_after_max: Duration = Duration(3600)
    #: Consecutive failures after which health turns from "degraded" to "failing".
    failing_after: int = 3


# --------------------------------------------------------------------------- errors


class SourceError(Exception):
    """A transport problem that reconnecting (after a wait) may cure."""


class RateLimited(SourceError):
    """The server said "too many requests"; `retry_after` is how long it asked us to wait."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HttpStatusError(SourceError):
    """A response with an error status (other than rate limiting)."""

    def __init__(self, status: int, url: str, body: str = "") -> None:
        detail = f": {body}" if body else ""
        super().__init__(f"HTTP {status} from {url}{detail}")
        self.status = status
        self.url = url


class MalformedPayload(SourceError):
    """A response or message that does not have the shape the protocol promises."""

    def __init__(self, reason: str, sample: object = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sample = sample


class StreamSilent(SourceError):
    """A stream sent nothing, not even a heartbeat, for longer than its silence limit."""


class StreamClosed(SourceError):
    """The server ended a stream that should go on forever."""


# --------------------------------------------------------------------------- event times

#: Event times a platform may plausibly report. Outside, a time is a bug or an attack (and some
#: cannot even be converted to UTC or to POSIX seconds, which every later stage needs).
EARLIEST: Final = datetime(1970, 1, 2, tzinfo=UTC)
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC)


def from_posix(seconds: float) -> datetime | None:
    """An aware UTC datetime from POSIX seconds, or None when it is not a plausible time."""
    if not math.isfinite(seconds) or not EARLIEST.timestamp() <= seconds <= LATEST.timestamp():
        return None
    return datetime.fromtimestamp(seconds, UTC)


def plausible_time(moment: datetime | None) -> datetime | None:
    """`moment` in UTC, or None when it is naive, cannot be converted, or is not plausible."""
    if moment is None or moment.tzinfo is None:
        return None
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return utc if EARLIEST <= utc <= LATEST else None


# --------------------------------------------------------------------------- rate limits


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils

    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _reset_seconds(value: str, now: float) -> float | None:
    """``X-RateLimit-Reset`` in any of its dialects: seconds from now (Reddit), a POSIX time
    (GitHub and others) or an ISO 8601 time (Mastodon)."""
    try:
        number = float(value)
    except ValueError:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now
        except ValueError:
            return None
    return number - now if number > 1e9 else number


@dataclass(slots=True)
class RateBudget:
    """The request budget a server announces in ``X-RateLimit-Remaining`` / ``-Reset``.

    `update` reads the headers of each response; `wait` sleeps until the window resets when
    fewer than `reserve` requests are left, so the source never provokes a 429 it can foresee.
    """

    reserve: float = 1.0
    max_wait: float = 3600.0
    remaining: float | None = None
    reset_at: float | None = None  # time.monotonic() when the window resets

    def update(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("X-RateLimit-Remaining")
        reset = headers.get("X-RateLimit-Reset")
        if remaining is None or reset is None:
            return
        try:
            self.remaining = float(remaining)
        except ValueError:
            return
        seconds = _reset_seconds(reset.strip(), time.time())
        self.reset_at = None if seconds is None else time.monotonic() + max(0.0, seconds)

    def delay(self) -> float:
        """Seconds to wait before the next request (0 while the budget lasts)."""
        if self.remaining is None or self.reset_at is None or self.remaining >= self.reserve:
            return 0.0
        return min(self.max_wait, max(0.0, self.reset_at - time.monotonic()))

    async def wait(self) -> None:
        delay = self.delay()
        if delay > 0:
            await asyncio.sleep(delay)
            self.remaining = None


# --------------------------------------------------------------------------- requests


def open_session(
    options: HttpSourceOptions,
    *,
    user_agent: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> aiohttp.ClientSession:
    """An aiohttp session with the User-Agent and the connect/read timeouts of `options`.

    There is no overall timeout: streams stay open for days; `read_timeout` bounds each read.
    """
    import aiohttp

    timeout = aiohttp.ClientTimeout(
        total=None, connect=options.connect_timeout, sock_read=options.read_timeout
    )
    agent = user_agent or options.user_agent
    return aiohttp.ClientSession(
        headers={"User-Agent": agent, **(headers or {})}, timeout=timeout
    )


@dataclass(slots=True)
class JsonResponse:
    """A decoded JSON body with what paging and rate limiting need from the response."""

    data: Any
    headers: Mapping[str, str]
    links: Mapping[str, str] = field(default_factory=dict)  # rel -> URL (the Link header)
    url: str = ""


async def check_status(response: aiohttp.ClientResponse) -> None:
    """Raise `RateLimited` for 429 (or 503 with Retry-After), `HttpStatusError` for the rest."""
    if response.status < 400:
        return
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if response.status == 429 or (response.status == 503 and retry_after is not None):
        raise RateLimited(f"HTTP {response.status} from {response.url.host}", retry_after)
    try:
        body = (await response.text(errors="replace"))[:200]
    except Exception:  # noqa: BLE001 - the status is what matters; the body is a courtesy
        body = ""
    raise HttpStatusError(response.status, str(response.url.with_query(None)), body.strip())


async def get_json(
    session: aiohttp.ClientSession,
    url: str,
    *,
    params: Any = None,
    headers: Mapping[str, str] | None = None,
    budget: RateBudget | None = None,
    method: str = "GET",
    data: Any = None,
) -> JsonResponse:
    """One request whose answer must be JSON. Waits for `budget` first and updates it after."""
    if budget is not None:
        await budget.wait()
    async with session.request(method, url, params=params, headers=headers, data=data) as response:
        if budget is not None:
            budget.update(response.headers)
        await check_status(response)
        body = await response.read()
        links = {
            str(rel): str(link.get("url"))
            for rel, link in response.links.items()
            if link.get("url") is not None
        }
        headers_copy = dict(response.headers)
        final_url = str(response.url)
    try:
        return JsonResponse(msgspec.json.decode(body), headers_copy, links, final_url)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"response from {url} is not JSON: {exc}", body[:200]) from None
    except RecursionError:
        raise MalformedPayload(f"response from {url} is JSON nested too deeply", body[:200]) from None


# --------------------------------------------------------------------------- streams


@asynccontextmanager
async def connect_websocket(
    session: aiohttp.ClientSession,
    url: str,
    *,
    params: Any = None,
    headers: Mapping[str, str] | None = None,
    heartbeat: float | None = 30.0,
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """Open a websocket; a refused handshake raises `RateLimited` (429, honouring Retry-After)
    or `HttpStatusError`, like `get_json`. `heartbeat` sends pings and drops a connection whose
    pongs stop coming."""
    import aiohttp

    try:
        ws = await session.ws_connect(url, params=params, headers=headers, heartbeat=heartbeat)
    except aiohttp.WSServerHandshakeError as exc:
        retry_after = retry_after_seconds((exc.headers or {}).get("Retry-After"))
        if exc.status == 429 or (exc.status == 503 and retry_after is not None):
            raise RateLimited(f"HTTP {exc.status} from {url}", retry_after) from None
        raise HttpStatusError(exc.status, url, exc.message) from None
    try:
        yield ws
    finally:
        await ws.close()


async def until_silent(awaitable: Awaitable[Any], limit: float, what: str = "stream") -> Any:
    """Await `awaitable`, raising `StreamSilent` if it takes longer than `limit` seconds."""
    try:
        async with asyncio.timeout(limit) as deadline:
            return await awaitable
    except TimeoutError:
        if deadline.expired():
            raise StreamSilent(f"{what} said nothing for {limit:g}s") from None
        raise


@dataclass(slots=True)
class SseEvent:
    """One server-sent event (WHATWG "server-sent events" framing)."""

    event: str = "message"
    data: str = ""
    id: str | None = None


async def iter_sse(
    response: aiohttp.ClientResponse, *, silence_limit: float
) -> AsyncIterator[SseEvent]:
    """The events of a ``text/event-stream`` response.

    Comment lines (``:thump``, heartbeats) yield nothing but prove the stream alive: the silence
    limit applies to any line. The end of the body raises `StreamClosed`.
    """
    from aiohttp.http_exceptions import LineTooLong

    event, data, event_id = "", [], None
    while True:
        try:
            raw = await until_silent(response.content.readline(), silence_limit, "event stream")
        except LineTooLong:
            raise MalformedPayload("an event stream line is longer than the reader's limit") from None
        if not raw:
            raise StreamClosed("the server closed the event stream")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent(event or "message", "\n".join(data), event_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


# --------------------------------------------------------------------------- reconnecting


class Reconnector:
    """Runs a source's "connect and consume" coroutine until it returns, forever if need be.

    Each failure is retried by tenacity after an exponential backoff with jitter
    (`backoff_initial` doubling up to `backoff_max`); a `RateLimited` failure waits what the
    server asked instead. Call `progressed()` whenever data flows: it resets the backoff (a
    connection that worked for an hour and then dropped is retried quickly) and reports health
    OK. Failures report DEGRADED, then FAILING after `failing_after` in a row. A
    `MalformedPayload` is also counted and logged through `Source.reject`.
    """

    def __init__(
        self,
        source: Source,
        options: HttpSourceOptions,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.source = source
        self.options = options
        self.failures = 0
        self._progress_since_failure = False
        self._sleep = sleep
        self._exponential: Callable[[Any], float] | None = None

    def progressed(self) -> None:
        """Data flowed: the next failure starts the backoff over, and health is OK."""
        self._progress_since_failure = True
        self.failures = 0
        if self.source.health.state != HealthState.OK:
            self.source.health.set(HealthState.OK)

    async def run(self, attempt: Callable[[], Awaitable[None]]) -> None:
        import tenacity

        self._exponential = tenacity.wait_exponential(
            multiplier=self.options.backoff_initial, max=self.options.backoff_max
        ) + tenacity.wait_random(0, self.options.backoff_initial)
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(Exception),
            after=self._after_failure,
            wait=self._wait,
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        async for try_ in retrying:
            with try_:
                await attempt()

    async def poll(self, poll_once: Callable[[], Awaitable[None]], interval: float) -> None:
        """Call `poll_once` every `interval` seconds (once, for a finite source), reconnecting
        with backoff when it fails: the loop of every polling source."""

        async def poll_forever() -> None:
            while True:
                await poll_once()
                self.progressed()
                if self.source.finite:
                    return
                await asyncio.sleep(interval)

        await self.run(poll_forever)

    def _after_failure(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if self._progress_since_failure:
            state.attempt_number = 1  # start the backoff over: the last attempt worked a while
            self._progress_since_failure = False
        if isinstance(error, MalformedPayload):
            self.source.reject(error.reason, error.sample)
        if not isinstance(error, RateLimited):
            self.failures += 1

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            asked = min(error.retry_after, self.options.retry_after_max)
            return asked + random.uniform(0, min(1.0, asked * 0.1))
        assert self._exponential is not None
        return self._exponential(state)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        message = str(error) or type(error).__name__
        if isinstance(error, RateLimited):
            state_now = HealthState.DEGRADED
            message = f"rate limited ({message})"
        elif self.failures >= self.options.failing_after:
            state_now = HealthState.FAILING
        else:
            state_now = HealthState.DEGRADED
        self.source.health.set(state_now, message)
        self.source.log.warning(
            "source connection failed; retrying",
            error=message,
            error_type=type(error).__name__,
            consecutive_failures=self.failures,
            retry_in_s=round(state.upcoming_sleep, 2),
            health=str(state_now),
        )
