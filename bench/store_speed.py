"""Cost of the store thread per mention, call by call, in a real replay of the full config.

    .venv/bin/python bench/store_speed.py [--mentions 100000] [--runs 3] [--baseline REV]
        [--baseline-paths PATH ...]

The stream is bench/throughput.py's (``--authors`` distinct authors, one mention in five
@-mentions the brand's account) and the config its config: the shipped scorers and triggers.
The replay runs in this process (`sentineld.replay.replay`) with every `StoreWorker` call timed
on the store thread with `time.thread_time`: the CPU the store spends per call, Python and
SQLite alike (SQLite runs with the GIL released, so GIL samples miss it), and the bytes the
store thread hands to ``write`` during each call (``wchar`` of ``/proc/thread-self/io``: the WAL
frames of its commits and any statement journal spilled to a file). Printed: µs of store-thread
CPU per mention of the stream for each store method, their sum, the bytes written per mention,
the CPU of the WAL checkpoint thread and of the whole process for scale. Figures are medians
over ``--runs``. ``--stream FILE`` replays a JSON Lines file of mentions instead of making one.

With ``--baseline REV`` the same replay also runs on the code of git revision `REV` (its
`sentineld` and `plugins` folders, extracted to a scratch folder and put first on the path of
a child process), alternating with the working tree's, and both are printed side by side.
``--baseline-paths sentineld/store sentineld/cases.py`` takes only those from `REV` and the
rest from the working tree, so that only the store's code differs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def child(config_path: Path, stream: Path) -> dict[str, Any]:
    """Replay `stream` in this process; CPU seconds per store method and for the process."""
    import sentineld
    from sentineld.cli.common import tune_gc_for_streaming
    from sentineld.config import load_config
    from sentineld.logs import configure_logging
    from sentineld.replay import replay
    from sentineld.store.wal import WalCheckpointer
    from sentineld.store.worker import StoreWorker

    cpu: collections.defaultdict[str, float] = collections.defaultdict(float)
    calls: collections.Counter[str] = collections.Counter()
    written: collections.Counter[str] = collections.Counter()
    wal_cpu: list[float] = []

    async def timed_call(self: StoreWorker, method: str, *args: Any, **kwargs: Any) -> Any:
        function = getattr(self.store, method)

        def run() -> Any:
            started, before = time.thread_time(), _bytes_written()
            try:
                return function(*args, **kwargs)
            finally:
                cpu[method] += time.thread_time() - started
                written[method] += _bytes_written() - before
                calls[method] += 1

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    stop_checkpoints = WalCheckpointer.stop

    def timed_stop(self: WalCheckpointer) -> None:
        thread = self._thread
        clock = time.pthread_getcpuclockid(thread.ident) if thread is not None and thread.ident else None
        if clock is not None:
            wal_cpu.append(time.clock_gettime(clock))
        stop_checkpoints(self)

    StoreWorker.call = timed_call  # type: ignore[method-assign]
    WalCheckpointer.stop = timed_stop  # type: ignore[method-assign]
    config = load_config(config_path)
    configure_logging(config.daemon.log_level, config.daemon.log_format)
    tune_gc_for_streaming()
    gc.collect()
    started = time.process_time()
    summary = asyncio.run(replay(config, [str(stream)]))
    process = time.process_time() - started
    return {"code": str(Path(sentineld.__file__).parent), "stored": summary.stored,
            "process": process, "cpu": dict(cpu), "calls": dict(calls), "written": dict(written),
            "wal_thread": sum(wal_cpu)}


def _bytes_written() -> int:
    """Bytes this thread has passed to ``write`` and its kin so far (0 where Linux's per-thread
    I/O counters are not there)."""
    try:
        with open("/proc/thread-self/io", "rb") as counters:
            for line in counters:
                if line.startswith(b"wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def extract(revision: str, into: Path, paths: list[str]) -> Path:
    """`sentineld/` and `plugins/` (as `sentineld_plugins/`) of a git revision under `into`; with
    `paths`, the working tree's with only those paths taken from the revision."""
    if paths:
        for folder in ("sentineld", "plugins"):
            shutil.copytree(REPO / folder, into / folder, ignore=shutil.ignore_patterns("__pycache__"))
    archive = subprocess.run(["git", "archive", "--format=tar", revision, *(paths or ["sentineld", "plugins"])],
                             cwd=REPO, capture_output=True, check=True).stdout
    if paths:
        for path in paths:
            target = into / path
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "plugins").rename(into / "sentineld_plugins")
    return into


def run_child(config: Path, stream: Path, code: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(config), str(stream)],
        capture_output=True, text=True, env=env, cwd=stream.parent,
    )
    if result.returncode != 0:
        raise SystemExit(f"replay failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(name: str, runs: list[dict[str, Any]], mentions: int) -> dict[str, float]:
    per = lambda seconds: seconds / mentions * 1e6  # noqa: E731
    methods = sorted({m for run in runs for m in run["cpu"]},
                     key=lambda m: -statistics.median(run["cpu"].get(m, 0) for run in runs))
    figures = {m: statistics.median(per(run["cpu"].get(m, 0)) for run in runs) for m in methods}
    totals = [per(sum(run["cpu"].values())) for run in runs]
    processes = [per(run["process"]) for run in runs]
    figures["store thread"] = statistics.median(totals)
    figures["without checkpoints"] = statistics.median(
        per(sum(seconds for method, seconds in run["cpu"].items() if method != "save_checkpoint")) for run in runs
    )
    figures["process"] = statistics.median(processes)
    figures["wal thread"] = statistics.median(per(run.get("wal_thread", 0)) for run in runs)
    written = {m: statistics.median(run.get("written", {}).get(m, 0) / mentions for run in runs) for m in methods}
    print(f"{name}: store thread {figures['store thread']:.1f} µs CPU/mention "
          f"(runs: {', '.join(f'{t:.1f}' for t in totals)}); whole process {figures['process']:.1f} "
          f"µs/mention; {runs[0]['stored']} stored; store thread without save_checkpoint (as many as "
          f"the wall clock makes) {figures['without checkpoints']:.1f}; WAL checkpoint thread "
          f"{figures['wal thread']:.1f}; store thread wrote {sum(written.values()):,.0f} bytes/mention")
    for method in methods:
        count = statistics.median(run["calls"].get(method, 0) for run in runs)
        print(f"  {method:<22} {figures[method]:6.2f} µs/mention  {written[method]:8,.0f} bytes/mention  "
              f"({count:.0f} calls)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stream", type=Path, help="replay this JSON Lines file of mentions instead")
    parser.add_argument("--baseline", help="also replay on the code of this git revision")
    parser.add_argument("--baseline-paths", nargs="+", default=[], metavar="PATH",
                        help="take only these paths from the baseline revision, the rest from the working tree")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return

    sys.path.insert(0, str(HERE))
    from throughput import CONFIG, shipped_components, write_stream

    with tempfile.TemporaryDirectory(prefix="sentineld-store-bench-") as scratch:
        folder = Path(scratch)
        config = folder / "sentineld.toml"
        config.write_text(CONFIG + shipped_components())
        if args.stream:
            stream = folder / "stream.jsonl"
            stream.symlink_to(args.stream.resolve())
            with args.stream.open("rb") as lines:
                args.mentions = sum(1 for _ in lines)
        else:
            stream = folder / "stream.jsonl"
            write_stream(stream, args.mentions, args.authors)
        variants: dict[str, Path | None] = {}
        if args.baseline:
            label = f"baseline {args.baseline}" + (f" ({' '.join(args.baseline_paths)})" if args.baseline_paths else "")
            variants[label] = extract(args.baseline, folder / "baseline", args.baseline_paths)
        variants["working tree"] = None
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for run in range(args.runs):
            for name, code in variants.items():
                results[name].append(run_child(config, stream, code))
                print(f"  run {run + 1} {name}: done", flush=True, file=sys.stderr)
    origin = args.stream.name if args.stream else f"from {args.authors:,} authors"
    print(f"{args.mentions:,} mentions {origin}; µs of CPU per mention of the stream")
    figures = {name: report(name, runs, args.mentions) for name, runs in results.items()}
    if len(figures) == 2:
        (old_name, old), (new_name, new) = figures.items()
        print(f"store thread, working tree / baseline: {new['store thread'] / old['store thread']:.2f}x "
              f"(without save_checkpoint {new['without checkpoints'] / old['without checkpoints']:.2f}x); "
              f"whole process: {new['process'] / old['process']:.2f}x; WAL thread: "
              f"{new['wal thread'] / max(old['wal thread'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
