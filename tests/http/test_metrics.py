"""/metrics is Prometheus text that prometheus-client's own parser reads, with the figures the
pipeline really holds; /readyz turns 503 when a source fails."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sentineld import Source, hookimpl
from sentineld.components import Emit
from tests.http.conftest import CONFIG, TOKEN, Running, start_daemon
from tests.running import chatter, mention_line

START = datetime(2026, 11, 24, 9, tzinfo=UTC)


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(family: Any, name: str, **labels: str) -> float:
    matches = [s.value for s in family.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, family.samples)
    return matches[0]


async def test_metrics_parse_and_match_the_pipeline(running: Running) -> None:
    quiet = chatter(START, minutes=10, per_minute=4)
    burst = [
        mention_line(len(quiet) + k, START + timedelta(minutes=10, seconds=5 + k),
                     "@acme lost my bag, worst airline ever", author=f"angry{k}")
        for k in range(30)
    ]
    running.feed(quiet + quiet[:10] + burst)  # ten duplicates
    total = len(quiet) + len(burst)
    await running.stored(total)
    await running.until(lambda: running.daemon.pipeline.stats.alerts_opened >= 1)
    await running.until(lambda: (running.path / "alerts.jsonl").exists())
    await running.until(lambda: running.daemon.pipeline.stats.checkpoints >= 1)

    def outbox_rows() -> dict[str, int]:
        db = sqlite3.connect(running.path / "state" / "sentineld.sqlite3")
        try:
            return dict(db.execute(
                "SELECT state, count(*) FROM outbox WHERE destination = 'out' GROUP BY state"))
        finally:
            db.close()

    await running.until(lambda: (r := outbox_rows()) and "pending" not in r)
    rows = outbox_rows()
    status, text = await running.get("/metrics")
    assert status == 200
    parsed = families(text)

    assert parsed["sentineld_mentions_received"].type == "counter"
    assert value(parsed["sentineld_mentions_received"], "sentineld_mentions_received_total", source="inbox") == total + 10
    assert value(parsed["sentineld_mentions_stored"], "sentineld_mentions_stored_total", source="inbox") == total
    assert value(parsed["sentineld_mentions_duplicate"], "sentineld_mentions_duplicate_total") == 10
    assert value(parsed["sentineld_queue_depth"], "sentineld_queue_depth", stage="score") >= 0
    assert value(parsed["sentineld_queue_capacity"], "sentineld_queue_capacity", stage="ingest") == 16

    stages = parsed["sentineld_stage_seconds"]
    assert stages.type == "histogram"
    for stage in ("ingest", "score", "trigger", "commit"):
        assert value(stages, "sentineld_stage_seconds_count", stage=stage) >= 1
        assert value(stages, "sentineld_stage_seconds_bucket", stage=stage, le="+Inf") >= 1

    opened = running.daemon.pipeline.stats.alerts_opened
    events = parsed["sentineld_alert_events"]
    assert value(events, "sentineld_alert_events_total", kind="volume_spike", event="opened") == opened
    open_now = parsed["sentineld_alerts_open"]
    assert sum(s.value for s in open_now.samples) == len(running.daemon.pipeline.alerts.open)

    outbox = parsed["sentineld_outbox_items"]
    assert rows and "pending" not in rows
    for state, count in rows.items():
        assert value(outbox, "sentineld_outbox_items", destination="out", state=state) == count
    assert value(parsed["sentineld_plugin_errors"], "sentineld_plugin_errors_total",
                 component="mood", kind="scorer", type="sentiment") == 0
    assert value(parsed["sentineld_source_health"], "sentineld_source_health", source="inbox", state="ok") == 1
    assert "process_resident_memory_bytes" in parsed or "process_cpu_seconds" in parsed


class BrokenSource(Source):
    """Its feed is down: every run raises."""

    type_name = "always_broken"

    async def run(self, emit: Emit) -> None:
        raise ConnectionError("feed down at 10.0.0.9")


class BrokenPlugin:
    @hookimpl
    def register_sources(self, register: Any) -> None:
        register(BrokenSource)


async def test_readyz_is_503_while_a_source_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aiohttp

    monkeypatch.setenv("SENTINELD_API_TEST_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    config = CONFIG + '\n[sources.feed]\ntype = "always_broken"\n'
    daemon, stop, task = await start_daemon(tmp_path, config, extra_plugins=(BrokenPlugin(),))
    url = daemon.http.url.rstrip("/")
    try:
        async with aiohttp.ClientSession() as session:
            running = Running(daemon, url, tmp_path, session, stop, task)

            async def feed_failed_and_inbox_started() -> tuple[int, Any] | None:
                # Each source's task starts on its own: the feed can fail while the inbox is
                # still "starting".
                status, body = await running.get("/readyz", token=False)
                states = {s["id"]: s["state"] for s in body["sources"]}
                return (status, body) if states["feed"] == "failing" and states["inbox"] != "starting" else None

            status, body = await running.until(feed_failed_and_inbox_started)
            assert status == 503
            assert body["failing"] == ["feed"]
            assert {s["id"]: s["state"] for s in body["sources"]} == {"inbox": "ok", "feed": "failing"}
            assert all("error" not in s for s in body["sources"])  # no details for strangers
            async with session.get(f"{url}/readyz", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                detailed = await response.json()
            feed = next(s for s in detailed["sources"] if s["id"] == "feed")
            assert "feed down" in feed["error"]
            async with session.get(f"{url}/healthz") as response:
                assert response.status == 200  # alive, just not ready
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0


async def test_queue_gauges_count_the_mentions_held_against_queue_mentions(tmp_path: Path) -> None:
    """The queues are bounded in mentions (decision 0043): the gauges say how many each holds."""
    from prometheus_client import CollectorRegistry, generate_latest

    from sentineld.config import load_config
    from sentineld.http.metrics import PipelineCollector
    from sentineld.pipeline import Pipeline, _IngestBatch
    from sentineld.store import open_store
    from sentineld.store.worker import StoreWorker
    from sentineld.testing import make_mention

    config = load_config(text=f'[sentineld]\nstate_dir = "{tmp_path}"\nqueue_mentions = 100\n'
                              '[watch]\nbrand = ["acme"]\n')
    worker = StoreWorker(open_store(tmp_path))
    try:
        pipeline = Pipeline(config, worker, live=False, notify=False, sources=[])
        stored = asyncio.get_running_loop().create_future()
        batch = [make_mention(f"acme {n}", id=f"t:{n}") for n in range(40)]
        pipeline.ingest_queue.put_nowait(_IngestBatch("s", batch, "c", stored))
        registry = CollectorRegistry()
        registry.register(PipelineCollector(lambda: pipeline, dict))
        parsed = families(generate_latest(registry).decode())
    finally:
        worker.close()

    held, room = parsed["sentineld_queue_mentions"], parsed["sentineld_queue_mentions_capacity"]
    assert value(held, "sentineld_queue_mentions", stage="ingest") == 40
    assert value(held, "sentineld_queue_mentions", stage="score") == 0
    assert value(room, "sentineld_queue_mentions_capacity", stage="commit") == 100
    assert value(parsed["sentineld_queue_depth"], "sentineld_queue_depth", stage="ingest") == 1
