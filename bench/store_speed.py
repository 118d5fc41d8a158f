"""Cost of the store thread per mention, call by call, in a real replay of the full config.

    .venv/bin/python bench/store_speed.py [--mentions 100000] [--runs 3] [--baseline REV]
        [--baseline-paths PATH ...]

The stream is bench/throughput.py's (``--authors`` distinct authors, one mention in five
@-mentions the brand's account) and the config its config: the shipped scorers and triggers.
The replay runs in this process (`sentineld.replay.replay`) with every `StoreWorker` call timed
on the store thread with `time.thread_time`: the CPU the store spends per call, Python and
SQLite alike (SQLite runs with the GIL released, so GIL samples miss it). Printed: µs of
store-thread CPU per mention of the stream for each store method, their sum, and the CPU of
the whole process for scale. Figures are medians over ``--runs``.

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
    from sentineld.store.worker import StoreWorker

    cpu: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()

    async def timed_call(self: StoreWorker, method: str, *args: Any, **kwargs: Any) -> Any:
        function = getattr(self.store, method)

        def run() -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                cpu[method] += time.thread_time() - started
                calls[method] += 1

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    StoreWorker.call = timed_call  # type: ignore[method-assign]
    config = load_config(config_path)
    configure_logging(config.daemon.log_level, config.daemon.log_format)
    tune_gc_for_streaming()
    gc.collect()
    started = time.process_time()
    summary = asyncio.run(replay(config, [str(stream)]))
    process = time.process_time() - started
    return {"code": str(Path(sentineld.__file__).parent), "stored": summary.stored,
            "process": process, "cpu": dict(cpu), "calls": dict(calls)}


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
    print(f"{name}: store thread {figures['store thread']:.1f} µs CPU/mention "
          f"(runs: {', '.join(f'{t:.1f}' for t in totals)}); whole process {figures['process']:.1f} "
          f"µs/mention; {runs[0]['stored']} stored; store thread without save_checkpoint (as many as "
          f"the wall clock makes) {figures['without checkpoints']:.1f}")
    for method in methods:
        count = statistics.median(run["calls"].get(method, 0) for run in runs)
        print(f"  {method:<22} {figures[method]:6.2f} µs/mention  ({count:.0f} calls)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
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
    print(f"{args.mentions:,} mentions from {args.authors:,} authors; µs of CPU per mention of the stream")
    figures = {name: report(name, runs, args.mentions) for name, runs in results.items()}
    if len(figures) == 2:
        (old_name, old), (new_name, new) = figures.items()
        print(f"store thread, working tree / baseline: {new['store thread'] / old['store thread']:.2f}x "
              f"(without save_checkpoint {new['without checkpoints'] / old['without checkpoints']:.2f}x); "
              f"whole process: {new['process'] / old['process']:.2f}x")


if __name__ == "__main__":
    main()
