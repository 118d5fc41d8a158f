"""Progress bars: drawn on a terminal, absent when standard error is piped."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.streams import burst_stream, write_lines

CONFIG = """
[sentineld]
state_dir = "state"

[watch]
brand = ["acme", "@acme"]

[scorers.mood]
type = "sentiment"

[triggers.buzz]
type = "volume_spike"
window = "15m"
"""


def run_on_terminal(args: list[str], cwd: Path) -> tuple[int, str, bytes]:
    """Run with stderr on a pseudo-terminal (stdout to a file); returns (code, terminal text,
    stdout)."""
    leader, follower = pty.openpty()
    out = (cwd / "stdout.bin").open("wb")
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm-256color"}
    env.pop("SENTINELD_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "sentineld", *args], cwd=cwd, env=env,
                            stdout=out, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=120)
    os.close(leader)
    out.close()
    return code, b"".join(chunks).decode(errors="replace"), (cwd / "stdout.bin").read_bytes()


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    (tmp_path / "sentineld.toml").write_text(CONFIG)
    return write_lines(tmp_path / "stream.jsonl", burst_stream(days=2))


@pytest.mark.parametrize("command", ["replay", "score"])
def test_progress_bar_on_a_terminal(recorded: Path, command: str) -> None:
    code, terminal, stdout = run_on_terminal([command, "-c", "sentineld.toml", recorded.name], recorded.parent)
    assert code == 0, terminal
    assert terminal.count(f"\r{command}:") >= 2  # redrawn in place
    assert "100%" in terminal
    from tqdm import tqdm

    size = tqdm.format_sizeof(recorded.stat().st_size, divisor=1000)
    assert f"{size}/{size}" in terminal  # bytes read of the file's size
    lines = len(recorded.read_text().splitlines())
    assert f"{lines:,} {'stored' if command == 'replay' else 'scored'}" in terminal
    if command == "score":
        assert stdout.count(b"\n") == lines  # the data on stdout is untouched by the bar


@pytest.mark.parametrize("command", ["replay", "score"])
def test_no_progress_bar_when_piped(recorded: Path, command: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SENTINELD_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "sentineld", command, "-c", "sentineld.toml", recorded.name],
                            cwd=recorded.parent, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stderr and "\r" not in result.stderr
    assert "%" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("replayed " if command == "replay" else "scored ")
