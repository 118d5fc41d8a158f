"""`sentineld replay` and `sentineld score`: the interchange formats through the real pipeline."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.streams import ACME_CONFIG, burst_stream, log_records, long_stream, write_lines


def setup(tmp_path: Path, lines: list[str]) -> tuple[Path, Path]:
    config = tmp_path / "sentineld.toml"
    config.write_text(ACME_CONFIG)
    return config, write_lines(tmp_path / "stream.jsonl", lines)


def alerts_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_burst_of_negative_mentions_prints_its_alert(tmp_path: Path, cli) -> None:
    config, stream = setup(tmp_path, burst_stream())
    result = cli("replay", "--json", "-c", str(config), str(stream))
    assert result.returncode == 0, result.stderr
    alerts = alerts_of(result.stdout)
    opened = [a for a in alerts if a["resolved_at"] is None]
    assert {(a["kind"], a["subject"], a["channel"]) for a in opened} == {
        ("volume_spike", "brand", "*"), ("volume_spike", "brand", "bluesky")}
    brand_wide = next(a for a in opened if a["channel"] == "*")
    assert brand_wide["opened_at"].startswith("2026-11-23")
    assert brand_wide["evidence"]["observed"] > brand_wide["evidence"]["expected"] * 2
    assert set(brand_wide) >= {"id", "kind", "severity", "subject", "channel", "opened_at",
                               "resolved_at", "summary", "evidence", "mentions"}
    resolved = [a for a in alerts if a["resolved_at"] is not None]
    assert {a["id"] for a in resolved} == {a["id"] for a in opened}
    assert "alerts 2 opened, 2 resolved" in result.stderr


def test_quiet_stream_raises_nothing(tmp_path: Path, cli) -> None:
    config, stream = setup(tmp_path, burst_stream(burst=0))
    result = cli("replay", "--json", "-c", str(config), str(stream))
    assert result.returncode == 0 and result.stdout == ""


def test_replay_is_deterministic(tmp_path: Path, cli) -> None:
    config, stream = setup(tmp_path, burst_stream())
    first = cli("replay", "--json", "-c", str(config), str(stream)).stdout
    second = cli("replay", "--json", "-c", str(config), "-", input=stream.read_text()).stdout
    assert first and first == second


def test_bad_lines_are_reported_skipped_and_counted(tmp_path: Path, cli) -> None:
    lines = burst_stream()
    lines.insert(5, "{not json")
    lines.insert(9, json.dumps({"id": "x", "source": "s", "text": "no time"}))
    config, stream = setup(tmp_path, lines)
    result = cli("replay", "--json", "-c", str(config), str(stream))
    assert result.returncode == 0
    skipped = [r for r in log_records(result.stderr) if r["event"] == "malformed payload skipped"]
    assert [(r["file"], r["line"]) for r in skipped] == [(str(stream), 6), (str(stream), 10)]
    assert skipped[0]["reason"].startswith("not valid JSON")
    assert skipped[1]["reason"] == "created_at: required field is missing"
    assert "2 malformed skipped" in result.stderr
    assert len(alerts_of(result.stdout)) == 4


def test_replay_state_dir_resumes_without_repeating(tmp_path: Path, cli) -> None:
    config, stream = setup(tmp_path, burst_stream())
    state = tmp_path / "kept"
    first = cli("replay", "--json", "--state-dir", str(state), "-c", str(config), str(stream))
    again = cli("replay", "--json", "--state-dir", str(state), "-c", str(config), str(stream))
    assert len(alerts_of(first.stdout)) == 4
    assert again.stdout == "" and "0 stored" in again.stderr


def test_replay_into_a_running_daemons_state_dir_is_refused(tmp_path: Path, cli) -> None:
    """`--state-dir` naming a live daemon's store (decision 0604), or one that cannot be made:
    a sentence and exit 1, not a second writer nor a traceback."""
    import os

    from sentineld.store.sqlite import lock_state_dir

    config, stream = setup(tmp_path, burst_stream())
    state = tmp_path / "daemon-state"
    held = lock_state_dir(state)
    try:
        busy = cli("replay", "--state-dir", str(state), "-c", str(config), str(stream))
    finally:
        os.close(held)
    assert busy.returncode == 1
    assert busy.stderr.strip() == (f"sentineld: another sentineld (pid {os.getpid()}) is running on the state "
                                   f"directory {state}; stop it first, or give this one its own state_dir")
    (tmp_path / "file").write_text("")
    blocked = cli("replay", "--state-dir", str(tmp_path / "file" / "state"), "-c", str(config), str(stream))
    assert blocked.returncode == 1 and blocked.stderr.startswith("sentineld: cannot create state directory")
    assert cli("replay", "--state-dir", str(state), "-c", str(config), str(stream)).returncode == 0


def test_replay_finishes_its_queued_work_however_long_the_drain(tmp_path: Path, cli) -> None:
    """`stop_timeout` bounds a daemon's drain after SIGTERM (what it cancels is re-fed at the
    next start); a replay has no next start, so the mentions queued when its file ends are all
    scored and committed, however long that takes."""
    config, stream = setup(tmp_path, long_stream(20_000))
    hurried = tmp_path / "hurried.toml"
    hurried.write_text(ACME_CONFIG.replace('tick = "1h"', 'tick = "1h"\nstop_timeout = "1ms"'))
    state = tmp_path / "kept"
    result = cli("replay", "--state-dir", str(state), "-c", str(hurried), str(stream))
    assert result.returncode == 0, result.stderr
    assert "drain timed out" not in result.stderr
    with sqlite3.connect(state / "sentineld.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM mention_scores").fetchone()[0] == 20_000


def test_missing_file_is_a_clear_error(tmp_path: Path, cli) -> None:
    config, _ = setup(tmp_path, [])
    result = cli("replay", "-c", str(config), str(tmp_path / "nope.jsonl"))
    assert result.returncode == 1 and "nope.jsonl: no such file" in result.stderr


def test_score_prints_scored_mentions(tmp_path: Path, cli) -> None:
    config, _ = setup(tmp_path, [])
    lines = [
        json.dumps({"id": "t:1", "source": "t", "created_at": "2026-11-24T09:00:00Z",
                    "text": "@acme you lost my bag, this is terrible", "thread": 4}),
        "garbage",
        json.dumps({"id": "t:2", "source": "t", "created_at": "2026-11-24T09:01:00Z",
                    "text": "Loving the new lounge, thank you"}),
    ]
    result = cli("score", "-c", str(config), "-", input="\n".join(lines) + "\n")
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["t:1", "t:2"]
    assert rows[0]["labels"]["sentiment"] == "negative" and rows[0]["scores"]["sentiment"] < 0
    assert rows[0]["matches"] == ["brand"] and rows[0]["extra"] == {"thread": 4}
    assert rows[1]["labels"]["sentiment"] == "positive" and rows[1]["matches"] == []
    skipped = [r for r in log_records(result.stderr) if r["event"] == "malformed line skipped"]
    assert [(r["file"], r["line"]) for r in skipped] == [("<stdin>", 2)]
    assert "1 malformed skipped" in result.stderr


async def test_several_files_are_replayed_one_after_another(tmp_path: Path) -> None:
    """`replay a.jsonl b.jsonl` is the replay of the two files end to end, whatever the
    scheduling: they were read as concurrent sources, and with the queues full the order of
    their batches (and so the alerts) changed from run to run."""
    from sentineld.replay import replay
    from sentineld.testing import Harness, make_mention

    harness = Harness(tmp_path).configure(sentineld={"batch_size": 10, "queue_mentions": 20})
    first = harness.write_jsonl([make_mention(f"@acme a{n}", id=f"t:a{n}", minutes=n) for n in range(300)], "a.jsonl")
    second = harness.write_jsonl([make_mention(f"@acme b{n}", id=f"t:b{n}", minutes=300 + n) for n in range(300)],
                                 "b.jsonl")
    config = harness.config()
    await replay(config, [str(first), str(second)], state_dir=config.state_dir)
    db = sqlite3.connect(config.state_dir / "sentineld.sqlite3")
    try:
        stored = [row[0] for row in db.execute("SELECT id FROM mentions ORDER BY seq")]
    finally:
        db.close()
    assert stored == [f"t:a{n}" for n in range(300)] + [f"t:b{n}" for n in range(300)]
