"""Helpers for the crash drills: a real `sentineld run` subprocess on a followed file, killed with
SIGKILL at random moments while it ingests, then run to the end."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path


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


def run_to_end(tmp_path: Path, count: int, settle: float = 120) -> None:
    """Start the daemon, wait until `count` mentions are stored and checkpointed, stop it with
    SIGTERM and check that it exits 0."""
    before = log_size(tmp_path)
    daemon = start(tmp_path)
    deadline = time.monotonic() + settle
    wait_running(tmp_path, before, deadline)
    while time.monotonic() < deadline:
        stored, checkpoint = db_state(tmp_path)
        if stored == count and checkpoint == count:
            break
        time.sleep(0.2)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=60) == 0
