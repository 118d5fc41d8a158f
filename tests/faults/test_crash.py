"""crash: `kill -9` of `sentineld run` while it ingests a growing file. After restarts, every
mention is stored exactly once, the alerts are exactly those a clean replay raises, and each
alert event reached the notifier exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.streams import ACME_CONFIG, burst_stream, long_stream

CONFIG = ACME_CONFIG + """
[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "50ms"
batch_size = 50

[notifiers.log]
type = "file"
path = "notified.jsonl"

[alerting]
# One notification group per alert, so that each alert's own opened and resolved keys show.
group_by = ["id"]
"""


def start(tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sentineld", "run", "-c", str(tmp_path / "sentineld.toml")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "daemon.log", "ab"),
    )


def db_state(tmp_path: Path) -> tuple[int, int]:
    """(mentions stored, sequence number of the last checkpoint)."""
    path = tmp_path / "state" / "sentineld.sqlite3"
    if not path.exists():
        return 0, 0
    db = sqlite3.connect(path, timeout=5)
    try:
        count = db.execute("SELECT count(*) FROM mentions").fetchone()[0]
        row = db.execute("SELECT seq FROM checkpoints WHERE name = 'pipeline'").fetchone()
        return count, row[0] if row else 0
    except sqlite3.OperationalError:
        return 0, 0
    finally:
        db.close()


def append_slowly(path: Path, lines: list[str], stop: threading.Event, chunk: int = 40) -> None:
    with path.open("a") as handle:
        for start in range(0, len(lines), chunk):
            if stop.is_set():
                return
            handle.write("".join(line + "\n" for line in lines[start:start + chunk]))
            handle.flush()
            time.sleep(0.02)


def crash_and_recover(tmp_path: Path, cli, lines: list[str], *, kills: int, chunk: int,
                      pause: tuple[float, float], settle: float = 120) -> None:
    """Append `lines` to the followed file while killing the daemon `kills` times at random
    moments, then run it to the end and check the store and the notifications against a clean
    replay of the same stream."""
    (tmp_path / "sentineld.toml").write_text(CONFIG)
    (tmp_path / "stream.jsonl").write_text("".join(line + "\n" for line in lines))
    reference = cli("replay", "--json", "-c", str(tmp_path / "sentineld.toml"), str(tmp_path / "stream.jsonl"),
                    timeout=600)
    assert reference.returncode == 0, reference.stderr
    expected_alerts = {}
    for line in reference.stdout.splitlines():
        alert = json.loads(line)
        expected_alerts[alert["id"]] = alert
    assert expected_alerts, "the stream must raise alerts for the test to mean anything"

    inbox = tmp_path / "inbox.jsonl"
    inbox.touch()
    stop = threading.Event()
    writer = threading.Thread(target=append_slowly, args=(inbox, lines, stop, chunk))
    writer.start()
    rng = random.Random(3)
    killed = 0
    try:
        while writer.is_alive() or killed < kills:
            daemon = start(tmp_path)
            time.sleep(rng.uniform(*pause))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            killed += 1
    finally:
        stop.set()
        writer.join()

    log_size = (tmp_path / "daemon.log").stat().st_size
    daemon = start(tmp_path)
    deadline = time.monotonic() + settle
    while b"sentineld running" not in (tmp_path / "daemon.log").read_bytes()[log_size:]:
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.1)
    while time.monotonic() < deadline:
        count, checkpoint = db_state(tmp_path)
        if count == len(lines) and checkpoint == count:
            break
        time.sleep(0.2)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=60) == 0
    assert killed >= kills

    db = sqlite3.connect(tmp_path / "state" / "sentineld.sqlite3")
    stored = [row[0] for row in db.execute("SELECT id FROM mentions")]
    assert len(stored) == len(lines) == len(set(stored))
    assert set(stored) == {json.loads(line)["id"] for line in lines}
    alerts = {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, body FROM alerts")}
    db.close()
    assert alerts.keys() == expected_alerts.keys()
    for alert_id, alert in alerts.items():
        assert alert["opened_at"] == expected_alerts[alert_id]["opened_at"]
        assert alert["resolved_at"] == expected_alerts[alert_id]["resolved_at"]

    notified = [json.loads(line) for line in (tmp_path / "notified.jsonl").read_text().splitlines()]
    keys = [n["key"] for n in notified]
    assert len(keys) == len(set(keys))
    assert sorted(k for k in keys if ":renotify:" not in k) == sorted(  # re-notify: [alerting]
        f"{a}:{e}:log" for a in alerts for e in ("opened", "resolved"))


@pytest.mark.slow
def test_kill_9_while_ingesting_loses_nothing_and_repeats_nothing(tmp_path: Path, cli) -> None:
    crash_and_recover(tmp_path, cli, burst_stream(), kills=3, chunk=40, pause=(0.6, 1.6))


@pytest.mark.slow
def test_kill_9_ten_times_while_ingesting_100k_mentions(tmp_path: Path, cli) -> None:
    """Issue 9's crash drill: 100,000 mentions (three weeks of chatter with bursts), ten kills."""
    crash_and_recover(tmp_path, cli, long_stream(100_000), kills=10, chunk=500, pause=(0.8, 2.5),
                      settle=300)
