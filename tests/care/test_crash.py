"""crash: ``kill -9`` of ``sentineld run`` while customers write and the brand answers. After
restarts the cases, their mentions and answers, and the unanswered alerts are exactly those of a
clean replay of the same stream: nothing counted twice, nothing lost."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentineld.model import encode_mention
from tests.care.helpers import bluesky, email
from tests.crashing import kill_while_ingesting, run_to_end

CONFIG = """
[sentineld]
state_dir = "state"
tick = "1m"
checkpoint_interval = "1s"

[watch]
brand = ["acme"]
accounts = ["acme.bsky.social", "care@acme.example"]

[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "50ms"
batch_size = 20

[triggers.waiting]
type = "unanswered"

[cases]
first_response = "20m"
"""


def conversation_stream() -> list[str]:
    """Customers e-mail and post; the brand answers some of them, some late. Event times start
    tomorrow, so the live daemon's wall-clock ticks never run ahead of the stream."""
    rng = random.Random(11)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    minutes = (start - datetime(2026, 11, 24, 9, 0, tzinfo=UTC)).total_seconds() / 60
    mentions = []
    for i in range(120):
        at = minutes + i * 3
        who = rng.randrange(40)
        if rng.random() < 0.4:
            mention = email(f"c{who}@example.com", f"Problem {i}\n\n-- \nC{who}\n@c{who}.bsky.social",
                            minutes=at, ident=f"<m{i}@mail.example>")
        else:
            mention = bluesky(f"did:plc:c{who}", f"c{who}.bsky.social", f"@acme.bsky.social problem {i}",
                              minutes=at, rkey=f"3kc{i:05d}")
        mentions.append(mention)
        if rng.random() < 0.5:
            delay = rng.choice([5, 10, 40])
            if mention.source == "email":
                answer = email("care@acme.example", f"Re {i}", minutes=at + delay, reply_to=mention.id,
                               ident=f"<r{i}@acme.example>")
            else:
                answer = bluesky("did:plc:acme", "acme.bsky.social", f"@c{who}.bsky.social on it",
                                 minutes=at + delay, reply_to=mention.id, rkey=f"3kr{i:05d}")
            mentions.append(answer)
    mentions.sort(key=lambda m: (m.created_at, m.id))
    return [encode_mention(m).decode() for m in mentions]


def snapshot(db_path: Path) -> dict[str, object]:
    db = sqlite3.connect(db_path)
    try:
        return {
            "cases": sorted(db.execute(
                "SELECT id, customer, state, severity, opened_us, sla_due_us, first_response_us FROM cases")),
            "case_mentions": sorted(db.execute(
                "SELECT mention_id, case_id, role, due_us, answered_by, answers FROM case_mentions")),
            "identities": sorted(db.execute("SELECT key, customer, origin FROM identities")),
            "alerts": sorted((row[0], json.loads(row[1])["opened_at"], json.loads(row[1])["resolved_at"],
                              tuple(json.loads(row[1])["mentions"]))
                             for row in db.execute("SELECT id, body FROM alerts")),
        }
    finally:
        db.close()


@pytest.mark.slow
def test_kill_9_while_customers_write_counts_every_case_event_once(tmp_path: Path, cli) -> None:
    lines = conversation_stream()
    (tmp_path / "sentineld.toml").write_text(CONFIG)
    (tmp_path / "stream.jsonl").write_text("".join(line + "\n" for line in lines))
    reference_dir = tmp_path / "reference"
    replayed = cli("replay", "-c", str(tmp_path / "sentineld.toml"), "--state-dir", str(reference_dir),
                   str(tmp_path / "stream.jsonl"))
    assert replayed.returncode == 0, replayed.stderr
    expected = snapshot(reference_dir / "sentineld.sqlite3")
    assert len(expected["cases"]) > 20 and len(expected["alerts"]) > 5  # type: ignore[arg-type]

    # Four mentions every 80 ms: the kills land while they are processed.
    killed = kill_while_ingesting(tmp_path, lines, kills=3, chunk=4, pause=(0.3, 1.0), seed=5, every=0.08)
    run_to_end(tmp_path, len(lines), settle=90)
    assert killed >= 3
    log = (tmp_path / "daemon.log").read_text()
    assert "re-fed mentions stored after the last checkpoint" in log  # the crash path was taken
    assert snapshot(tmp_path / "state" / "sentineld.sqlite3") == expected
