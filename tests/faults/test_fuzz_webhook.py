"""bad input: property-based fuzzing of the webhook ENDPOINT over a real socket.

A real webhook source runs in the real pipeline with a real SQLite store and listens on
127.0.0.1. Each example writes one raw HTTP request (so header bytes, framing and lengths can be
anything a client can send): random methods and paths, bearer tokens right and wrong, signatures
valid, stale, future, malformed or of another body, content types, lengths that lie, bodies from
near-valid Mention JSON to junk, over the size limit or cut short.

The property: the answer is a JSON 202 or a JSON 4xx that says what is wrong, never a 5xx,
never a hang; a request that is not authenticated is a 401; nothing is stored unless the answer
is 202, and a 202 stores what it says.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sentineld.config import load_config
from sentineld.model import Mention
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld_plugins.sources.webhook.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.faults.fuzz_support import StandIn, json_junk, near

TOKEN = "fuzz-bearer-token"
SECRET = "fuzz-signing-secret"
MAX_BODY = 4096
FRESH_IDS = itertools.count(2)
#: A refusal's reason names one of these: a field of the Mention format, or what the item is.
EXPLAINED = (*Mention.__struct_fields__, "JSON", "object")
EXAMPLES = int(os.environ.get("SENTINELD_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES * 2, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@dataclass
class Endpoint:
    stand_in: StandIn
    host: str
    port: int
    store: StoreWorker
    pipeline: Pipeline

    def stored(self) -> int:
        return self.stand_in.run(self.store.call("count_mentions"))

    def assert_pipeline_alive(self) -> None:
        for task in self.pipeline._tasks:
            if task.done():
                raise AssertionError(f"pipeline {task.get_name()} stopped: {task.exception()!r}")


@pytest.fixture(scope="module")
def endpoint(stand_in: StandIn, fuzz_dir: Path) -> Iterator[Endpoint]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FUZZ_HOOK_TOKEN", TOKEN)
        patch.setenv("FUZZ_HOOK_SECRET", SECRET)
        config = load_config(text=tomli_w.dumps({
            "sentineld": {"state_dir": str(fuzz_dir / "webhook-state"), "checkpoint_interval": "1s"},
            "watch": {"brand": ["acme"]},
            "sources": {"hook": {"type": "webhook", "listen": "127.0.0.1:0", "max_body": MAX_BODY,
                                 "token": {"env": "FUZZ_HOOK_TOKEN"},
                                 "signing_secret": {"env": "FUZZ_HOOK_SECRET"}}},
            # What is accepted goes on through scoring and triggering: it must not break them.
            "scorers": {kind: {"type": kind} for kind in ("sentiment", "influence", "virality")},
            "triggers": {kind: {"type": kind} for kind in (
                "volume_spike", "negativity_spike", "influencer_mention", "viral_post", "new_term", "unanswered")},
        }), entry_points=False)
    worker = StoreWorker(open_store(config.state_dir))
    pipeline = Pipeline(config, worker, live=True, notify=False)
    stand_in.run(pipeline.start())
    source: Any = next(g.component for g in pipeline.sources if g.id == "hook")

    async def listening() -> str:
        while not source.addresses:
            await asyncio.sleep(0.01)
        return source.addresses[0]

    host, _, port = stand_in.run(listening()).rpartition(":")
    try:
        yield Endpoint(stand_in, host, int(port), worker, pipeline)
    finally:
        stand_in.run(pipeline.stop())
        worker.close()


# --------------------------------------------------------------------------- requests

MENTION = {"id": "crm:1", "source": "crm", "created_at": "2026-11-24T09:15:02Z", "text": "@acme lost my bag",
           "author": {"id": "jo", "handle": "jo", "followers": 12}, "metrics": {"likes": 1}}


def as_lines(items: list[Any]) -> bytes:
    return b"\n".join(json.dumps(item).encode() for item in items)


bodies = st.one_of(
    near(MENTION).map(lambda m: json.dumps(m).encode()),
    st.lists(near(MENTION), max_size=4).map(lambda ms: json.dumps(ms).encode()),
    st.lists(near(MENTION), min_size=1, max_size=4).map(as_lines),
    json_junk.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=120),
    st.sampled_from([
        b"", b"[]", b"null", b"[" * 3000, b'{"id": "\xff"}', b'"\\ud800"', b"\x00" * 10,
        b"x" * (MAX_BODY + 1), json.dumps([MENTION] * 60).encode(),  # over max_body
        json.dumps({**MENTION, "text": "\\ud800"}).encode(),
        json.dumps({**MENTION, "text": "\ud800"}).encode(),  # a lone surrogate, escaped by json
        json.dumps({**MENTION, "created_at": "0001-01-01T00:00:00+01:00"}).encode(),
    ]),
)
AUTH = ["bearer", "bearer", "wrong bearer", "bearer bytes", "basic", "empty bearer", "signed", "signed",
        "stale", "future", "signed other body", "non-digit time", "unicode digits", "huge time",
        "signature bytes", "no scheme", "timestamp only", "none"]
CONTENT_TYPES = [b"application/json", b"application/json", b"application/x-ndjson",
                 b"application/json; charset=latin-1", b"text/plain", b"", None,
                 b"multipart/form-data; boundary=x", b"\xff/\xfe"]
FRAMING = ["length", "length", "chunked", "over limit", "cut short"]


def auth_headers(kind: str, body: bytes) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The headers of an authentication choice, and whether they authenticate the request."""
    now = int(time.time())

    def signed(moment: int | str, over: bytes = body) -> list[tuple[bytes, bytes]]:
        return [(TIMESTAMP_HEADER.encode(), str(moment).encode()),
                (SIGNATURE_HEADER.encode(), sign(SECRET, moment, over).encode())]

    table: dict[str, tuple[list[tuple[bytes, bytes]], bool]] = {
        "bearer": ([(b"Authorization", f"Bearer {TOKEN}".encode())], True),
        "wrong bearer": ([(b"Authorization", f"Bearer {TOKEN}x".encode())], False),
        "bearer bytes": ([(b"Authorization", b"Bearer \xff\xfe" + TOKEN.encode())], False),
        "basic": ([(b"Authorization", f"Basic {TOKEN}".encode())], False),
        "empty bearer": ([(b"Authorization", b"Bearer")], False),
        "no scheme": ([(b"Authorization", TOKEN.encode())], False),
        "signed": (signed(now), True),
        "stale": (signed(now - 301), False),
        "future": (signed(now + 301), False),
        "signed other body": (signed(now, body + b" "), False),
        "non-digit time": (signed(f"{now}.0"), False),
        "unicode digits": ([(TIMESTAMP_HEADER.encode(), "\u00b2\u0661".encode()),
                            (SIGNATURE_HEADER.encode(), b"sha256=00")], False),
        "huge time": ([(TIMESTAMP_HEADER.encode(), b"9" * 5000), (SIGNATURE_HEADER.encode(), b"sha256=00")], False),
        "signature bytes": ([(TIMESTAMP_HEADER.encode(), str(now).encode()),
                             (SIGNATURE_HEADER.encode(), b"sha256=\xff\xfe")], False),
        "timestamp only": ([(TIMESTAMP_HEADER.encode(), str(now).encode())], False),
        "none": ([], False),
    }
    return table[kind]


def request_bytes(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes, framing: str) -> bytes:
    head = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    head += [name + b": " + value for name, value in headers]
    if framing == "chunked":
        head.append(b"Transfer-Encoding: chunked")
        payload = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    elif framing == "over limit":
        head.append(f"Content-Length: {MAX_BODY + len(body) + 1}".encode())
        payload = body
    elif framing == "cut short":
        head.append(f"Content-Length: {len(body) + 100}".encode())
        payload = body
    else:
        head.append(f"Content-Length: {len(body)}".encode())
        payload = body
    return b"\r\n".join(head) + b"\r\n\r\n" + payload


async def exchange(host: str, port: int, raw: bytes, *, hang_up: bool = False) -> tuple[int, dict[str, str], bytes]:
    """Send `raw` (then close our side when `hang_up`) and read the answer as a client does: the
    head, then Content-Length bytes. Status 0: the server closed without answering."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(raw)
        await writer.drain()
        if hang_up:
            writer.write_eof()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            assert not exc.partial, f"a partial answer: {exc.partial[:200]!r}"
            return 0, {}, b""
        lines = head.decode("latin-1").strip().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    finally:
        writer.close()
    return int(lines[0].split(" ")[1]), headers, body


@FUZZ
@given(
    body=bodies, auth=st.sampled_from(AUTH), content_type=st.sampled_from(CONTENT_TYPES),
    framing=st.sampled_from(FRAMING),
    method=st.sampled_from(["POST"] * 6 + ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.sampled_from(["/ingest"] * 6 + ["/ingest?x=1", "/ingest/", "/other", "/INGEST"]),
)
def test_any_request_gets_a_json_4xx_or_202_and_stores_only_on_202(
    endpoint: Endpoint, body: bytes, auth: str, content_type: bytes | None, framing: str, method: str, path: str,
) -> None:
    body = body.replace(b'"crm:1"', f'"crm:{next(FRESH_IDS)}"'.encode())  # a stored id hides what storing does
    headers, authenticated = auth_headers(auth, body)
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    before = endpoint.stored()
    raw = request_bytes(method, path, headers, body, framing)
    hang_up = framing == "cut short"  # the body never comes: the client gives up
    status, response_headers, answer = endpoint.stand_in.run(
        exchange(endpoint.host, endpoint.port, raw, hang_up=hang_up))
    event(f"{status}")
    if status == 0:
        assert hang_up, "the server closed the connection without an answer"
        assert endpoint.stored() == before
        return
    assert status < 500, f"{status}: {answer[:300]!r}"
    assert status == 202 or 400 <= status < 500
    after = endpoint.stored()
    if path.split("?")[0] != "/ingest":
        assert status == 404 and after == before  # not the endpoint: aiohttp's plain 404
        return
    assert response_headers.get("content-type", "").startswith("application/json"), (status, answer[:200])
    document = json.loads(answer)
    if status == 202:
        assert method == "POST" and authenticated and framing in ("length", "chunked")
        assert after - before == document["new"] and document["accepted"] >= document["new"]
        endpoint.stand_in.run(asyncio.sleep(0.02))  # let scoring and triggering take the batch
        endpoint.assert_pipeline_alive()
        return
    assert document["error"] and document["message"].strip(), document
    assert after == before, f"{status} but {after - before} mentions stored"
    if method == "POST" and not authenticated:
        # A signature covers the body, so the size and type checks come first; a bearer token
        # (or nothing) is refused before anything else.
        signature_headers = any(name.startswith(b"X-Sentineld") for name, _ in headers)
        assert status in ((401, 413, 415) if signature_headers else (401,)), document
    if method != "POST":
        assert status == 405


@FUZZ
@given(mentions=st.lists(near(MENTION, max_changes=3), min_size=1, max_size=5))
def test_accepted_mentions_never_break_scoring_or_triggering(endpoint: Endpoint, mentions: list[Any]) -> None:
    """Authenticated, well-framed requests of near-valid mentions: each is refused with a 400
    that names the field, or accepted and taken through every default scorer and trigger."""
    body = json.dumps(mentions).encode().replace(b'"crm:1"', f'"crm:{next(FRESH_IDS)}"'.encode())
    headers = [(b"Authorization", f"Bearer {TOKEN}".encode()), (b"Content-Type", b"application/json")]
    before = endpoint.stored()
    status, _, answer = endpoint.stand_in.run(
        exchange(endpoint.host, endpoint.port, request_bytes("POST", "/ingest", headers, body, "length")))
    document = json.loads(answer)
    event(f"{status}")
    if len(body) > MAX_BODY:
        assert status == 413 and document["limit"] == MAX_BODY
    elif status == 400:
        for problem in document["problems"]:
            # Where (the array index) and what: a field of the Mention format, or why it is no object.
            assert problem["at"] and any(word in problem["reason"] for word in EXPLAINED), problem
        assert endpoint.stored() == before
    else:
        assert status == 202, (status, document)
        endpoint.stand_in.run(asyncio.sleep(0.02))
    endpoint.assert_pipeline_alive()


def test_a_storm_of_connections_that_never_finish_does_not_block_the_endpoint(endpoint: Endpoint) -> None:
    """Slow clients (headers sent, body never) hold a connection each; a proper request still
    gets its answer meanwhile."""

    async def storm() -> int:
        idle = [await asyncio.open_connection(endpoint.host, endpoint.port) for _ in range(50)]
        for _, writer in idle:
            writer.write(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        body = json.dumps(MENTION).encode()
        request = request_bytes("POST", "/ingest", [(b"Authorization", f"Bearer {TOKEN}".encode()),
                                                   (b"Content-Type", b"application/json")], body, "length")
        status, _, _ = await exchange(endpoint.host, endpoint.port, request)
        for _, writer in idle:
            writer.close()
        return status

    assert endpoint.stand_in.run(storm(), timeout=20) == 202
