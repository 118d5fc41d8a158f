"""Who may read the API: the holder of the token.

Scripts and Prometheus send ``Authorization: Bearer TOKEN``. The dashboard signs in once with the
token and gets a session cookie (HttpOnly, SameSite=Strict) whose value is an HMAC of the
token, so no session is stored server-side and changing the token signs every browser out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any, Final

from sentineld.logs import get_logger

__all__ = ["SESSION_COOKIE", "TokenAuth", "load_or_create_token"]

log = get_logger("sentineld.http")

SESSION_COOKIE: Final = "sentineld_session"
TOKEN_FILE: Final = "http-token"


def load_or_create_token(state_dir: Path) -> str:
    """The token kept in ``STATE_DIR/http-token``, generated (mode 0600) on first use."""
    path = state_dir / TOKEN_FILE
    try:
        token = path.read_text().strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    log.info("generated an HTTP API token (set [http] token to choose one)", token_file=str(path))
    return token


class TokenAuth:
    """Checks a request's bearer token or session cookie in constant time."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self.session = hmac.new(self._token, b"sentineld dashboard session", hashlib.sha256).hexdigest()

    def check_token(self, candidate: str) -> bool:
        # surrogateescape: header bytes that are not UTF-8 compare as the bytes they are
        return hmac.compare_digest(candidate.encode("utf-8", "surrogateescape"), self._token)

    def allowed(self, request: Any) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return self.check_token(credentials.strip())
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return hmac.compare_digest(cookie.encode("utf-8", "surrogateescape"), self.session.encode())
        return False
