"""MemoryDenyWriteExecute=yes in the unit: the daemon and its built-in plugins never map memory
writable and executable. systemd enforces that setting with seccomp; Linux 6.3+ offers the same
rule per process as prctl(PR_SET_MDWE), which these tests set before exec'ing the real daemon."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.running import DaemonProcess, append_lines, chatter, http_get, mention_line, wait_until

pytestmark = pytest.mark.slow

PR_SET_MDWE = 65
PR_GET_MDWE = 66
PR_MDWE_REFUSE_EXEC_GAIN = 1


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _supported() -> bool:
    """PR_GET_MDWE answers (0 or 1) on kernels that have the feature, -1 (EINVAL) before 6.3."""
    return _libc().prctl(PR_GET_MDWE, 0, 0, 0, 0) >= 0


def deny_write_execute() -> None:
    """preexec_fn: from here on (and across exec) no mapping may become writable+executable."""
    if _libc().prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE) failed")


needs_mdwe = pytest.mark.skipif(not _supported(), reason="kernel without PR_SET_MDWE (Linux < 6.3)")

CONFIG = """
[sentineld]
state_dir = "state"
checkpoint_interval = "200ms"
tick = "1h"

[watch]
brand = ["acme", "@acme"]

[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "50ms"

[scorers.mood]
type = "sentiment"

[triggers.buzz]
type = "volume_spike"
window = "1m"
warmup = 3
min_count = 8

[notifiers.log]
type = "file"
path = "alerts.jsonl"

[http]
enabled = true
port = 0
token = { env = "SENTINELD_MDWE_TOKEN" }
"""


@needs_mdwe
def test_mdwe_really_refuses_write_execute_memory() -> None:
    """The check has teeth: under PR_SET_MDWE an anonymous RWX mapping is refused."""
    probe = (
        "import mmap\n"
        "try:\n"
        "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
        "else:\n"
        "    print('allowed')\n"
    )
    free = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    denied = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            preexec_fn=deny_write_execute)
    assert free.stdout.strip() == "allowed"
    assert denied.stdout.strip().startswith("refused")


@needs_mdwe
def test_daemon_runs_reloads_and_stops_under_mdwe(tmp_path: Path) -> None:
    (tmp_path / "sentineld.toml").write_text(CONFIG)
    (tmp_path / "inbox.jsonl").touch()
    token = "mdwe-token"
    daemon = DaemonProcess(tmp_path / "sentineld.toml", env={"SENTINELD_MDWE_TOKEN": token},
                           preexec_fn=deny_write_execute)
    try:
        url = daemon.url
        start = datetime(2026, 11, 24, 9, tzinfo=UTC)
        quiet = chatter(start, minutes=10, per_minute=4)
        burst = [mention_line(len(quiet) + k, start + timedelta(minutes=10, seconds=5 + k),
                              "@acme lost my bag, worst airline ever", author=f"a{k}") for k in range(30)]
        append_lines(tmp_path / "inbox.jsonl", quiet + burst)
        wait_until(lambda: (tmp_path / "alerts.jsonl").exists())
        status, body = http_get(f"{url}/metrics", token)
        assert status == 200 and b"sentineld_stage_seconds_bucket" in body
        status, body = http_get(f"{url}/static/vendor/uPlot.iife.min.js")
        assert status == 200
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("configuration reloaded")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    finally:
        daemon.stop()


@needs_mdwe
def test_every_builtin_plugin_imports_under_mdwe(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sentineld", "plugins", "--json"], cwd=tmp_path,
        capture_output=True, text=True, preexec_fn=deny_write_execute, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "SENTINELD_CONFIG"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") >= 5
