"""Helpers for the crash drills: a real `sentineld run` subprocess on a followed file, killed with
SIGKILL at random moments while it ingests, then run to the end."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.streams import START

REPO = Path(__file__).resolve().parents[1]

#: Profiles, posts and replies that the influence scorer, the registry and influencer_mention read.
INFLUENCE_TEXTS = (
    "@acme lost my bag AGAIN, worst airline ever",
    "flying with @acme today",
    "@acme the crew was wonderful, thank you!",
    "@acme delayed three hours and nobody tells us anything. Terrible.",
    "acme lounge is fine I guess",
)


def start(tmp_path: Path) -> subprocess.Popen[bytes]:
    """`sentineld run` on tmp_path/sentineld.toml, its log appended to tmp_path/daemon.log."""
    return subprocess.Popen(
        [sys.executable, "-m", "sentineld", "run", "-c", str(tmp_path / "sentineld.toml")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "daemon.log", "ab"),
    )


def wait_running(tmp_path: Path, log_size: int, deadline: float) -> None:
    """Until the daemon started after the log had `log_size` bytes says it is running."""
    while b"sentineld running" not in (tmp_path / "daemon.log").read_bytes()[log_size:]:
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.05)


def log_size(tmp_path: Path) -> int:
    log = tmp_path / "daemon.log"
    return log.stat().st_size if log.exists() else 0


def db_state(tmp_path: Path) -> tuple[int, int, int]:
    """(mentions stored, sequence number of the last checkpoint, deliveries waiting in the
    outbox)."""
    path = tmp_path / "state" / "sentineld.sqlite3"
    if not path.exists():
        return 0, 0, 0
    db = sqlite3.connect(path, timeout=5)
    try:
        count = db.execute("SELECT count(*) FROM mentions").fetchone()[0]
        row = db.execute("SELECT seq FROM checkpoints WHERE name = 'pipeline'").fetchone()
        waiting = db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
        return count, row[0] if row else 0, waiting
    except sqlite3.OperationalError:
        return 0, 0, 0
    finally:
        db.close()


def append_slowly(
    path: Path, lines: list[str], stop: threading.Event, chunk: int = 40, every: float = 0.02
) -> None:
    with path.open("a") as handle:
        for begin in range(0, len(lines), chunk):
            if stop.is_set():
                return
            handle.write("".join(line + "\n" for line in lines[begin:begin + chunk]))
            handle.flush()
            time.sleep(every)


def kill_while_ingesting(
    tmp_path: Path, lines: list[str], *, kills: int, chunk: int, pause: tuple[float, float], seed: int,
    every: float = 0.02,
) -> int:
    """Append `lines` (`chunk` every `every` seconds) to tmp_path/inbox.jsonl while starting the daemon and killing it (SIGKILL)
    a random `pause` after it reports running, at least `kills` times and until every line is
    written. Returns how many times it was killed."""
    inbox = tmp_path / "inbox.jsonl"
    inbox.touch()
    stop = threading.Event()
    writer = threading.Thread(target=append_slowly, args=(inbox, lines, stop, chunk, every))
    writer.start()
    rng = random.Random(seed)
    killed = 0
    try:
        while writer.is_alive() or killed < kills:
            before = log_size(tmp_path)
            daemon = start(tmp_path)
            wait_running(tmp_path, before, time.monotonic() + 60)
            time.sleep(rng.uniform(*pause))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            killed += 1
    finally:
        stop.set()
        writer.join()
    return killed


def run_to_end(tmp_path: Path, count: int, settle: float = 120, *, checkpointed: bool = True) -> None:
    """Start the daemon, wait until `count` mentions are stored and checkpointed (unless not
    `checkpointed`: a config whose checkpoints may not come before the SIGTERM drain's) and the
    outbox has delivered what it holds (a loaded machine can leave hundreds of deliveries queued
    when the last checkpoint is stored), stop it with SIGTERM and check that it exits 0."""
    before = log_size(tmp_path)
    daemon = start(tmp_path)
    deadline = time.monotonic() + settle
    wait_running(tmp_path, before, deadline)
    while time.monotonic() < deadline:
        stored, checkpoint, waiting = db_state(tmp_path)
        if stored == count and (checkpoint == count or not checkpointed) and not waiting:
            break
        time.sleep(0.2)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=60) == 0


def shipped_components() -> str:
    """The [scorers.*] and [triggers.*] tables of the shipped sentineld.toml, as TOML."""
    import tomllib

    import tomli_w

    shipped = tomllib.loads((REPO / "sentineld.toml").read_text())
    return tomli_w.dumps({k: shipped[k] for k in ("scorers", "triggers") if k in shipped})


def influence_stream(count: int, *, authors: int, seed: int = 5) -> list[str]:
    """`count` mentions of @acme from `authors` authors (a few write most of them) whose
    follower counts move as the stream goes, a third of them replies to or reshares of recent
    posts (which credit their authors' maven mass), many negative: with a small registry hot set,
    authors leave memory and come back all the time, and influencer alerts open and update."""
    rng = random.Random(seed)
    followers = [int(rng.lognormvariate(5, 2.5)) for _ in range(authors)]
    lines: list[str] = []
    recent: list[str] = []
    moment = START
    for index in range(count):
        moment += timedelta(seconds=rng.expovariate(1 / 150))
        author = rng.randrange(authors) if rng.random() < 0.6 else min(int(rng.paretovariate(1.0)) - 1, authors - 1)
        followers[author] = max(0, followers[author] + rng.randrange(-3, 12))
        mention = {
            "id": f"bluesky:{index}", "source": "bluesky",
            "created_at": moment.isoformat().replace("+00:00", "Z"),
            "text": rng.choice(INFLUENCE_TEXTS),
            "author": {"id": f"a{author}", "handle": f"a{author}.example", "followers": followers[author],
                       "following": 50 + author % 700, "posts": 10 + index // 7 + author,
                       "created_at": (START - timedelta(days=1 + author % 90)).isoformat().replace("+00:00", "Z")},
            "metrics": {"likes": rng.randrange(30), "reshares": rng.randrange(4), "replies": rng.randrange(4)},
        }
        kind = rng.random()
        if recent and kind < 0.2:
            mention["in_reply_to"] = rng.choice(recent[-50:])
        elif recent and kind < 0.33:
            mention["reshare_of"] = rng.choice(recent[-50:])
        else:
            recent.append(mention["id"])
        lines.append(json.dumps(mention))
    return lines


#: The virality scorer's score that a crash drill cannot compare with a replay's: virality
#: itself differs in its last bits with the batching (sums in another order). Clusters, their
#: sizes and growth and the velocities are compared (decision 0126).
BATCH_DEPENDENT_SCORES = frozenset({"virality"})
BATCH_DEPENDENT_LABELS: frozenset[str] = frozenset()


def stored_outcome(db_path: Path) -> dict[str, dict[str, object]]:
    """What a run left in its store that must not depend on crashes: each mention's scores
    and labels (but the batch-dependent ones), the alerts, the author records and the cases."""
    db = sqlite3.connect(db_path)
    try:
        scored = {}
        for mention_id, blob in db.execute("SELECT id, scored FROM mentions"):
            found = json.loads(blob) if blob else {}
            scores = {k: v for k, v in found.get("scores", {}).items() if k not in BATCH_DEPENDENT_SCORES}
            labels = {k: v for k, v in found.get("labels", {}).items() if k not in BATCH_DEPENDENT_LABELS}
            scored[mention_id] = (scores, labels)
        alerts = {}
        for alert_id, body in db.execute("SELECT id, body FROM alerts"):
            alert = json.loads(body)
            alerts[alert_id] = (alert["opened_at"], alert["resolved_at"], alert["severity"], tuple(alert["mentions"]))
        authors = {row[0]: row for row in db.execute("SELECT * FROM authors")}
        cases = {row[0]: row[1:] for row in db.execute(
            "SELECT mention_id, case_id, role, due_us, severity FROM case_mentions")}
    finally:
        db.close()
    return {"scores": scored, "alerts": alerts, "authors": authors, "cases": cases}


def clean_replay_outcome(tmp_path: Path, config: str, lines: list[str], cli: Callable[..., Any]) -> dict[str, dict[str, object]]:
    """Write `config` and the stream to tmp_path, replay the stream into tmp_path/reference and
    return its `stored_outcome`: what the crashed daemon must end with."""
    (tmp_path / "sentineld.toml").write_text(config)
    (tmp_path / "stream.jsonl").write_text("".join(line + "\n" for line in lines))
    reference = cli("replay", "-c", str(tmp_path / "sentineld.toml"), "--state-dir", str(tmp_path / "reference"),
                    str(tmp_path / "stream.jsonl"), timeout=600)
    assert reference.returncode == 0, reference.stderr
    return stored_outcome(tmp_path / "reference" / "sentineld.sqlite3")


def assert_same_outcome(expected: dict[str, dict[str, object]], found: dict[str, dict[str, object]]) -> None:
    """Every part of two `stored_outcome`s equal, naming the first few that differ."""
    differing = {part: sorted(k for k in expected[part].keys() | found[part].keys()
                              if expected[part].get(k) != found[part].get(k)) for part in expected}
    assert not any(differing.values()), "differ from a clean replay: " + ", ".join(
        f"{len(keys)} {part} (e.g. {keys[0]}: {expected[part].get(keys[0])} != {found[part].get(keys[0])})"
        for part, keys in differing.items() if keys)
