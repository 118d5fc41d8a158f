"""Local stand-ins for the services the notifiers talk to.

Each one is a real aiohttp server on 127.0.0.1 that checks a request the way the service does
(required fields, types, limits) and answers as the service answers: Slack ``400
invalid_blocks``, Discord ``400`` with code 50035, PagerDuty ``400 invalid event``, and so on.
Only the address differs from production. A test can queue failures (`fail_next`) or switch a
receiver off and on (`down`/`up`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

Check = Callable[[Any], str | None]


class LocalService:
    """A small HTTP service on a free local port; subclasses implement `handle`."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.site: web.TCPSite | None = None
        self.port = 0
        self.requests: list[tuple[web.Request, bytes]] = []
        #: Wall-clock time each request arrived.
        self.times: list[float] = []
        self.accepted: list[Any] = []
        #: Answers to give before handling normally: (status, headers, body).
        self.fail_next: list[tuple[int, dict[str, str], str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> LocalService:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        await self.up()
        return self

    async def up(self) -> None:
        assert self.runner is not None
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await self.site.start()
        if not self.port:
            self.port = self.site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def down(self) -> None:
        """Stop listening: connections are refused until `up`."""
        if self.site is not None:
            await self.site.stop()
            self.site = None

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request, body))
        self.times.append(time.time())
        if self.fail_next:
            status, headers, text = self.fail_next.pop(0)
            return web.Response(status=status, headers=headers, text=text)
        return await self.handle(request, body)

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        raise NotImplementedError


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _is_text(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value) <= high


# --------------------------------------------------------------------------- Slack


def slack_block_error(block: Any) -> str | None:
    """Why Slack would refuse this block (None: it is valid)."""

    def text_object(obj: Any, limit: int, *, plain_only: bool = False) -> str | None:
        if not isinstance(obj, dict) or not set(obj) <= {"type", "text", "emoji", "verbatim"}:
            return "text object has unknown keys"
        if obj.get("type") not in (("plain_text",) if plain_only else ("plain_text", "mrkdwn")):
            return f"bad text type {obj.get('type')!r}"
        if "emoji" in obj and (obj["type"] != "plain_text" or not isinstance(obj["emoji"], bool)):
            return "emoji is for plain_text only"
        if not _is_text(obj.get("text"), 1, limit):
            return f"text must be 1..{limit} characters"
        return None

    if not isinstance(block, dict):
        return "block is not an object"
    kind = block.get("type")
    if kind == "header":
        if not set(block) <= {"type", "text", "block_id"}:
            return "header has unknown keys"
        return text_object(block.get("text"), 150, plain_only=True)
    if kind == "section":
        if not set(block) <= {"type", "text", "fields", "accessory", "block_id"}:
            return "section has unknown keys"
        if "text" not in block and "fields" not in block:
            return "section needs text or fields"
        if "text" in block and (error := text_object(block["text"], 3000)):
            return error
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                return "fields must be 1..10"
            for field in fields:
                if error := text_object(field, 2000):
                    return error
        return None
    if kind == "context":
        if not set(block) <= {"type", "elements", "block_id"}:
            return "context has unknown keys"
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
            return "context elements must be 1..10"
        for element in elements:
            if error := text_object(element, 3000):
                return error
        return None
    if kind == "divider":
        return None if set(block) <= {"type", "block_id"} else "divider has unknown keys"
    return f"unsupported block type {kind!r}"


class SlackWebhook(LocalService):
    """An incoming webhook: ``ok``, or Slack's plain-text error codes."""

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if request.method != "POST" or request.path != "/services/T000/B000/XXXX":
            return web.Response(status=404, text="no_service")
        payload = _json(body)
        if not isinstance(payload, dict) or request.content_type != "application/json":
            return web.Response(status=400, text="invalid_payload")
        if not payload.get("text") and not payload.get("blocks"):
            return web.Response(status=400, text="no_text")
        if "text" in payload and not isinstance(payload["text"], str):
            return web.Response(status=400, text="invalid_payload")
        blocks = payload.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > 50:
            return web.Response(status=400, text="invalid_blocks")
        for block in blocks:
            if slack_block_error(block):
                return web.Response(status=400, text="invalid_blocks")
        self.accepted.append(payload)
        return web.Response(text="ok")


# --------------------------------------------------------------------------- Teams


def adaptive_card_error(card: Any) -> str | None:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return "content.type must be AdaptiveCard"
    if not isinstance(card.get("version"), str) or not re.fullmatch(r"1\.[0-6]", card["version"]):
        return "content.version must be 1.0..1.6"
    body = card.get("body")
    if not isinstance(body, list) or not body:
        return "content.body must be a non-empty list"
    for element in body:
        kind = element.get("type") if isinstance(element, dict) else None
        if kind == "TextBlock":
            if not isinstance(element.get("text"), str):
                return "TextBlock.text must be a string"
            if element.get("size", "Default") not in ("Small", "Default", "Medium", "Large", "ExtraLarge"):
                return "TextBlock.size invalid"
            if element.get("color", "Default") not in (
                "Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention",
            ):
                return "TextBlock.color invalid"
            if "wrap" in element and not isinstance(element["wrap"], bool):
                return "TextBlock.wrap must be a boolean"
        elif kind == "FactSet":
            facts = element.get("facts")
            if not isinstance(facts, list) or not all(
                isinstance(f, dict) and isinstance(f.get("title"), str)
                and isinstance(f.get("value"), str) for f in facts
            ):
                return "FactSet.facts must be {title, value} strings"
        else:
            return f"unsupported element {kind!r}"
    return None


class TeamsWorkflow(LocalService):
    """A Teams workflow trigger: 202 Accepted, or 400 with an error object."""

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        payload = _json(body)
        error = None
        if not isinstance(payload, dict) or payload.get("type") != "message":
            error = "type must be message"
        else:
            attachments = payload.get("attachments")
            if not isinstance(attachments, list) or not attachments:
                error = "attachments must be a non-empty list"
            else:
                for attachment in attachments:
                    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
                        error = "contentType must be application/vnd.microsoft.card.adaptive"
                    else:
                        error = adaptive_card_error(attachment.get("content"))
                    if error:
                        break
        if error:
            return web.json_response(
                {"error": {"code": "InvalidRequestContent", "message": error}}, status=400
            )
        self.accepted.append(payload)
        return web.Response(status=202)


# --------------------------------------------------------------------------- Discord


def discord_embed_error(embed: Any) -> str | None:
    if not isinstance(embed, dict):
        return "embed must be an object"
    total = 0
    for key, limit in (("title", 256), ("description", 4096)):
        if key in embed:
            if not _is_text(embed[key], 0, limit):
                return f"{key} must be at most {limit} characters"
            total += len(embed[key])
    if "color" in embed and not (isinstance(embed["color"], int) and 0 <= embed["color"] <= 0xFFFFFF):
        return "color must be an integer 0..0xFFFFFF"
    if "timestamp" in embed:
        try:
            datetime.fromisoformat(embed["timestamp"].replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            return "timestamp must be ISO8601"
    fields = embed.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 25:
        return "at most 25 fields"
    for field in fields:
        if not _is_text(field.get("name"), 1, 256) or not _is_text(field.get("value"), 1, 1024):
            return "field name must be 1..256 and value 1..1024 characters"
        if "inline" in field and not isinstance(field["inline"], bool):
            return "inline must be a boolean"
        total += len(field["name"]) + len(field["value"])
    if "footer" in embed:
        if not _is_text(embed["footer"].get("text"), 1, 2048):
            return "footer.text must be 1..2048 characters"
        total += len(embed["footer"]["text"])
    if total > 6000:
        return "embeds exceed 6000 characters"
    return None


class DiscordWebhook(LocalService):
    """Execute Webhook: 200 with the message (``wait=true``) or 204; 400 code 50035."""

    next_id = 1000

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if not re.fullmatch(r"/api/webhooks/\d+/[\w-]+", request.path):
            return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        payload = _json(body)
        if not isinstance(payload, dict):
            return web.json_response({"message": "Cannot send an empty message", "code": 50006},
                                     status=400)
        errors: dict[str, Any] = {}
        if "content" in payload and not _is_text(payload["content"], 0, 2000):
            errors["content"] = "must be 2000 or fewer in length"
        embeds = payload.get("embeds", [])
        if not isinstance(embeds, list) or len(embeds) > 10:
            errors["embeds"] = "at most 10 embeds"
        else:
            for index, embed in enumerate(embeds):
                if error := discord_embed_error(embed):
                    errors[f"embeds.{index}"] = error
        if not payload.get("content") and not embeds:
            return web.json_response({"message": "Cannot send an empty message", "code": 50006},
                                     status=400)
        if errors:
            return web.json_response(
                {"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400
            )
        self.accepted.append(payload)
        if request.query.get("wait") == "true":
            self.next_id += 1
            return web.json_response({"id": str(self.next_id), "type": 0, **payload})
        return web.Response(status=204)


# --------------------------------------------------------------------------- PagerDuty


class PagerDutyEvents(LocalService):
    """Events API v2 at ``/v2/enqueue``: 202 with the dedup_key, 400 ``invalid event``.

    Keeps the state PagerDuty would: one alert per dedup_key (triggered, acknowledged,
    resolved), with how many trigger events were folded into it."""

    def __init__(self) -> None:
        super().__init__()
        self.alerts: dict[str, dict[str, Any]] = {}

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if request.path != "/v2/enqueue" or request.method != "POST":
            return web.json_response({"status": "not found"}, status=404)
        event = _json(body)
        errors = self.errors(event)
        if errors:
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                status=400,
            )
        key = event.get("dedup_key") or hashlib.md5(body).hexdigest()
        action = event["event_action"]
        alert = self.alerts.get(key)
        if action == "trigger":
            if alert is None or alert["status"] == "resolved":
                alert = self.alerts[key] = {"status": "triggered", "triggers": 0, "events": []}
            alert["triggers"] += 1
        elif alert is not None and alert["status"] != "resolved":
            alert["status"] = "acknowledged" if action == "acknowledge" else "resolved"
        if alert is not None:
            alert["events"].append(event)
        self.accepted.append(event)
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )

    @staticmethod
    def errors(event: Any) -> list[str]:
        if not isinstance(event, dict):
            return ["Event object is not JSON"]
        errors = []
        if not (isinstance(event.get("routing_key"), str) and len(event["routing_key"]) == 32):
            errors.append("'routing_key' is missing or blank")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
        if "dedup_key" in event and not _is_text(event["dedup_key"], 1, 255):
            errors.append("'dedup_key' must be 1..255 characters")
        if action in ("acknowledge", "resolve") and not event.get("dedup_key"):
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                return [*errors, "'payload' is missing"]
            if not _is_text(payload.get("summary"), 1, 1024):
                errors.append("'payload.summary' must be 1..1024 characters")
            if not _is_text(payload.get("source"), 1, 255):
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                errors.append("'payload.severity' is invalid")
            if "timestamp" in payload:
                try:
                    datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
                except ValueError:
                    errors.append("'payload.timestamp' is not ISO 8601")
            for key in ("component", "group", "class"):
                if key in payload and not isinstance(payload[key], str):
                    errors.append(f"'payload.{key}' must be a string")
            if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
                errors.append("'payload.custom_details' must be an object")
        return errors


# --------------------------------------------------------------------------- generic webhook


class WebhookReceiver(LocalService):
    """A receiver that checks the HMAC signature and honours the Idempotency-Key.

    `processed` holds each key once, in the order first received; `requests` holds every
    attempt. `mode` simulates trouble: "ok", "unavailable" (503), "hang" (processes the
    notification, then answers too late, as when an answer is lost on the way back)."""

    def __init__(self, secret: str, *, hang_for: float = 5.0) -> None:
        super().__init__()
        self.secret = secret.encode()
        self.hang_for = hang_for
        self.mode = "ok"
        self.processed: dict[str, dict[str, Any]] = {}
        self.duplicates = 0

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if self.mode == "unavailable":
            return web.Response(status=503, text="down for maintenance")
        timestamp = request.headers.get("X-Sentineld-Timestamp", "")
        signature = request.headers.get("X-Sentineld-Signature", "")
        expected = "sha256=" + hmac.new(
            self.secret, timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return web.Response(status=401, text="bad signature")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return web.Response(status=401, text="stale timestamp")
        key = request.headers.get("Idempotency-Key")
        if not key:
            return web.Response(status=400, text="Idempotency-Key header required")
        payload = json.loads(body)
        if payload.get("key") != key:
            return web.Response(status=422, text="body key and Idempotency-Key differ")
        if key in self.processed:
            self.duplicates += 1
        else:
            self.processed[key] = payload
        if self.mode == "hang":
            await asyncio.sleep(self.hang_for)
        return web.json_response({"received": key})
