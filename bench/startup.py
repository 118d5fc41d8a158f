"""Start-up: how long `sentineld check` takes, and how long `sentineld run` takes to tell systemd
READY=1 (on a real $NOTIFY_SOCKET datagram socket), on the shipped sentineld.toml.

    .venv/bin/python bench/startup.py [--runs 15]

Each figure is the median (and the slowest) of --runs cold process starts.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def time_check(config: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sentineld", "check", "-c", str(config)],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def time_ready(config: Path, folder: Path) -> float:
    path = folder / "notify.sock"
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(30)
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "STATE_DIRECTORY": str(folder / "state")}
    started = time.perf_counter()
    daemon = subprocess.Popen([sys.executable, "-m", "sentineld", "run", "-c", str(config)],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            message = listener.recv(4096).decode()
            if "READY=1" in message.split("\n"):
                return time.perf_counter() - started
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        listener.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    config = REPO / "sentineld.toml"
    with tempfile.TemporaryDirectory(prefix="sentineld-startup-") as scratch:
        folder = Path(scratch)
        time_check(config)  # warm the file-system cache and the bytecode cache
        checks = [time_check(config) for _ in range(args.runs)]
        readies = [time_ready(config, folder) for _ in range(args.runs)]
    print(f"sentineld check (shipped config): median {statistics.median(checks) * 1000:.0f} ms, "
          f"slowest {max(checks) * 1000:.0f} ms over {args.runs} runs (target < 300 ms)")
    print(f"sentineld run until READY=1:      median {statistics.median(readies) * 1000:.0f} ms, "
          f"slowest {max(readies) * 1000:.0f} ms over {args.runs} runs (target < 1000 ms)")


if __name__ == "__main__":
    main()
