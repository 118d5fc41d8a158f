"""Webhook source: other systems POST Mention JSON to sentineld.

The source serves its endpoint on its own listener (``listen``) and also hands its request
handler to the daemon's HTTP server, which mounts it at ``/ingest/<source id>`` (see
`webhook_routes`). Either way a request is answered ``202`` only once its mentions are durably
stored; every refusal is a JSON body that says what is wrong.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from sentineld import Duration, Options, Secret, Source, hookimpl
from sentineld.changes import MentionChange, change_from_dict, is_change
from sentineld.components import Emit, HealthState
from sentineld.model import Mention, MentionError, mention_from_dict

from sentineld_plugins.sources.webhook.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["WebhookOptions", "WebhookSource", "webhook_routes"]

JSON_TYPES = ("application/json",)
LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
READ_CHUNK = 1 << 16
#: How long a POST waits for a source that is still starting before it is told to retry.
STARTING_GRACE_S = 10.0


class WebhookOptions(Options):
    #: Address of the source's own listener, "host:port"; "" serves only through the daemon's
    #: HTTP server (at /ingest/<source id>).
    listen: str = "127.0.0.1:8787"
    #: Path of the endpoint on the source's own listener.
    path: str = "/ingest"
    #: Accept requests with ``Authorization: Bearer <token>``.
    token: Secret | None = None
    #: Accept requests signed with HMAC-SHA256 (X-Sentineld-Timestamp, X-Sentineld-Signature).
    signing_secret: Secret | None = None
    #: How far a signed request's timestamp may be from the server's clock.
    replay_window: Duration = Duration(300)
    #: Largest request body accepted, in bytes (413 beyond).
    max_body: int = 1 << 20

    def __post_init__(self) -> None:
        if self.token is None and self.signing_secret is None:
            raise ValueError(
                "the webhook needs a way to authenticate senders: set token = { env = \"NAME\" } "
                "and/or signing_secret = { env = \"NAME\" }"
            )
        if self.max_body <= 0:
            raise ValueError("max_body must be a positive number of bytes")
        if self.listen:
            _parse_listen(self.listen)


class Refused(Exception):
    """A request answered with a 4xx (or 503): its status, a short code and an explanation."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details


class WebhookSource(Source):
    """Accepts POSTs of Mention JSON: one object, an array of objects, or JSON Lines.

    A request is all or nothing: if any mention in it is invalid, none is stored and the 400
    lists every problem (index or line, and the field), so the sender can fix and resend it.
    Sending the same mentions again is harmless: ingest is idempotent by mention id.
    """

    type_name = "webhook"
    description = "Mention JSON POSTed by other systems (bearer token or HMAC-signed)"
    Options = WebhookOptions

    def __init__(self, options: WebhookOptions, context: Any) -> None:
        super().__init__(options, context)
        self._emit: Emit | None = None
        self._started = asyncio.Event()
        #: Where the own listener is bound ("host:port"), once it is.
        self.addresses: list[str] = []
        self.accepted = 0
        self.refused = 0

    # ------------------------------------------------------------------ serving

    async def run(self, emit: Emit) -> None:
        from aiohttp import web

        self._emit = emit
        self._started.set()
        runner: web.AppRunner | None = None
        try:
            if self.options.listen:
                app = web.Application()
                app.add_routes(self.http_routes(self.options.path))
                runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
                await runner.setup()
                host, port = _parse_listen(self.options.listen)
                await web.TCPSite(runner, host, port).start()
                self.addresses = [_format_address(a) for a in runner.addresses]
                self.log.info("webhook listening", addresses=self.addresses, path=self.options.path)
            self.health.set(HealthState.OK)
            await asyncio.Event().wait()
        finally:
            self._emit = None
            self._started.clear()
            if runner is not None:
                await runner.cleanup()

    def http_routes(self, path: str | None = None) -> list[web.RouteDef]:
        """The endpoint as aiohttp routes, for mounting on any application (the daemon's HTTP
        server mounts it at ``/ingest/<source id>``)."""
        from aiohttp import web

        path = path or f"/ingest/{self.id}"
        return [web.post(path, self.handle), web.route("*", path, self._method_not_allowed)]

    async def _running_emit(self) -> Emit:
        """The pipeline's emit, waiting a moment for a source that is still starting (the
        daemon's HTTP server answers before the pipeline has started its sources)."""
        if self._emit is None:
            try:
                await asyncio.wait_for(self._started.wait(), STARTING_GRACE_S)
            except TimeoutError:
                pass
        if self._emit is None:
            raise Refused(503, "not_running", "the webhook source is not running; retry shortly")
        return self._emit

    async def _method_not_allowed(self, request: web.Request) -> web.Response:
        from aiohttp import web

        return web.json_response(
            {"error": "method_not_allowed", "message": f"{request.method} is not accepted; POST mentions"},
            status=405, headers={"Allow": "POST"},
        )

    async def handle(self, request: web.Request) -> web.Response:
        """The request handler: authenticate, bound, parse, store, then answer 202."""
        from aiohttp import web

        try:
            mentions, changes = await self._accept(request)
            emit = await self._running_emit()
            if changes:
                new = await emit(mentions, None, wait=True, changes=changes)
            else:
                new = await emit(mentions, None, wait=True)
        except Refused as refusal:
            self.refused += 1
            headers = {}
            if refusal.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="sentineld"'
            if refusal.status == 503:
                headers["Retry-After"] = "1"
            body = {"error": refusal.code, "message": str(refusal), **refusal.details}
            return web.json_response(body, status=refusal.status, headers=headers)
        self.accepted += len(mentions)
        new_count = new if isinstance(new, int) else len(mentions)
        answer = {"accepted": len(mentions), "new": new_count, "duplicates": len(mentions) - new_count}
        if changes:
            answer["changes"] = len(changes)
        return web.json_response(answer, status=202)

    # ------------------------------------------------------------------ checks

    async def _accept(self, request: web.Request) -> tuple[list[Mention], list[MentionChange]]:
        bearer = self._bearer(request)
        signed = SIGNATURE_HEADER in request.headers or TIMESTAMP_HEADER in request.headers
        if bearer is None and not signed:
            raise Refused(401, "unauthorized", self._how_to_authenticate())
        if request.content_length is not None and request.content_length > self.options.max_body:
            raise Refused(413, "too_large", f"the body is {request.content_length} bytes; "
                          f"the limit is {self.options.max_body}", limit=self.options.max_body)
        media = request.content_type
        if media not in JSON_TYPES + LINES_TYPES:
            raise Refused(415, "unsupported_media_type",
                          f"Content-Type {media!r} is not accepted; send application/json "
                          "(one mention or an array) or application/x-ndjson (one per line)")
        body = await self._read_body(request)
        if not bearer:
            self._check_signature(request, body)
        return self._parse(body, lines=media in LINES_TYPES)

    def _bearer(self, request: web.Request) -> bool | None:
        """None without a bearer token; raises Refused for a wrong one."""
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        expected = self.options.token
        if scheme.lower() != "bearer" or expected is None:
            raise Refused(401, "unauthorized", self._how_to_authenticate())
        # surrogateescape: header bytes that are not UTF-8 compare as the bytes they are
        if not hmac.compare_digest(token.strip().encode("utf-8", "surrogateescape"), expected.reveal().encode()):
            raise Refused(401, "unauthorized", "the bearer token is not valid")
        return True

    def _check_signature(self, request: web.Request, body: bytes) -> None:
        secret = self.options.signing_secret
        if secret is None:
            raise Refused(401, "unauthorized", self._how_to_authenticate())
        try:
            verify(secret.reveal(), request.headers.get(TIMESTAMP_HEADER),
                   request.headers.get(SIGNATURE_HEADER), body, window=self.options.replay_window)
        except SignatureError as exc:
            raise Refused(401, "bad_signature", str(exc)) from None

    def _how_to_authenticate(self) -> str:
        ways = []
        if self.options.token is not None:
            ways.append("Authorization: Bearer <token>")
        if self.options.signing_secret is not None:
            ways.append(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} (sha256=HMAC of "
                        "timestamp + '.' + body)")
        return "authenticate with " + " or ".join(ways)

    async def _read_body(self, request: web.Request) -> bytes:
        """Read at most `max_body` bytes (chunked bodies have no Content-Length to check)."""
        limit = self.options.max_body
        chunks, size = [], 0
        while True:
            chunk = await request.content.read(READ_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise Refused(413, "too_large", f"the body is over the limit of {limit} bytes",
                              limit=limit)
            chunks.append(chunk)

    def _parse(self, body: bytes, *, lines: bool) -> tuple[list[Mention], list[MentionChange]]:
        if lines:
            items = [(f"line {n}", raw) for n, raw in enumerate(body.split(b"\n"), 1) if raw.strip()]
            objects: list[tuple[str, Any]] = []
            problems = []
            for where, raw in items:
                try:
                    objects.append((where, _decode_json(raw)))
                except ValueError as exc:
                    problems.append({"at": where, "reason": str(exc)})
            if problems:
                self._reject(problems, body)
        else:
            try:
                data = _decode_json(body)
            except ValueError as exc:
                self._reject([{"at": "body", "reason": str(exc)}], body)
            if isinstance(data, list):
                objects = [(f"[{i}]", item) for i, item in enumerate(data)]
            else:
                objects = [("body", data)]
        if not objects:
            raise Refused(400, "empty", "the request holds no mention")
        mentions, changes, problems = [], [], []
        received = datetime.now(UTC)
        for where, item in objects:
            try:
                if is_change(item):
                    changes.append(change_from_dict(item, received))
                else:
                    mentions.append(mention_from_dict(item))
            except MentionError as exc:
                problems.append({"at": where, "reason": str(exc)})
        if problems:
            self._reject(problems, body)
        return mentions, changes

    def _reject(self, problems: list[dict[str, str]], body: bytes) -> NoReturn:
        for problem in problems:
            self.reject(problem["reason"], body[:200], at=problem["at"])
        summary = "; ".join(f"{p['at']}: {p['reason']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise Refused(400, "invalid_mention", f"nothing was stored: {summary}{more}",
                      problems=problems)


def _decode_json(raw: bytes) -> Any:
    """JSON as msgspec reads it: unlike the json module it refuses lone surrogates (text the
    store could not encode) and bounds nesting. Raises ValueError with the reason."""
    import msgspec

    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError("not valid JSON: nested too deeply") from None


def webhook_routes(source: WebhookSource, path: str | None = None) -> list[web.RouteDef]:
    """Routes serving `source` on another aiohttp application, at ``/ingest/<source id>`` unless
    `path` says otherwise."""
    return source.http_routes(path)


def _parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen must be \"host:port\" (e.g. \"127.0.0.1:8787\"), got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _format_address(address: Any) -> str:
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)


@hookimpl
def register_sources(register: Any) -> None:
    register(WebhookSource)
