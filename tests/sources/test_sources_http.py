"""The shared machinery of network sources: Retry-After and X-RateLimit dialects, the SSE
framing, HTML to text, and the Reconnector's backoff (reset after progress) and health."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

from aiohttp import ClientSession, web
from harness_http import LocalServer

from sentineld.components import ComponentContext, HealthState, Source
from sentineld.html_text import html_to_text
from sentineld.sources_http import (
    HttpSourceOptions,
    MalformedPayload,
    RateBudget,
    RateLimited,
    Reconnector,
    StreamClosed,
    StreamSilent,
    iter_sse,
    retry_after_seconds,
)
from sentineld.watch import WatchConfig


def test_retry_after_in_seconds_or_as_an_http_date():
    assert retry_after_seconds("7") == 7.0
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (retry_after_seconds(date, now=now) or 0) <= 31
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_rate_budget_reads_every_reset_dialect():
    budget = RateBudget(reserve=1)
    budget.update({"X-RateLimit-Remaining": "0.0", "X-RateLimit-Reset": "2"})  # Reddit
    assert 1.5 < budget.delay() <= 2
    budget.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 5)})
    assert 3.5 < budget.delay() <= 5
    iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 10))
    budget.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": iso})  # Mastodon
    assert 8 < budget.delay() <= 10
    budget.update({"X-RateLimit-Remaining": "250", "X-RateLimit-Reset": iso})
    assert budget.delay() == 0


async def test_sse_framing_and_silence():
    body = (b": welcome\n\nevent: update\ndata: {\"a\":\ndata: 1}\n\n:thump\n"
            b"data: no event name\r\n\r\nevent: delete\ndata: 42\n\n")

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(body)
        if request.query.get("stall"):
            await asyncio.sleep(5)
        return response

    app = web.Application()
    app.router.add_get("/s", handler)
    async with LocalServer(app) as server, ClientSession() as session:
        events = []
        async with session.get(server.url("/s")) as response:
            try:
                async for event in iter_sse(response, silence_limit=2):
                    events.append((event.event, event.data))
            except StreamClosed:
                pass
        assert events == [("update", '{"a":\n1}'), ("message", "no event name"), ("delete", "42")]
        async with session.get(server.url("/s?stall=1")) as response:
            started = time.monotonic()
            try:
                async for _ in iter_sse(response, silence_limit=0.3):
                    pass
            except StreamSilent:
                assert time.monotonic() - started >= 0.3
            else:
                raise AssertionError("a stalled stream was not detected")


def test_html_to_text():
    html = ('<p>Hi <span class="h-card"><a class="u-url mention">@<span>acme</span></a></span>'
            ' &amp; co<br>see <a href="https://x.test/a"><span class="invisible">https://</span>'
            '<span class="ellipsis">x.test/</span><span class="invisible">a</span></a></p>'
            '<script>alert(1)</script><p>bye\n  now</p>')
    assert html_to_text(html) == "Hi @acme & co\nsee https://x.test/a\n\nbye now"
    assert html_to_text("plain text") == "plain text"


class _Probe(Source):
    type_name = "probe"


def _probe() -> _Probe:
    context = ComponentContext(id="probe", kind="source", watch=WatchConfig(), state_dir=".")  # type: ignore[arg-type]
    return _Probe(None, context)


async def test_reconnector_backs_off_resets_after_progress_and_keeps_health():
    source = _probe()
    sleeps: list[float] = []
    states: list[HealthState] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        states.append(source.health.state)

    options = HttpSourceOptions(backoff_initial=1, backoff_max=100, failing_after=3)
    reconnector = Reconnector(source, options, sleep=sleep)
    script: list[Any] = [OSError("down"), OSError("down"), OSError("down"), "progress",
                         OSError("dropped"), RateLimited("429", 7.0),
                         MalformedPayload("not JSON", b"<html>"), "done"]

    async def attempt() -> None:
        step = script.pop(0)
        if step == "progress":
            reconnector.progressed()
            raise OSError("dropped after working")
        if step == "done":
            return
        raise step

    await reconnector.run(attempt)
    # 1, 2, 4 (+ up to 1 s jitter); after progress the backoff starts over at 1.
    assert [int(s) for s in sleeps[:3]] == [1, 2, 4]
    assert 1 <= sleeps[3] < 2
    assert 2 <= sleeps[4] < 3
    assert 7 <= sleeps[5] <= 7.7  # what Retry-After asked, not the backoff
    assert states[:3] == [HealthState.DEGRADED, HealthState.DEGRADED, HealthState.FAILING]
    assert states[5] == HealthState.DEGRADED  # rate limited is not an outage
    assert source.malformed == 1
