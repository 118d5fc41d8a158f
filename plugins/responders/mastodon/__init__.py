"""mastodon responder: posts an approved reply through the Mastodon API.

``POST /api/v1/statuses`` with ``{"status": text, "in_reply_to_id": id, "visibility": …}``,
``Authorization: Bearer <token>`` (a token with the ``write:statuses`` scope) and an
``Idempotency-Key`` header carrying the draft id: Mastodon answers a repeated request with the
same key with the status it already created, so a post retried after a lost answer or a crash
is made once.

It replies to mentions read by the mastodon source from the same instance (their id is
``mastodon:<host>:<status id>``); a mention of another instance is refused (its status id means
nothing here). Off unless configured, and ``dry_run = true`` by default: it then logs the
request it would send and posts nothing.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from sentineld import Draft, Options, PermanentDeliveryError, Secret, hookimpl
from sentineld_plugins.responders._posting import PostingResponder


class MastodonResponderOptions(Options):
    #: The instance the brand's account is on, e.g. "https://mastodon.social".
    base_url: str
    #: An access token of the brand's account with the write:statuses scope,
    #: e.g. { env = "MASTODON_TOKEN" }.
    access_token: Secret
    #: Only log what would be posted.
    dry_run: bool = True
    #: Visibility of the replies.
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    #: The instance's host as the mastodon source writes it in mention ids (default: the host
    #: of base_url).
    host: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with https:// (or http://), got {self.base_url!r}")


class MastodonResponder(PostingResponder):
    type_name = "mastodon"
    description = "posts approved replies on Mastodon (POST /api/v1/statuses); dry run by default"
    Options = MastodonResponderOptions
    post_channels = ("mastodon",)
    service = "Mastodon"

    @property
    def host(self) -> str:
        return self.options.host or (urlsplit(self.options.base_url).hostname or "")

    def status_id(self, mention_id: str | None) -> str | None:
        """The status id of a mention of this instance (None for a new, top-level post)."""
        if mention_id is None:
            return None
        source, _, rest = mention_id.partition(":")
        host, _, status = rest.rpartition(":")
        if source != "mastodon" or not status:
            raise PermanentDeliveryError(f"{mention_id} is not a Mastodon status")
        if host != self.host:
            raise PermanentDeliveryError(
                f"{mention_id} is on {host}; this responder posts on {self.host}"
            )
        return status

    async def post(self, draft: Draft) -> str | None:
        options: MastodonResponderOptions = self.options
        body: dict[str, Any] = {"status": draft.text, "visibility": options.visibility}
        reply_to = self.status_id(draft.mention_id)
        if reply_to is not None:
            body["in_reply_to_id"] = reply_to
        key = str(draft.meta.get("id") or "")
        if not key:
            raise PermanentDeliveryError("a draft without an id cannot be posted idempotently")
        if options.dry_run:
            self.dry_run_log(draft, {"POST": "/api/v1/statuses", **body})
            return None
        answer = await self.request(
            "POST", options.base_url.rstrip("/") + "/api/v1/statuses", body=body,
            headers={"Authorization": f"Bearer {options.access_token.reveal()}", "Idempotency-Key": key},
        )
        status = answer.json()
        if not isinstance(status, dict) or not status.get("id"):
            raise PermanentDeliveryError(f"Mastodon answered {answer.status} without a status: {answer.quote()}")
        return f"mastodon:{self.host}:{status['id']}"


@hookimpl
def register_responders(register: Any) -> None:
    register(MastodonResponder)
