"""crash: ``kill -9`` of ``sentineld run`` while the components whose states are checkpointed in
parts (decision 0015) work. After restarts their states and the alerts are those of a clean
replay of the same stream: each checkpoint's parts were written with it or not at all."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import numpy as np
import pytest

from sentineld.model import encode_mention
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from tests.checkpoints.test_components_in_parts import (
    EXACT, comparable, harness, replay, restored_states, stream,
)
from tests.crashing import kill_while_ingesting, run_to_end


def daemon_config(directory: Path) -> str:
    """The parts test's components, followed from inbox.jsonl by a live daemon."""
    built = harness(directory).configure(
        sentineld={"tick": "1m", "checkpoint_interval": "300ms"},
        sources={"inbox": {"type": "jsonl", "path": "inbox.jsonl", "poll_interval": "50ms", "batch_size": 40}},
    )
    return built.config_text


def alerts(db_path: Path) -> dict[str, tuple[object, ...]]:
    db = sqlite3.connect(db_path)
    try:
        rows = {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, body FROM alerts")}
    finally:
        db.close()
    return {key: (body["opened_at"], body["resolved_at"], tuple(body["mentions"])) for key, body in rows.items()}


@pytest.mark.slow
async def test_kill_9_while_states_are_checkpointed_in_parts_restores_them_exactly(tmp_path: Path, cli) -> None:
    # Event times start tomorrow, so the live daemon's wall-clock ticks never run ahead of them.
    shift = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1) - stream(1)[0].created_at
    mentions = stream(1500)
    for mention in mentions:
        mention.created_at += shift
    lines = [encode_mention(m).decode() for m in mentions]
    (tmp_path / "sentineld.toml").write_text(daemon_config(tmp_path))
    (tmp_path / "stream.jsonl").write_text("".join(line + "\n" for line in lines))
    reference = tmp_path / "reference"
    reference.mkdir()
    replayed = cli("replay", "-c", str(tmp_path / "sentineld.toml"), "--state-dir", str(reference / "state"),
                   str(tmp_path / "stream.jsonl"), timeout=600)
    assert replayed.returncode == 0, replayed.stderr
    (reference / "sentineld.toml").write_text(daemon_config(reference))
    expected = await restored_states(reference)
    expected_alerts = alerts(reference / "state" / "sentineld.sqlite3")
    assert set(expected) == set(EXACT) and len(expected_alerts) > 10

    killed = kill_while_ingesting(tmp_path, lines, kills=3, chunk=20, pause=(0.5, 1.5), seed=9, every=0.08)
    run_to_end(tmp_path, len(lines), settle=120)
    assert killed >= 3
    assert "re-fed mentions stored after the last checkpoint" in (tmp_path / "daemon.log").read_text()

    states, baseline = comparable(await restored_states(tmp_path))
    expected_states, expected_baseline = comparable(expected)
    assert states == expected_states
    assert np.allclose(baseline, expected_baseline, rtol=1e-9, atol=0)
    assert alerts(tmp_path / "state" / "sentineld.sqlite3") == expected_alerts
    components = msgspec.msgpack.decode(sqlite3.connect(tmp_path / "state" / "sentineld.sqlite3").execute(
        "SELECT state FROM checkpoints WHERE name = 'pipeline'").fetchone()[0])["components"]
    assert {components[c]["part"] for c in EXACT} == {"parts"}


async def test_a_long_refeed_restores_what_a_clean_replay_gives(tmp_path: Path) -> None:
    """A daemon killed before it could checkpoint for a while re-feeds more mentions than the
    components' bounds hold (virality's 300 posts here): handed over in batches a replay's size,
    they leave the states of a clean replay, as a short re-feed does."""
    mentions = stream(1500)
    await replay(tmp_path / "clean", mentions, "all.jsonl")
    expected_states, expected_baseline = comparable(await restored_states(tmp_path / "clean"))

    crashed = tmp_path / "crashed"
    await replay(crashed, mentions[:200], "first.jsonl")  # checkpointed at its end
    config = harness(crashed).config()
    worker = StoreWorker(open_store(config.state_dir))
    try:
        # Stored by the ingest stage, never checkpointed: the next start re-feeds all of them.
        await worker.call("ingest", "inbox", mentions[200:], "cursor")
        pipeline = Pipeline(config, worker, live=False, sources=[])
        await pipeline.start()
        await pipeline.stop(drain_fully=True)
    finally:
        worker.close()
    assert pipeline.stats.refed == 1300
    states, baseline = comparable(await restored_states(crashed))
    assert states == expected_states
    assert np.allclose(baseline, expected_baseline, rtol=1e-9, atol=0)
