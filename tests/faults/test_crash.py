"""crash: `kill -9` of `sentineld run` while it ingests a growing file. After restarts, every
mention is stored exactly once, the alerts are exactly those a clean replay raises, and each
alert event reached the notifier exactly once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.crashing import (
    assert_same_outcome,
    clean_replay_outcome,
    influence_stream,
    kill_while_ingesting,
    run_to_end,
    shipped_components,
    stored_outcome,
)
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

    killed = kill_while_ingesting(tmp_path, lines, kills=kills, chunk=chunk, pause=pause, seed=3)
    run_to_end(tmp_path, len(lines), settle)
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
    crash_and_recover(tmp_path, cli, burst_stream(), kills=3, chunk=10, pause=(0.05, 0.8))


@pytest.mark.slow
def test_kill_9_ten_times_while_ingesting_100k_mentions(tmp_path: Path, cli) -> None:
    """Issue 9's crash drill: 100,000 mentions (three weeks of chatter with bursts), ten kills."""
    crash_and_recover(tmp_path, cli, long_stream(100_000), kills=10, chunk=500, pause=(0.1, 1.5),
                      settle=300)


#: The shipped scorers and triggers, with a registry hot set and early-write threshold small
#: enough that authors leave memory, pile up and come back many times within the drill.
SHIPPED_CONFIG = """
[sentineld]
state_dir = "state"
checkpoint_interval = "300ms"
tick = "1h"

[watch]
brand = ["acme", "@acme"]
accounts = ["acme"]

[influencers]
hot_authors = 40
recent_posts = 200
flush_every = 25

[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "50ms"
batch_size = 20

[notifiers.log]
type = "file"
path = "notified.jsonl"

[alerting]
group_by = ["id"]
""" + shipped_components()


@pytest.mark.slow
def test_kill_9_while_the_registry_pages_authors_out_restarts_exactly(tmp_path: Path, cli) -> None:
    """Issue 9's crash drill on the shipped components, the influence scorer among them: after
    ten kills, every mention stored once, each notified event once, and the scores, alerts,
    author records and cases those of a clean replay of the same stream."""
    lines = influence_stream(3000, authors=600)
    expected = clean_replay_outcome(tmp_path, SHIPPED_CONFIG, lines, cli)
    assert len(expected["alerts"]) > 10 and len(expected["authors"]) > 300, "the stream must exercise the registry"

    killed = kill_while_ingesting(tmp_path, lines, kills=10, chunk=10, pause=(0.2, 0.9), seed=4, every=0.04)
    run_to_end(tmp_path, len(lines), settle=120)
    assert killed >= 10
    log = (tmp_path / "daemon.log").read_text()
    assert "re-fed mentions stored after the last checkpoint" in log

    found = stored_outcome(tmp_path / "state" / "sentineld.sqlite3")
    assert len(found["scores"]) == len(lines)
    assert_same_outcome(expected, found)

    notified = [json.loads(line) for line in (tmp_path / "notified.jsonl").read_text().splitlines()]
    keys = [n["key"] for n in notified]
    assert len(keys) == len(set(keys))
    assert {f"{a}:{e}:log" for a, alert in found["alerts"].items() for e in ("opened", "resolved")
            if e == "opened" or alert[1] is not None} <= set(keys)
