"""`sentineld run` under a (simulated) systemd: a real subprocess with ``$NOTIFY_SOCKET``.

- READY=1 once running; SIGTERM → STOPPING=1 and exit 0.
- SIGHUP with a good config: RELOADING=1 (with MONOTONIC_USEC) … READY=1; the new notifier is
  used and the trigger keeps its learned baseline.
- SIGHUP with a bad config: rejected with the reason logged; the old config keeps running.
- SIGHUP while mentions are queued behind a slow scorer: none is lost, each is scored once.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.running import (
    DaemonProcess,
    NotifyListener,
    append_lines,
    chatter,
    http_get,
    mention_line,
    wait_until,
)

pytestmark = pytest.mark.slow

TOKEN = "reload-test-token"
START = datetime(2026, 11, 24, 9, tzinfo=UTC)

BASE = """
[sentineld]
state_dir = "state"
checkpoint_interval = "200ms"
tick = "1h"
plugins_dir = "plugins"

[watch]
brand = ["acme", "@acme"]
competitors.rivaljet = ["rivaljet"]

[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "50ms"
batch_size = 5

[scorers.mood]
type = "sentiment"

[triggers.buzz]
type = "volume_spike"
window = "1m"
warmup = 3
min_count = 8

[http]
enabled = true
port = 0
token = { env = "SENTINELD_TEST_TOKEN" }
"""

NOTIFY_FIRST = """
[notifiers.first]
type = "file"
path = "first.jsonl"
"""

NOTIFY_SECOND = """
[notifiers.second]
type = "file"
path = "second.jsonl"
"""

SLOW_SCORER = '''
import asyncio

from sentineld import Options, Scorer, hookimpl


class SlowOptions(Options):
    delay: float = 0.02


class SlowScorer(Scorer):
    """Takes `delay` seconds per batch, so that batches queue up in front of it."""

    type_name = "slow"
    Options = SlowOptions

    async def score(self, mentions):
        await asyncio.sleep(self.options.delay)
        for mention in mentions:
            mention.scores["slow"] = mention.scores.get("slow", 0.0) + 1.0


@hookimpl
def register_scorers(register):
    register(SlowScorer)
'''


def spike(at: datetime, count: int, first_index: int) -> list[str]:
    return [
        mention_line(first_index + k, at + timedelta(seconds=k), "@acme lost my bag, worst airline ever",
                     author=f"angry{k}")
        for k in range(count)
    ]


@pytest.fixture
def service(tmp_path: Path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slow_scorer.py").write_text(SLOW_SCORER)
    (tmp_path / "inbox.jsonl").touch()
    listener = NotifyListener()
    started: list[DaemonProcess] = []

    def start(config: str) -> DaemonProcess:
        (tmp_path / "sentineld.toml").write_text(config)
        daemon = DaemonProcess(
            tmp_path / "sentineld.toml",
            env={"NOTIFY_SOCKET": listener.address, "SENTINELD_TEST_TOKEN": TOKEN},
        )
        started.append(daemon)
        try:
            listener.wait_for("READY", "1", timeout=30)
        except AssertionError as exc:
            daemon.stop()
            raise AssertionError(f"{exc}\nexit {daemon.proc.returncode}; stderr:\n{''.join(daemon.lines)}") from None
        return daemon

    start.listener = listener  # type: ignore[attr-defined]
    start.path = tmp_path  # type: ignore[attr-defined]
    yield start
    for daemon in started:
        daemon.stop()
    listener.close()


def alerts_in(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def metric_value(url: str, name: str, **labels: str) -> float | None:
    status, body = http_get(f"{url}/metrics", TOKEN)
    assert status == 200, body
    text = body.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_ready_then_sigterm_sends_stopping_and_exits_0(service) -> None:
    daemon = service(BASE + NOTIFY_FIRST)
    listener = service.listener
    ready = listener.messages[-1]
    assert ready["READY"] == "1" and ready["STATUS"].startswith("running:")
    daemon.signal(signal.SIGTERM)
    stopping = listener.wait_for("STOPPING", "1", timeout=10)
    assert stopping["STATUS"].startswith("stopping")
    assert daemon.wait() == 0
    assert daemon.logged("stopped")


def test_a_second_daemon_on_the_same_state_directory_is_refused(service) -> None:
    """Both ran, each delivering every notification and checkpointing over the other's state."""
    first = service(BASE + NOTIFY_FIRST)
    second = DaemonProcess(first.config, env={"SENTINELD_TEST_TOKEN": TOKEN})
    try:
        assert second.wait() == 1
    finally:
        second.stop()
    assert f"another sentineld (pid {first.pid}) is running on the state directory" in "".join(second.lines)
    assert first.proc.poll() is None
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    again = service(BASE + NOTIFY_FIRST)  # the lock went with the first daemon
    again.signal(signal.SIGTERM)
    assert again.wait() == 0


def test_reload_good_config_swaps_plugins_and_keeps_trigger_state(service) -> None:
    daemon = service(BASE + NOTIFY_FIRST)
    listener, path = service.listener, service.path
    quiet = chatter(START, minutes=10, per_minute=4)
    append_lines(path / "inbox.jsonl", quiet)
    url = daemon.url
    wait_until(lambda: metric_value(url, "sentineld_mentions_stored_total", source="inbox") == len(quiet))

    (path / "sentineld.toml").write_text(BASE + NOTIFY_SECOND)
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    daemon.signal(signal.SIGHUP)
    reloading = listener.wait_for("RELOADING", "1")
    assert int(reloading["MONOTONIC_USEC"]) >= before
    assert listener.wait_for("READY", "1")["STATUS"].startswith("running:")
    daemon.wait_for_log("configuration reloaded")

    append_lines(path / "inbox.jsonl", spike(START + timedelta(minutes=10, seconds=5), 30, len(quiet)))
    wait_until(lambda: alerts_in(path / "second.jsonl"))
    opened = [a for a in alerts_in(path / "second.jsonl") if a["event"] == "opened"]
    assert opened and opened[0]["alert"]["kind"] == "volume_spike"
    assert alerts_in(path / "first.jsonl") == []  # the old notifier is gone
    assert metric_value(url, "sentineld_reloads_total", result="ok") == 1.0
    # Counters carried over the reload: they only go up.
    assert metric_value(url, "sentineld_mentions_stored_total", source="inbox") == len(quiet) + 30

    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0


def test_reload_bad_config_is_rejected_and_the_old_one_keeps_running(service) -> None:
    daemon = service(BASE + NOTIFY_FIRST)
    listener, path = service.listener, service.path
    quiet = chatter(START, minutes=10, per_minute=4)
    append_lines(path / "inbox.jsonl", quiet)
    url = daemon.url

    (path / "sentineld.toml").write_text(
        (BASE + NOTIFY_SECOND).replace('window = "1m"', 'windw = "1m"')
    )
    daemon.signal(signal.SIGHUP)
    listener.wait_for("RELOADING", "1")
    ready = listener.wait_for("READY", "1")
    assert ready["STATUS"].startswith("reload rejected")
    rejected = daemon.wait_for_log("reload rejected; the running configuration stays")
    assert "triggers.buzz.windw: unknown key; did you mean 'window'?" in rejected["reason"]
    assert not daemon.logged("configuration reloaded")

    (path / "sentineld.toml").write_text("[sentineld\nnot toml")
    daemon.signal(signal.SIGHUP)
    listener.wait_for("RELOADING", "1")
    assert listener.wait_for("READY", "1")["STATUS"].startswith("reload rejected: ")
    rejections = wait_until(lambda: daemon.logged("reload rejected; the running configuration stays")[1:])
    assert "not valid TOML" in rejections[0]["reason"]

    append_lines(path / "inbox.jsonl", spike(START + timedelta(minutes=10, seconds=5), 30, len(quiet)))
    wait_until(lambda: alerts_in(path / "first.jsonl"))  # the old notifier still delivers
    assert not (path / "second.jsonl").exists()
    assert metric_value(url, "sentineld_reloads_total", result="rejected") == 2.0
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0


def test_reload_loses_no_queued_mention(service) -> None:
    config = BASE + NOTIFY_FIRST + '\n[scorers.slow]\ntype = "slow"\ndelay = 0.03\n'
    daemon = service(config)
    listener, path = service.listener, service.path
    lines = chatter(START, minutes=100, per_minute=4)  # 400 mentions, 80 batches
    url = daemon.url
    append_lines(path / "inbox.jsonl", lines)

    def backlog() -> bool:
        status = json.loads(http_get(f"{url}/api/status", TOKEN)[1])
        return sum(status["queues"].values()) >= 4

    wait_until(backlog, interval=0.01)
    (path / "sentineld.toml").write_text(config.replace("delay = 0.03", "delay = 0.01"))
    daemon.signal(signal.SIGHUP)
    listener.wait_for("RELOADING", "1")
    listener.wait_for("READY", "1")
    daemon.wait_for_log("configuration reloaded")
    wait_until(lambda: metric_value(url, "sentineld_mentions_scored_total") == len(lines), timeout=30)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0

    db = sqlite3.connect(path / "state" / "sentineld.sqlite3")
    try:
        stored = db.execute("SELECT count(*) FROM mentions").fetchone()[0]
        unscored = db.execute("SELECT count(*) FROM mentions WHERE scored IS NULL").fetchone()[0]
        slow_scores = [
            json.loads(row[0])["scores"]["slow"]
            for row in db.execute("SELECT scored FROM mentions")
        ]
        checkpoint = db.execute("SELECT seq FROM checkpoints WHERE name = 'pipeline'").fetchone()[0]
    finally:
        db.close()
    assert stored == len(lines)
    assert unscored == 0
    assert set(slow_scores) == {1.0}  # each mention went through the scorers exactly once
    assert checkpoint == len(lines)
