"""What the HTTP notifiers share: one aiohttp session per notifier instance, and the one place
where an HTTP answer or a network failure becomes delivered, retryable or permanent.

- 2xx: delivered.
- 408, 425, 429 and 5xx, timeouts, refused or dropped connections: `RetryableDeliveryError`,
  carrying the receiver's ``Retry-After`` (seconds or an HTTP date) when it sent one.
- Any other answer (other 4xx, a redirect, an invalid URL): `PermanentDeliveryError`; the
  outbox dead-letters it at once.

Error messages name the service and the status, and quote the start of the receiver's answer,
but never the URL: for Slack, Teams and Discord the URL is the secret.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from sentineld import Notifier, PermanentDeliveryError, RetryableDeliveryError, __version__

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "HttpAnswer",
    "HttpNotifier",
    "USER_AGENT",
    "classify",
    "is_retryable_status",
    "parse_retry_after",
]

USER_AGENT = f"sentineld/{__version__}"
#: Backstop for one request; the host's per-component ``timeout`` normally cuts in first.
REQUEST_TIMEOUT = 60.0
_QUOTE = 300


def is_retryable_status(status: int) -> bool:
    """Worth trying again later: request timeout, too early, too many requests, server errors."""
    return status in (408, 425, 429) or status >= 500


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date), or None
    when absent or unreadable. A date in the past means 0."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


@dataclass(slots=True)
class HttpAnswer:
    """A receiver's answer, fully read."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON, or None if it is not JSON."""
        try:
            return msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            return None

    def quote(self) -> str:
        text = " ".join(self.text.split())
        return text[:_QUOTE] + ("…" if len(text) > _QUOTE else "")


def classify(answer: HttpAnswer, service: str, *, retry_after: float | None = None) -> None:
    """Return if `answer` means delivered; otherwise raise the matching delivery error.

    `retry_after` overrides the ``Retry-After`` header (for services that put it in the body).
    """
    if 200 <= answer.status < 300:
        return
    detail = f"{service} answered {answer.status}"
    quoted = answer.quote()
    if quoted:
        detail += f": {quoted}"
    if is_retryable_status(answer.status):
        wait = retry_after if retry_after is not None else parse_retry_after(
            answer.headers.get("Retry-After")
        )
        raise RetryableDeliveryError(detail, retry_after=wait)
    if 300 <= answer.status < 400:
        detail += " (a redirect: configure the final URL)"
    raise PermanentDeliveryError(detail)


class HttpNotifier(Notifier):
    """Base class of the notifiers that POST JSON to a service.

    Subclasses call `post_json` from `notify`; it returns the answer when delivered and raises
    the right delivery error otherwise. Override `check` to read a service's own error format.
    """

    #: The service's name in error messages and logs ("Slack", "PagerDuty", …).
    service: ClassVar[str] = "receiver"

    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._ensure_session()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def post_json(
        self,
        url: str,
        body: Any,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> HttpAnswer:
        """POST `body` (an object, or bytes already encoded) as JSON; see the module docstring
        for what is raised."""
        import aiohttp

        data = body if isinstance(body, bytes) else msgspec.json.encode(body)
        session = self._ensure_session()
        try:
            async with session.post(
                url,
                data=data,
                params=params,
                headers={"Content-Type": "application/json", **(headers or {})},
                allow_redirects=False,
            ) as response:
                answer = HttpAnswer(response.status, response.headers, await response.read())
        except aiohttp.InvalidURL:
            raise PermanentDeliveryError(f"{self.service}: the configured URL is not valid") from None
        except TimeoutError:
            raise RetryableDeliveryError(f"{self.service}: no answer in time") from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or type(exc.os_error).__name__
            raise RetryableDeliveryError(
                f"{self.service}: cannot connect to {exc.host}:{exc.port}: {reason}"
            ) from None
        except aiohttp.ClientError as exc:
            raise RetryableDeliveryError(
                f"{self.service}: {type(exc).__name__}: {_without_url(exc)}"
            ) from None
        self.check(answer)
        return answer

    def check(self, answer: HttpAnswer) -> None:
        """Raise for an answer that is not a delivery (default: by status, see `classify`)."""
        classify(answer, self.service)


def _without_url(exc: BaseException) -> str:
    """An aiohttp error's message without any URL it may quote (the URL can be the secret)."""
    import aiohttp

    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{exc.status} {exc.message}"
    text = str(exc)
    return " ".join(word for word in text.split() if "://" not in word) or "connection failed"
