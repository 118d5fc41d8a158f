"""Local stand-ins for the platforms the posting responders talk to.

Each is a real aiohttp server on 127.0.0.1 that checks requests as the platform does and answers
in its shapes: Mastodon's ``POST /api/v1/statuses`` (bearer token, ``Idempotency-Key``,
``in_reply_to_id`` of a known status, 500 characters), and a Bluesky PDS's XRPC methods
``com.atproto.server.createSession``, ``com.atproto.repo.getRecord`` and
``com.atproto.repo.createRecord`` (strong refs that must name existing records with their CID,
a TID record key, ``ExpiredToken`` after a session expires).
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from typing import Any

from aiohttp import web

from tests.notifiers.receivers import LocalService

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


class MastodonInstance(LocalService):
    """``POST /api/v1/statuses``; `statuses` holds what was created, by id."""

    def __init__(self, token: str, known_statuses: set[str]) -> None:
        super().__init__()
        self.token = token
        self.known = set(known_statuses)
        self.statuses: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self._ids = itertools.count(113000000000000001)

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if request.method != "POST" or request.path != "/api/v1/statuses":
            return web.json_response({"error": "Record not found"}, status=404)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "The access token is invalid"}, status=401)
        try:
            data = json.loads(body)
        except ValueError:
            return web.json_response({"error": "Invalid JSON"}, status=400)
        text = data.get("status")
        if not isinstance(text, str) or not text.strip():
            return web.json_response({"error": "Validation failed: Text can't be blank"}, status=422)
        if len(text) > 500:
            return web.json_response({"error": "Validation failed: Text character limit of 500 exceeded"}, status=422)
        if data.get("visibility", "public") not in ("public", "unlisted", "private", "direct"):
            return web.json_response({"error": "Validation failed: Visibility is not included in the list"}, status=422)
        reply_to = data.get("in_reply_to_id")
        if reply_to is not None and reply_to not in self.known and reply_to not in self.statuses:
            return web.json_response({"error": "Record not found"}, status=404)
        key = request.headers.get("Idempotency-Key")
        if key and key in self.by_key:
            return web.json_response(self.statuses[self.by_key[key]])
        ident = str(next(self._ids))
        status = {
            "id": ident, "created_at": datetime.now().isoformat(), "in_reply_to_id": reply_to,
            "visibility": data.get("visibility", "public"), "content": f"<p>{text}</p>",
            "uri": f"{self.url}/users/acme/statuses/{ident}", "url": f"{self.url}/@acme/{ident}",
            "account": {"id": "1", "acct": "acme", "username": "acme"},
        }
        self.statuses[ident] = status
        if key:
            self.by_key[key] = ident
        self.accepted.append(data)
        return web.json_response(status)


def _xrpc_error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


class BlueskyPds(LocalService):
    """A PDS with one account (the brand's) and some records of other repos it can serve."""

    def __init__(self, identifier: str, password: str, did: str = "did:plc:acmebrand") -> None:
        super().__init__()
        self.identifier = identifier
        self.password = password
        self.did = did
        #: at-uri -> (cid, record)
        self.records: dict[str, tuple[str, dict[str, Any]]] = {}
        self.sessions = 0
        self._token = ""
        self.created: list[dict[str, Any]] = []

    def add_record(self, uri: str, cid: str, value: dict[str, Any] | None = None) -> None:
        self.records[uri] = (cid, value or {"$type": "app.bsky.feed.post", "text": "…"})

    def expire(self) -> None:
        """The current access token expires (the next write answers ExpiredToken)."""
        self._token = "expired:" + self._token

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        method = request.path.removeprefix("/xrpc/")
        if method == "com.atproto.server.createSession" and request.method == "POST":
            return self._create_session(body)
        if method == "com.atproto.repo.getRecord" and request.method == "GET":
            return self._get_record(request)
        if method == "com.atproto.repo.createRecord" and request.method == "POST":
            return self._create_record(request, body)
        return _xrpc_error(404, "MethodNotImplemented", f"{method} is not implemented")

    def _create_session(self, body: bytes) -> web.Response:
        data = json.loads(body)
        if data.get("identifier") not in (self.identifier, self.did) or data.get("password") != self.password:
            return _xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions += 1
        self._token = f"jwt-{self.sessions}"
        return web.json_response({"accessJwt": self._token, "refreshJwt": f"refresh-{self.sessions}",
                                  "handle": self.identifier, "did": self.did})

    def _get_record(self, request: web.Request) -> web.Response:
        q = request.query
        uri = f"at://{q.get('repo')}/{q.get('collection')}/{q.get('rkey')}"
        if uri not in self.records:
            return _xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
        cid, value = self.records[uri]
        return web.json_response({"uri": uri, "cid": cid, "value": value})

    def _check_ref(self, ref: Any, name: str) -> str | None:
        if not isinstance(ref, dict) or not isinstance(ref.get("uri"), str) or not isinstance(ref.get("cid"), str):
            return f"Invalid app.bsky.feed.post record: {name} must be a strongRef (uri, cid)"
        known = self.records.get(ref["uri"])
        if known is None or known[0] != ref["cid"]:
            return f"{name} does not name an existing record with that cid"
        return None

    def _create_record(self, request: web.Request, body: bytes) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer expired:") or (self._token.startswith("expired:") and auth == "Bearer " + self._token[8:]):
            return _xrpc_error(400, "ExpiredToken", "Token has expired")
        if auth != f"Bearer {self._token}" or not self._token:
            return _xrpc_error(401, "AuthenticationRequired", "Authentication Required")
        data = json.loads(body)
        if data.get("repo") not in (self.did, self.identifier):
            return _xrpc_error(400, "InvalidRequest", "Input/repo must be the authenticated account")
        if data.get("collection") != "app.bsky.feed.post":
            return _xrpc_error(400, "InvalidRequest", "Unexpected collection")
        rkey = data.get("rkey")
        if rkey is not None and not TID.match(rkey):
            return _xrpc_error(400, "InvalidRequest", "Invalid record key: expected a TID")
        record = data.get("record") or {}
        if record.get("$type") != "app.bsky.feed.post":
            return _xrpc_error(400, "InvalidRequest", "Invalid $type: must be app.bsky.feed.post")
        text = record.get("text")
        if not isinstance(text, str) or len(text) > 300:
            return _xrpc_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: text must be up to 300 graphemes")
        try:
            datetime.fromisoformat(str(record.get("createdAt")).replace("Z", "+00:00"))
        except ValueError:
            return _xrpc_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: createdAt must be a datetime")
        reply = record.get("reply")
        if reply is not None:
            for name in ("root", "parent"):
                problem = self._check_ref(reply.get(name), f"reply/{name}")
                if problem:
                    return _xrpc_error(400, "InvalidRequest", problem)
        uri = f"at://{self.did}/app.bsky.feed.post/{rkey or 'auto'}"
        if uri in self.records:
            return _xrpc_error(400, "InvalidRequest", "Record already exists")
        cid = f"bafyreicreated{len(self.created)}"
        self.records[uri] = (cid, record)
        self.created.append(data)
        self.accepted.append(data)
        return web.json_response({"uri": uri, "cid": cid, "validationStatus": "valid"})
