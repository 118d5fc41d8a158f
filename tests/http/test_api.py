"""The HTTP side against a real in-process daemon: health, token auth, paging, alerts, series,
the live event stream, and the parts that are not built yet (501)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.http.conftest import CONFIG, TOKEN, Running, start_daemon
from tests.running import chatter, mention_line

START = datetime(2026, 11, 24, 9, tzinfo=UTC)


def spike(at: datetime, count: int, first_index: int) -> list[str]:
    return [
        mention_line(first_index + k, at + timedelta(seconds=k),
                     "@acme lost my bag, worst airline ever", author=f"angry{k}")
        for k in range(count)
    ]


async def test_health_needs_no_token_and_hides_errors_from_strangers(running: Running) -> None:
    status, body = await running.get("/healthz", token=False)
    assert (status, body) == (200, {"status": "ok"})

    async def source_started() -> tuple[int, Any] | None:
        answer = await running.get("/readyz", token=False)
        return answer if answer[1]["sources"][0]["state"] != "starting" else None

    # The daemon runs before its source has taken its first step: on a loaded machine /readyz
    # can still say "starting" at first.
    status, body = await running.until(source_started)
    assert status == 200 and body["status"] == "ready" and body["state"] == "running"
    assert body["sources"] == [{"id": "inbox", "type": "jsonl", "state": "ok"}]
    status, body = await running.get("/readyz")
    assert "error" in body["sources"][0]


@pytest.mark.parametrize("path", ["/api/status", "/api/mentions", "/api/alerts", "/api/series",
                                  "/api/cases", "/api/influencers", "/api/events", "/metrics"])
async def test_everything_beyond_health_needs_the_token(running: Running, path: str) -> None:
    status, body = await running.get(path, token=False)
    assert status == 401
    assert "token" in body["error"]
    async with running.session.get(running.url + path, headers={"Authorization": "Bearer wrong"}) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_dashboard_signs_in_with_a_session_cookie(running: Running) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(running.url + "/") as page:
            assert page.status == 200
            assert "Content-Security-Policy" in page.headers
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            html = await page.text()
            assert "/static/vendor/uPlot.iife.min.js" in html
        async with browser.get(running.url + "/static/vendor/uPlot.iife.min.js") as script:
            assert script.status == 200 and b"uPlot" in await script.read()
        async with browser.post(running.url + "/api/session", json={"token": "guess"}) as wrong:
            assert wrong.status == 403
        async with browser.get(running.url + "/api/status") as before:
            assert before.status == 401
        async with browser.post(running.url + "/api/session", json={"token": TOKEN}) as right:
            assert right.status == 200
            cookie = right.cookies["sentineld_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
            assert TOKEN not in cookie.value
        async with browser.get(running.url + "/api/status") as after:
            assert after.status == 200
        async with browser.delete(running.url + "/api/session") as out:
            assert out.status == 200
        async with browser.get(running.url + "/api/status") as signed_out:
            assert signed_out.status == 401


async def test_mention_pages_cover_every_mention_once_newest_first(running: Running) -> None:
    lines = chatter(START, minutes=30, per_minute=4)  # 120
    running.feed(lines)
    await running.stored(len(lines))
    seen: list[int] = []
    path = "/api/mentions?limit=50"
    pages = 0
    while path:
        status, body = await running.get(path)
        assert status == 200
        seen += [item["seq"] for item in body["items"]]
        path = body["next"]
        pages += 1
    assert pages == 3
    assert seen == sorted(set(seen), reverse=True) and len(seen) == len(lines)
    status, body = await running.get("/api/mentions?limit=1&source=mastodon")
    assert body["items"][0]["source"] == "mastodon"
    assert {"scores", "labels", "matches"} <= body["items"][0].keys()


@pytest.mark.parametrize("query", ["limit=0", "limit=100000", "limit=ten", "before=-1"])
async def test_bad_paging_parameters_are_a_json_400(running: Running, query: str) -> None:
    status, body = await running.get(f"/api/mentions?{query}")
    assert status == 400
    assert body["status"] == 400 and "must be an integer" in body["error"]


async def test_alerts_list_and_detail_with_evidence_and_mentions(running: Running) -> None:
    quiet = chatter(START, minutes=10, per_minute=4)
    running.feed(quiet + spike(START + timedelta(minutes=10, seconds=5), 30, len(quiet)))
    await running.stored(len(quiet) + 30)

    async def open_alerts() -> list:
        return (await running.get("/api/alerts?state=open"))[1]["items"]

    alerts = await running.until(open_alerts)
    brand = next(a for a in alerts if a["subject"] == "brand" and a["channel"] == "*")
    assert brand["kind"] == "volume_spike" and brand["resolved_at"] is None
    status, detail = await running.get(f"/api/alerts/{brand['id']}")
    assert status == 200
    assert detail["evidence"]["observed"] >= 8
    texts = {m["text"] for m in detail["mention_details"]}
    assert "@acme lost my bag, worst airline ever" in texts
    assert (await running.get("/api/alerts/nope"))[0] == 404
    assert (await running.get("/api/alerts?state=closed"))[0] == 400


async def test_an_alerts_detail_says_who_acknowledged_it_and_why_it_is_not_notified(running: Running) -> None:
    """What `sentineld alerts` prints under an alert, the dashboard's detail shows too."""
    from sentineld.alertrules import Silence
    from sentineld.store import open_store

    quiet = chatter(START, minutes=10, per_minute=4)
    running.feed(quiet + spike(START + timedelta(minutes=10, seconds=5), 30, len(quiet)))
    await running.stored(len(quiet) + 30)

    async def brand_alert() -> Any:
        items = (await running.get("/api/alerts?state=open"))[1]["items"]
        return next((a for a in items if a["kind"] == "volume_spike" and a["subject"] == "brand"), None)

    alert_id = (await running.until(brand_alert))["id"]
    status, detail = await running.get(f"/api/alerts/{alert_id}")
    assert status == 200 and detail["acknowledged"] is None and detail["muted"] is None

    now = datetime.now(UTC)
    store = open_store(running.path / "state")
    try:
        assert store.ack_alert(alert_id, now.timestamp(), "maya", "on it, calling the airport")
        store.add_silence(Silence(id="s1", matchers=["kind=volume_spike"], starts_at=now - timedelta(minutes=1),
                                  ends_at=now + timedelta(hours=1), reason="known outage", created_by="maya",
                                  created_at=now))
    finally:
        store.close()

    later = iter(chatter(START + timedelta(minutes=11), minutes=30, per_minute=1, first_index=10_000))

    async def muted() -> Any:
        # The daemon re-reads silences as it handles mentions (tick = 1h here): keep some coming.
        running.feed([next(later)])
        await asyncio.sleep(0.2)
        body = (await running.get(f"/api/alerts/{alert_id}"))[1]
        return body if body["muted"] else None

    detail = await running.until(muted)
    assert detail["acknowledged"]["by"] == "maya" and detail["acknowledged"]["note"] == "on it, calling the airport"
    assert detail["acknowledged"]["at"].endswith("Z")
    assert detail["muted"] == "silence s1: known outage"


async def test_case_queue_most_urgent_first_with_history(running: Running) -> None:
    lines = chatter(START, minutes=10, per_minute=4)  # customers writing to @acme
    running.feed(lines)
    await running.stored(len(lines))

    async def open_cases() -> list:
        return (await running.get("/api/cases?limit=100"))[1]["items"]

    cases = await running.until(open_cases)
    assert {c["state"] for c in cases} == {"new"}
    dues = [c["sla_due_at"] for c in cases]
    assert all(isinstance(due, str) and due.endswith("Z") for due in dues)  # ISO 8601
    assert dues == sorted(dues)  # the first to breach first
    status, detail = await running.get(f"/api/cases/{cases[0]['id']}")
    assert status == 200
    assert detail["history"] and all(h["mention"]["text"] for h in detail["history"])
    assert detail["history"][0]["role"] == "customer"
    assert (await running.get("/api/cases/nope"))[0] == 404
    status, body = await running.get("/api/cases?state=bogus")
    assert status == 400 and "state must be" in body["error"]


async def test_influencers_ranked_and_paged(running: Running) -> None:
    lines = [
        mention_line(k, START + timedelta(seconds=30 * k), "flying with @acme today",
                     author=f"famous{k}", followers=1000 * (k + 1))
        for k in range(12)
    ]
    running.feed(lines)
    await running.stored(len(lines))

    async def first_page() -> list:
        return (await running.get("/api/influencers?kind=connector&limit=5"))[1]["items"]

    page = await running.until(first_page)
    assert len(page) == 5
    scores = [p["connector"] for p in page]
    assert scores == sorted(scores, reverse=True)
    assert page[0]["handle"] == "famous11.example"  # the largest audience
    status, body = await running.get("/api/influencers?kind=connector&limit=5")
    status, second = await running.get(body["next"])
    assert {p["author"] for p in second["items"]}.isdisjoint({p["author"] for p in page})
    status, body = await running.get("/api/influencers?kind=loud")
    assert status == 400


async def test_event_stream_sends_hello_then_a_new_alert_live(running: Running) -> None:
    quiet = chatter(START, minutes=10, per_minute=4)
    running.feed(quiet)
    await running.stored(len(quiet))
    async with running.session.get(running.url + "/api/events", headers=running.auth) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = _events(stream)
        name, data = await asyncio.wait_for(events.__anext__(), 5)
        assert name == "hello" and data["status"]["state"] == "running"
        running.feed(spike(START + timedelta(minutes=10, seconds=5), 30, len(quiet)))
        seen: dict[str, list] = {}
        async with asyncio.timeout(15):
            async for name, data in events:
                seen.setdefault(name, []).append(data)
                if name == "alert":
                    break
        assert seen["alert"][0]["event"] == "opened"
        assert seen["alert"][0]["alert"]["kind"] == "volume_spike"


async def _events(response: aiohttp.ClientResponse):
    name, data = None, None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and name is not None:
            yield name, data
            name, data = None, None


async def test_series_counts_every_mention_once_across_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINELD_API_TEST_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    lines = chatter(START, minutes=20, per_minute=3)
    (tmp_path / "inbox.jsonl").write_text("".join(line + "\n" for line in lines))

    async def totals() -> tuple[dict, dict]:
        daemon, stop, task = await start_daemon(tmp_path)
        try:
            for _ in range(400):
                if daemon.http.live.high_water >= len(lines):
                    break
                await asyncio.sleep(0.025)
            snapshot = daemon.http.live.snapshot()
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        by_subject: dict[str, int] = {}
        by_channel: dict[str, int] = {}
        for _, subject, channel, count, *_ in snapshot["rows"]:
            by_subject[subject] = by_subject.get(subject, 0) + count
            if subject == "brand":
                by_channel[channel] = by_channel.get(channel, 0) + count
        return by_subject, by_channel

    first = await totals()
    second = await totals()  # back-filled from the store, nothing re-fed twice
    assert first == second
    by_subject, by_channel = first
    assert by_subject["brand"] == len(lines)  # every chatter line names @acme
    assert by_subject["competitor:rivaljet"] == sum("rivaljet" in line for line in lines)
    assert by_channel == {"bluesky": sum('"bluesky"' in l for l in lines),
                          "mastodon": sum('"mastodon"' in l for l in lines)}


WEBHOOK = CONFIG + """
[sources.hooks]
type = "webhook"
listen = ""
token = { env = "SENTINELD_API_TEST_TOKEN" }
"""


async def test_webhook_source_is_mounted_at_ingest_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINELD_API_TEST_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    daemon, stop, task = await start_daemon(tmp_path, WEBHOOK)
    url = daemon.http.url.rstrip("/")
    mention = json.loads(mention_line(1, START, "@acme webhook hello", source="crm"))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/ingest/hooks", json=[mention],
                                    headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                assert response.status == 202, await response.text()
                assert (await response.json())["new"] == 1
            async with session.post(f"{url}/ingest/hooks", json=[mention]) as response:
                assert response.status == 401  # the source's own authentication
            async with session.post(f"{url}/ingest/inbox", json=[mention]) as response:
                assert response.status == 404
                assert "does not take HTTP ingest" in (await response.json())["error"]
            async with session.post(f"{url}/ingest/nosuch", json=[mention]) as response:
                assert response.status == 404
            async with session.get(f"{url}/ingest/hooks") as response:
                assert response.status == 405
        assert daemon.pipeline.stats.stored_by_source == {"hooks": 1}
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
