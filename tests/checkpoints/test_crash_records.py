"""crash: ``kill -9`` of ``sentineld run`` whose checkpoints all come from `checkpoint_records`
(decision 0042: the score stage's early barrier when changed influencer records pile up), none
from the clock. After the restarts every outcome is that of a clean replay of the stream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.crashing import (
    assert_same_outcome,
    clean_replay_outcome,
    influence_stream,
    kill_while_ingesting,
    run_to_end,
    stored_outcome,
)
from tests.faults.test_crash import SHIPPED_CONFIG

#: The registry drill's config with no checkpoint by the clock (an hour apart, and the stream
#: never idles that long), no early write of evicted records, and a budget of 30 changed records.
RECORDS_CONFIG = (SHIPPED_CONFIG
                  .replace('checkpoint_interval = "300ms"', 'checkpoint_interval = "1h"\ncheckpoint_records = 30')
                  .replace("flush_every = 25", "flush_every = 100000"))


@pytest.mark.slow
def test_kill_9_while_checkpoints_come_from_changed_records_restarts_exactly(tmp_path: Path, cli) -> None:
    assert "checkpoint_records = 30" in RECORDS_CONFIG and "flush_every = 100000" in RECORDS_CONFIG
    lines = influence_stream(3000, authors=600)
    expected = clean_replay_outcome(tmp_path, RECORDS_CONFIG, lines, cli)

    killed = kill_while_ingesting(tmp_path, lines, kills=6, chunk=10, pause=(1.5, 3.0), seed=11, every=0.1)
    # The clock's checkpoints are an hour apart: the last one is the SIGTERM drain's.
    run_to_end(tmp_path, len(lines), settle=120, checkpointed=False)
    assert killed >= 6
    log = (tmp_path / "daemon.log").read_text()
    restored = {json.loads(line)["seq"] for line in log.splitlines()
                if line.startswith("{") and '"restored checkpoint"' in line}
    # Killed daemons store no final checkpoint and the clock's are an hour apart: every
    # checkpoint a restart found came from the changed records.
    assert len(restored) >= 2, restored

    found = stored_outcome(tmp_path / "state" / "sentineld.sqlite3")
    assert len(found["scores"]) == len(lines)
    assert_same_outcome(expected, found)
    keys = [json.loads(line)["key"] for line in (tmp_path / "notified.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys))
