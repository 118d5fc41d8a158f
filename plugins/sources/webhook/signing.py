"""Request signatures for the webhook source: HMAC-SHA256 over the timestamp and the body.

A sender computes ``sha256=`` + hex(HMAC-SHA256(secret, f"{timestamp}.{body}")) with the UNIX
time in seconds and sends both in ``X-Sentineld-Timestamp`` and ``X-Sentineld-Signature``. The
timestamp is inside the signed text, so a captured request cannot be replayed once it is older
than the replay window.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Sentineld-Timestamp"
SIGNATURE_HEADER = "X-Sentineld-Signature"
SCHEME = "sha256="


class SignatureError(Exception):
    """The signature headers are missing, malformed, stale or do not match."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The value of ``X-Sentineld-Signature`` for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Both headers a sender adds (for clients and tests)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(moment), SIGNATURE_HEADER: sign(secret, moment, body)}


def verify(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, *,
    window: float, now: float | None = None,
) -> None:
    """Raise SignatureError (with a message fit for the sender) unless the signature is valid and
    the timestamp is within `window` seconds of `now`."""
    if not timestamp or not signature:
        raise SignatureError(f"send both {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be the UNIX time in whole seconds")
    moment = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - moment) > window:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {int(current - moment)}s away from the server's clock; "
            f"requests are accepted within {int(window)}s (sign each request when it is sent)"
        )
    if not signature.startswith(SCHEME):
        raise SignatureError(f"{SIGNATURE_HEADER} must start with {SCHEME!r}")
    given = signature.strip().encode("utf-8", "surrogateescape")  # non-UTF-8 header bytes as is
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), given):
        raise SignatureError(
            f"{SIGNATURE_HEADER} does not match: expected {SCHEME}hex(HMAC-SHA256(secret, "
            f"timestamp + '.' + body))"
        )
