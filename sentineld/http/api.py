"""Routes: health, metrics, the paged JSON API, the live event stream, webhook ingest and the
dashboard's files.

Every JSON error is ``{"error": "what is wrong", "status": N}``. Pages are ``{"items": [...],
"next": URL or null}``; follow ``next`` until it is null.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import web

from sentineld.components import HealthState, Source
from sentineld.http.auth import SESSION_COOKIE
from sentineld.http.live import stream_events
from sentineld.http.metrics import CONTENT_TYPE_LATEST
from sentineld.model import Alert, alert_to_dict, format_time, from_timestamp, mention_to_dict

if TYPE_CHECKING:
    from sentineld.http.server import HttpServer
    from sentineld.store.sqlite import SQLiteStore

SERVER: Final = web.AppKey("server", "HttpServer")
STATIC: Final = Path(__file__).parent / "static"

#: Paths anyone may reach: liveness/readiness, the (data-free) dashboard shell and its files,
#: signing in, and webhook ingest (each webhook source checks its own bearer token or signature).
PUBLIC_EXACT: Final = frozenset({"/", "/healthz", "/readyz", "/api/session", "/favicon.ico"})
PUBLIC_PREFIXES: Final = ("/static/", "/ingest/")

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

_encode = msgspec.json.Encoder().encode


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encode(data), status=status, content_type="application/json", headers=headers
    )


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"error": message, "status": status}, status, headers)


def _server(request: web.Request) -> HttpServer:
    return request.app[SERVER]


# --------------------------------------------------------------------------- middlewares


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith(("/api/", "/metrics", "/ingest/")) or exc.status < 400:
            raise
        response = json_error(exc.status, exc.reason)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@web.middleware
async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
    path = request.path
    if path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    if _server(request).auth.allowed(request):
        return await handler(request)
    return json_error(
        401,
        "this needs the API token: send 'Authorization: Bearer TOKEN' or sign in on the dashboard",
        {"WWW-Authenticate": 'Bearer realm="sentineld"'},
    )


# --------------------------------------------------------------------------- health and metrics


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process and its event loop answer."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: running (not starting, reloading or stopping) and no source failing. Each
    source's state is listed; its last error only for a caller with the token."""
    server = _server(request)
    state = server.daemon.state
    pipeline = server.daemon.pipeline
    detailed = server.auth.allowed(request)
    sources: list[dict[str, Any]] = []
    failing = []
    if pipeline is not None:
        for guard in pipeline.sources:
            source = guard.component
            if not isinstance(source, Source):
                continue
            row: dict[str, Any] = {"id": guard.id, "type": guard.spec.type_name, "state": source.health.state.value}
            if detailed:
                row["error"] = source.health.last_error
            sources.append(row)
            if source.health.state == HealthState.FAILING:
                failing.append(guard.id)
    ready = state == "running" and not failing
    body = {"status": "ready" if ready else "not ready", "state": state, "sources": sources}
    if failing:
        body["failing"] = failing
    return json_response(body, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    server = _server(request)
    await server.refresh_outbox()
    body = server.metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


# --------------------------------------------------------------------------- session


async def session_create(request: web.Request) -> web.Response:
    """Sign the dashboard in: ``{"token": "..."}`` → the session cookie."""
    try:
        data = await request.json()
    except ValueError:
        return json_error(400, 'expected a JSON body {"token": "..."}')
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not _server(request).auth.check_token(token):
        return json_error(403, "wrong token")
    response = json_response({"status": "signed in"})
    response.set_cookie(
        SESSION_COOKIE, _server(request).auth.session, httponly=True, samesite="Strict",
        path="/", secure=request.secure,
    )
    return response


async def session_delete(request: web.Request) -> web.Response:
    response = json_response({"status": "signed out"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- paged API


def _int_param(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise web.HTTPBadRequest(reason=f"{name} must be an integer from {low} to {high}, got {raw!r}")
    return value


def _limit(request: web.Request) -> int:
    top = _server(request).options.max_page
    value = _int_param(request, "limit", min(50, top), 1, top)
    assert value is not None
    return value


def _next_url(request: web.Request, **changes: Any) -> str:
    query = dict(request.query)
    query.update({k: str(v) for k, v in changes.items()})
    return str(request.rel_url.with_query(query))


async def status(request: web.Request) -> web.Response:
    return json_response(_server(request).status())


async def mentions(request: web.Request) -> web.Response:
    """Newest first; ``before`` (a sequence number) pages back. Filters: ``source`` (platform),
    ``author`` (``source:authorid``)."""
    limit = _limit(request)
    before = _int_param(request, "before", None, 1, 2**62)
    filters = {}
    if request.query.get("source"):
        filters["source"] = request.query["source"]
    if request.query.get("author"):
        filters["author_key"] = request.query["author"]
    rows = await _server(request).reader.call(  # type: ignore[union-attr]
        "recent_mentions", limit=limit, before_seq=before, **filters
    )
    items = [{"seq": seq, **mention_to_dict(m, scored=True)} for seq, m in rows]
    more = len(rows) == limit and rows[-1][0] > 1
    return json_response(
        {"items": items, "next": _next_url(request, before=rows[-1][0]) if more else None}
    )


async def mention(request: web.Request) -> web.Response:
    found = await _server(request).reader.call("mention", request.match_info["id"])  # type: ignore[union-attr]
    if found is None:
        return json_error(404, "no such mention")
    return json_response(mention_to_dict(found, scored=True))


async def alerts(request: web.Request) -> web.Response:
    """Newest first. ``state=open`` for the open ones only; ``offset`` pages back."""
    limit = _limit(request)
    offset = _int_param(request, "offset", 0, 0, 2**31) or 0
    state = request.query.get("state", "all")
    if state not in ("all", "open"):
        raise web.HTTPBadRequest(reason=f"state must be 'open' or 'all', got {state!r}")
    rows = await _server(request).reader.call(  # type: ignore[union-attr]
        "alerts", open_only=state == "open", limit=limit, offset=offset
    )
    items = [alert_to_dict(a) for a in rows]
    more = len(rows) == limit
    return json_response(
        {"items": items, "next": _next_url(request, offset=offset + limit) if more else None}
    )


def _alert_with_mentions(store: SQLiteStore, alert_id: str) -> tuple[Alert, dict[str, Any]] | None:
    alert = store.alert(alert_id)
    if alert is None:
        return None
    data = alert_to_dict(alert)
    found = (store.mention(mid) for mid in alert.mentions)
    data["mention_details"] = [mention_to_dict(m, scored=True) for m in found if m is not None]
    ack = store.alert_ack_details([alert_id]).get(alert_id)
    data["acknowledged"] = None if ack is None else {
        "at": format_time(from_timestamp(ack[0])), "by": ack[1], "note": ack[2] or None}
    return alert, data


async def alert(request: web.Request) -> web.Response:
    """One alert with its evidence, the mentions it names, who acknowledged it (``acknowledged``)
    and, while it is open, why it is not notified now (``muted``: a silence, an inhibition)."""
    server = _server(request)
    found = await server.reader.run(_alert_with_mentions, request.match_info["id"])  # type: ignore[union-attr]
    if found is None:
        return json_error(404, "no such alert")
    alert, data = found
    pipeline = server.daemon.pipeline
    data["muted"] = (pipeline.alerts.muted_by(alert, time.time())
                     if alert.is_open and pipeline is not None else None)
    return json_response(data)


async def series(request: web.Request) -> web.Response:
    """The chart cells: mentions and sentiment per (bucket, subject, channel)."""
    return json_response(_server(request).live.snapshot())


def _times_as_iso(data: dict[str, Any]) -> dict[str, Any]:
    """The CRM records keep POSIX seconds; the API speaks ISO 8601 like everywhere else."""
    for key, value in data.items():
        if key.endswith("_at") and isinstance(value, int | float) and not isinstance(value, bool):
            data[key] = format_time(from_timestamp(value))
    return data


async def cases(request: web.Request) -> web.Response:
    """Most urgent first (unanswered ones by first-response due time). ``state``: open (the
    default), all, or one state; ``customer``: one customer's cases."""
    limit = _limit(request)
    offset = _int_param(request, "offset", 0, 0, 2**31) or 0
    try:
        rows = await _server(request).reader.call(  # type: ignore[union-attr]
            "cases", state=request.query.get("state", "open"), limit=limit, offset=offset,
            customer=request.query.get("customer") or None,
        )
    except ValueError as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from None
    items = [_times_as_iso(msgspec.to_builtins(row)) for row in rows]
    more = len(items) == limit
    return json_response(
        {"items": items, "next": _next_url(request, offset=offset + limit) if more else None}
    )


def _case_with_mentions(store: SQLiteStore, case_id: str) -> dict[str, Any] | None:
    record = store.case(case_id)  # type: ignore[attr-defined]
    if record is None:
        return None
    data = _times_as_iso(msgspec.to_builtins(record))
    data["history"] = [
        {**_times_as_iso(msgspec.to_builtins(item)),
         "mention": mention_to_dict(found) if found is not None else None}
        for item, found in store.case_mentions(case_id)  # type: ignore[attr-defined]
    ]
    return data


async def case(request: web.Request) -> web.Response:
    """One case with its whole history: the customer's mentions and the brand's replies."""
    data = await _server(request).reader.run(_case_with_mentions, request.match_info["id"])  # type: ignore[union-attr]
    if data is None:
        return json_error(404, "no such case")
    return json_response(data)


async def influencers(request: web.Request) -> web.Response:
    """The registry's top authors: ``kind`` connector (reach) or maven (topical authority),
    else by influence, the larger of the two; ``watchlist=1`` for the watchlist only."""
    from sentineld.registry import top_influencers

    limit = _limit(request)
    offset = _int_param(request, "offset", 0, 0, 10_000) or 0
    kind = request.query.get("kind") or None
    if kind not in (None, "connector", "maven"):
        raise web.HTTPBadRequest(reason=f"kind must be connector or maven, got {kind!r}")
    rows = await _server(request).reader.run(  # type: ignore[union-attr]
        top_influencers, kind=kind, top=offset + limit,
        watchlist_only=request.query.get("watchlist") in ("1", "true"),
    )
    items = rows[offset:]
    more = len(rows) == offset + limit
    return json_response(
        {"items": items, "next": _next_url(request, offset=offset + limit) if more else None}
    )


async def events(request: web.Request) -> web.StreamResponse:
    server = _server(request)
    return await stream_events(request, server.hub, {"status": server.status()})


# --------------------------------------------------------------------------- webhook ingest


async def ingest(request: web.Request) -> web.StreamResponse:
    """``/ingest/{source id}``: hand the request to that source's own handler.

    A source takes HTTP ingest by offering ``http_routes(path)`` (aiohttp route definitions, as
    the webhook source does). The routes are looked up on every request, so after a reload the
    request reaches the new instance of the source, never a stopped one.
    """
    server = _server(request)
    source_id = request.match_info["source_id"]
    pipeline = server.daemon.pipeline
    guard = next((g for g in pipeline.sources if g.id == source_id), None) if pipeline else None
    if guard is None:
        return json_error(404, f"no source {source_id!r} is configured")
    offer = getattr(guard.component, "http_routes", None)
    if offer is None:
        return json_error(404, f"source {source_id!r} ({guard.spec.type_name}) does not take HTTP ingest")
    if server.daemon.state != "running":
        return json_error(503, f"the daemon is {server.daemon.state}; retry shortly", {"Retry-After": "1"})
    routes = offer(f"/ingest/{source_id}")
    for route in routes:
        if route.method in (request.method, "*"):
            return await route.handler(request)
    allowed = sorted({route.method for route in routes})
    raise web.HTTPMethodNotAllowed(request.method, allowed)


# --------------------------------------------------------------------------- dashboard


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def build_app(server: HttpServer) -> web.Application:
    app = web.Application(middlewares=[security_headers, require_token], client_max_size=4 * 1024**2)
    app[SERVER] = server
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/session", session_create)
    app.router.add_delete("/api/session", session_delete)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/mentions", mentions)
    app.router.add_get("/api/mentions/{id:.+}", mention)
    app.router.add_get("/api/alerts", alerts)
    app.router.add_get("/api/alerts/{id}", alert)
    app.router.add_get("/api/series", series)
    app.router.add_get("/api/cases", cases)
    app.router.add_get("/api/cases/{id}", case)
    app.router.add_get("/api/influencers", influencers)
    app.router.add_get("/api/events", events)
    app.router.add_route("*", "/ingest/{source_id}", ingest)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app
