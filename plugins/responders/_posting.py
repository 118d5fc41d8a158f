"""What the posting responders share: an aiohttp session, dry-run logging, and the same reading
of HTTP answers as the notifiers (2xx posted; 408/425/429/5xx and network trouble retryable;
any other answer permanent — see `sentineld_plugins.notifiers._http.classify`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from sentineld import Draft, PermanentDeliveryError, Responder, RetryableDeliveryError
from sentineld_plugins.notifiers._http import REQUEST_TIMEOUT, USER_AGENT, HttpAnswer, classify

if TYPE_CHECKING:
    import aiohttp

__all__ = ["PostingResponder"]


class PostingResponder(Responder):
    """Base of the responders that post approved drafts through a platform's HTTP API. They
    never draft (the template responder does); they only post, and only what was approved."""

    #: Draft channels (mention sources) this responder posts on.
    post_channels: ClassVar[tuple[str, ...]] = ()
    service: ClassVar[str] = "platform"

    _session: aiohttp.ClientSession | None = None

    async def draft(self, alert: Any, mentions: Any) -> list[Draft]:
        return []

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def dry_run_log(self, draft: Draft, request: Mapping[str, Any]) -> None:
        self.log.info("dry run: reply not posted (set dry_run = false to post)",
                      draft=draft.meta.get("id"), channel=draft.channel, request=dict(request))

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> HttpAnswer:
        """One request; raises the delivery error an answer or a failure means (unless `check`
        is False, for callers that read a service's own error first)."""
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT), headers={"User-Agent": USER_AGENT}
            )
        data = None if body is None else msgspec.json.encode(body)
        send_headers = dict(headers or {})
        if data is not None:
            send_headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, url, data=data, headers=send_headers, params=params, allow_redirects=False
            ) as response:
                answer = HttpAnswer(response.status, response.headers, await response.read())
        except aiohttp.InvalidURL:
            raise PermanentDeliveryError(f"{self.service}: the configured URL is not valid") from None
        except TimeoutError:
            raise RetryableDeliveryError(f"{self.service}: no answer in time") from None
        except aiohttp.ClientError as exc:
            raise RetryableDeliveryError(f"{self.service}: {type(exc).__name__}") from None
        if check:
            classify(answer, self.service)
        return answer
