"""Start-up: how long `sentineld check` takes (building every component, and with --no-build),
how long `sentineld run` takes to tell systemd READY=1 (on a real $NOTIFY_SOCKET datagram
socket), and what each component's constructor costs, on the shipped sentineld.toml.

    .venv/bin/python bench/startup.py [--runs 15]

Each start is a cold process. Two settings, interleaved so that both see the same machine:

- "installed": every module's bytecode is cached (in a scratch PYTHONPYCACHEPREFIX), as after
  `pip install`, which compiles it. This is what a user's start-up costs.
- "from source": PYTHONDONTWRITEBYTECODE=1, as a checkout runs when its environment sets it:
  sentineld's own modules are compiled at every start (the standard library and the
  dependencies keep their installed bytecode).

Figures: median wall time, the slowest, and the median CPU time of the process (steadier than
wall time when other work shares the cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ("installed", "from source")

#: Runs in a fresh process: build each enabled component of the config, print their times.
CONSTRUCTORS = """
import json, sys, time
from sentineld.config import COMPONENT_SECTIONS, load_config
config = load_config(sys.argv[1])
times = {}
for section, kind in COMPONENT_SECTIONS.items():
    for cid, spec in config.of_kind(kind).items():
        started = time.perf_counter()
        spec.build(config.context(spec))
        times[f"{section}.{cid} ({spec.type_name})"] = time.perf_counter() - started
print(json.dumps(times))
"""


def child_env(setting: str, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPYCACHEPREFIX", "SENTINELD_CONFIG")}
    if setting == "installed":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def timed(start: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child processes) of `start()`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    start()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_check(config: Path, env: dict[str, str], *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "sentineld", "check", "-c", str(config), *extra],
                   check=True, capture_output=True, env=env, cwd=REPO)


def run_until_ready(config: Path, env: dict[str, str], folder: Path) -> float:
    """Seconds from the daemon's exec to its READY=1."""
    path = folder / "notify.sock"
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(30)
    env = {**env, "NOTIFY_SOCKET": str(path), "STATE_DIRECTORY": str(folder / "state")}
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


def constructor_times(config: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CONSTRUCTORS, str(config)], check=True,
                         capture_output=True, text=True, env=env, cwd=REPO).stdout
    return json.loads(out)


def summary(samples: list[tuple[float, float]]) -> str:
    walls = [wall for wall, _ in samples]
    cpus = [cpu for _, cpu in samples]
    return (f"{statistics.median(walls) * 1000:4.0f} ms (slowest {max(walls) * 1000:4.0f}, "
            f"CPU {statistics.median(cpus) * 1000:4.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    config = REPO / "sentineld.toml"
    checks: dict[tuple[str, str], list[tuple[float, float]]] = {}
    readies: dict[str, list[tuple[float, float]]] = {}
    variants = {"check": (), "check --no-build": ("--no-build",)}
    with tempfile.TemporaryDirectory(prefix="sentineld-startup-") as name:
        scratch = Path(name)
        envs = {setting: child_env(setting, scratch) for setting in SETTINGS}
        run_check(config, envs["installed"])  # fills the bytecode cache, warms the file cache
        for _ in range(args.runs):
            for setting, env in envs.items():
                for label, extra in variants.items():
                    sample = timed(lambda env=env, extra=extra: run_check(config, env, *extra))
                    checks.setdefault((setting, label), []).append(sample)
        for _ in range(args.runs):
            for setting, env in envs.items():
                ready: list[float] = []
                _, cpu = timed(lambda env=env: ready.append(run_until_ready(config, env, scratch)))
                # The CPU figure covers the daemon's whole life (it is stopped right after READY).
                readies.setdefault(setting, []).append((ready[0], cpu))
        builds = [constructor_times(config, envs["installed"]) for _ in range(min(args.runs, 5))]

    print(f"sentineld start-up on the shipped sentineld.toml, {args.runs} cold starts each: "
          "median wall time (slowest, median CPU)")
    for setting in SETTINGS:
        for label in variants:
            print(f"  {label:<18} {setting:<12} {summary(checks[(setting, label)])}   target < 300 ms")
    for setting in SETTINGS:
        print(f"  {'run until READY=1':<18} {setting:<12} {summary(readies[setting])}   target < 1000 ms"
              "   (CPU until stopped)")
    print(f"Constructors ({len(builds)} fresh processes, installed; the first to need a library "
          "pays its import), median:")
    medians = {key: statistics.median(times[key] for times in builds) for key in builds[0]}
    for key, seconds in sorted(medians.items(), key=lambda item: -item[1]):
        print(f"  {key:<40} {seconds * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
