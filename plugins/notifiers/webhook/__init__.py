"""Generic webhook notifier: each notification POSTed as JSON, signed with HMAC-SHA256, carrying
its idempotency key, so that a receiver can check where it comes from and see it exactly once.

The request::

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <notification key>        same key on every retry of the same notification
    X-Sentineld-Event: opened|updated|resolved|…
    X-Sentineld-Timestamp: <unix seconds when sent>
    X-Sentineld-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

    {"key": "...", "event": "opened", "alert": {...Alert JSON...}, "draft": null, "meta": {}}

The body of one notification is the same bytes on every attempt; only the timestamp (and so
the signature) changes. A receiver verifies with `verify_signature` (or the same few lines in
its own language) and ignores a key it has already processed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time
from typing import Any, Final

import msgspec

from sentineld import Notification, Options, Secret, hookimpl
from sentineld.model import alert_to_dict
from sentineld_plugins.notifiers._http import HttpNotifier

__all__ = ["WebhookNotifier", "sign", "verify_signature"]

SIGNATURE_HEADER: Final = "X-Sentineld-Signature"
TIMESTAMP_HEADER: Final = "X-Sentineld-Timestamp"
EVENT_HEADER: Final = "X-Sentineld-Event"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"


class WebhookOptions(Options):
    #: Where to POST each notification (http:// or https://).
    url: str
    #: Shared secret for the HMAC-SHA256 signature header, e.g. { env = "WEBHOOK_SECRET" }.
    #: Without it requests are not signed.
    secret: Secret | None = None
    #: Sent as "Authorization: Bearer <token>" when set.
    bearer_token: Secret | None = None
    #: Further headers sent with every request.
    headers: dict[str, str] = {}

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")


def body_of(notification: Notification) -> bytes:
    """The JSON body for a notification: the same bytes on every attempt."""
    return msgspec.json.encode(
        {
            "key": notification.key,
            "event": notification.event,
            "alert": alert_to_dict(notification.alert) if notification.alert else None,
            "draft": dataclasses.asdict(notification.draft) if notification.draft else None,
            "meta": notification.meta,
        }
    )


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC of ``"<timestamp>." + body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """For receivers: True if `signature` is valid for `body` and `timestamp` is within
    `tolerance` seconds of `now` (which rejects a captured request replayed later)."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookNotifier(HttpNotifier):
    type_name = "webhook"
    description = "POSTs each notification as signed JSON with an Idempotency-Key header"
    Options = WebhookOptions
    service = "webhook receiver"

    async def notify(self, notification: Notification) -> None:
        options: WebhookOptions = self.options
        body = body_of(notification)
        timestamp = str(int(time.time()))
        headers = {
            **options.headers,
            IDEMPOTENCY_HEADER: notification.key,
            EVENT_HEADER: notification.event,
            TIMESTAMP_HEADER: timestamp,
        }
        if options.secret is not None:
            headers[SIGNATURE_HEADER] = sign(options.secret.reveal(), timestamp, body)
        if options.bearer_token is not None:
            headers["Authorization"] = f"Bearer {options.bearer_token.reveal()}"
        await self.post_json(options.url, body, headers=headers)


@hookimpl
def register_notifiers(register: Any) -> None:
    register(WebhookNotifier)
