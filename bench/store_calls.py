"""The store thread's writes without the rest of the pipeline: a replay's store calls recorded
once, then run again on fresh stores, so that two versions of the store code compare on the same
calls without the noise of the stages around them.

    .venv/bin/python bench/store_calls.py record CALLS --stream FILE [--config FILE]
    .venv/bin/python bench/store_calls.py run CALLS [--runs 3] [--baseline REV]
        [--baseline-paths PATH ...]
    .venv/bin/python bench/store_calls.py pages CALLS [--top 6]

``record`` replays the JSON Lines of mentions `FILE` in this process through the whole pipeline
(``--config``: bench/throughput.py's config by default) and pickles every call made to the store
worker, with its arguments as they were when it was made (a mention is scored after it is
stored), to `CALLS`. ``run`` makes those calls again, in order, on a fresh store with its WAL
checkpoint thread, one child process per run, and prints per store method the CPU µs of the
calling thread per recorded mention and the bytes it handed to ``write`` (``wchar`` of
``/proc/thread-self/io``: WAL frames and any statement journal), then the WAL thread's CPU.
Calls that only read are made as well, so that the store's cache sees what it saw. With
``--baseline REV`` the same calls also run on the store code of git revision `REV` (as
bench/store_speed.py takes it), the two taking turns, and their ratio is printed.

``pages`` makes the calls once, without the WAL thread, emptying the WAL before each call
(outside the timing), and prints per store method the WAL bytes it appended per recorded mention
(its commits and any pages spilled before them) by table or index: each frame's page number read
from the WAL (as bench/case_pages.py does), mapped to its B-tree with ``dbstat`` at the end (a
page freed and reused counts for its last owner). "All writes" adds what else the thread wrote
(statement journals).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from case_pages import frames_written  # noqa: E402
from store_speed import _bytes_written, extract  # noqa: E402


def record(calls_path: Path, stream: Path, config_path: Path | None) -> None:
    from sentineld.cli.common import tune_gc_for_streaming
    from sentineld.config import load_config
    from sentineld.logs import configure_logging
    from sentineld.replay import replay
    from sentineld.store.worker import StoreWorker

    recorded: list[bytes] = []
    call = StoreWorker.call

    async def recording_call(self: StoreWorker, method: str, *args: Any, **kwargs: Any) -> Any:
        recorded.append(pickle.dumps((method, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL))
        return await call(self, method, *args, **kwargs)

    StoreWorker.call = recording_call  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="sentineld-store-calls-") as scratch:
        if config_path is None:
            from throughput import CONFIG, shipped_components

            config_path = Path(scratch) / "sentineld.toml"
            config_path.write_text(CONFIG + shipped_components())
        config = load_config(config_path)
        configure_logging(config.daemon.log_level, config.daemon.log_format)
        tune_gc_for_streaming()
        summary = asyncio.run(replay(config, [str(stream)]))
    with calls_path.open("wb") as out:
        pickle.dump({"mentions": summary.stored, "calls": recorded}, out, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"{len(recorded):,} calls for {summary.stored:,} mentions recorded to {calls_path.name}")


def child(calls_path: Path) -> dict[str, Any]:
    """Make the recorded calls on a fresh store; CPU seconds and bytes written per method."""
    import sentineld
    from sentineld.cli.common import tune_gc_for_streaming
    from sentineld.store import open_store
    from sentineld.store.worker import StoreWorker

    with calls_path.open("rb") as recorded:
        data = pickle.load(recorded)
    calls = [pickle.loads(call) for call in data["calls"]]
    tune_gc_for_streaming()
    cpu: collections.defaultdict[str, float] = collections.defaultdict(float)
    written: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="sentineld-store-calls-", dir=calls_path.parent) as scratch:
        worker = StoreWorker(open_store(Path(scratch)))
        store = worker.store
        thread = worker.checkpointer._thread
        assert thread is not None and thread.ident is not None
        wal_clock = time.pthread_getcpuclockid(thread.ident)
        for method, args, kwargs in calls:
            function = getattr(store, method)
            started, before = time.thread_time(), _bytes_written()
            function(*args, **kwargs)
            cpu[method] += time.thread_time() - started
            written[method] += _bytes_written() - before
        wal = time.clock_gettime(wal_clock)
        worker.close()
    return {"code": str(Path(sentineld.__file__).parent), "mentions": data["mentions"], "cpu": dict(cpu),
            "written": dict(written), "wal": wal}


def pages(calls_path: Path, top: int) -> None:
    """WAL frames appended per store method and B-tree (see the module's docstring)."""
    import sqlite3

    from sentineld.cli.common import tune_gc_for_streaming
    from sentineld.store import open_store

    with calls_path.open("rb") as recorded:
        data = pickle.load(recorded)
    mentions = data["mentions"]
    tune_gc_for_streaming()
    frames: collections.defaultdict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    cpu: collections.defaultdict[str, float] = collections.defaultdict(float)
    written: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="sentineld-store-pages-", dir=calls_path.parent) as scratch:
        store = open_store(Path(scratch))
        db_path = Path(str(store.path))
        wal, shm = db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")
        page_size = store.db.execute("PRAGMA page_size").fetchone()[0]
        store.db.execute("PRAGMA wal_autocheckpoint=0")
        for call in data["calls"]:
            method, args, kwargs = pickle.loads(call)
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            started, before = time.thread_time(), _bytes_written()
            getattr(store, method)(*args, **kwargs)
            cpu[method] += time.thread_time() - started
            written[method] += _bytes_written() - before
            frames[method].update(frames_written(wal, shm, page_size))
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        reader = sqlite3.connect(db_path)
        owner = dict(reader.execute("SELECT pageno, name FROM dbstat"))
        sizes = reader.execute("SELECT name, count(*), sum(pgsize) FROM dbstat GROUP BY name ORDER BY 3 DESC").fetchall()
        reader.close()
        store.close()
    def per(count: int) -> float:
        return count * page_size / mentions

    total = sum(sum(counter.values()) for counter in frames.values())
    print(f"{mentions:,} mentions, {len(data['calls']):,} calls: WAL {per(total):,.0f} bytes/mention "
          f"({total / mentions:.3f} pages of {page_size // 1024} KiB)")
    for method, counter in sorted(frames.items(), key=lambda item: -sum(item[1].values())):
        by_tree: collections.Counter[str] = collections.Counter()
        for page, times in counter.items():
            by_tree[owner.get(page, "?")] += times
        spread = ", ".join(f"{name} {per(n):,.0f}" for name, n in by_tree.most_common(top))
        print(f"  {method:<22} WAL {per(sum(counter.values())):6,.0f} bytes/mention (all writes "
              f"{written[method] / mentions:6,.0f}), {cpu[method] / mentions * 1e6:6.2f} µs CPU/mention: {spread}")
    print("database at the end (dbstat): " + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, _, size in sizes[:top + 4]))


def run_child(calls: Path, code: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    result = subprocess.run([sys.executable, __file__, "child", str(calls)], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(name: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    mentions = runs[0]["mentions"]
    per = lambda seconds: seconds / mentions * 1e6  # noqa: E731
    methods = sorted({m for run in runs for m in run["cpu"]}, key=lambda m: -runs[0]["cpu"][m])
    totals = [per(sum(run["cpu"].values())) for run in runs]
    figures = {"store thread": statistics.median(totals),
               "wal thread": statistics.median(per(run["wal"]) for run in runs)}
    print(f"{name}: store calls {figures['store thread']:.2f} µs CPU/mention (runs: "
          f"{', '.join(f'{t:.2f}' for t in totals)}); WAL thread {figures['wal thread']:.2f}; written "
          f"{statistics.median(sum(run['written'].values()) for run in runs) / mentions:,.0f} bytes/mention")
    for method in methods:
        figures[method] = statistics.median(per(run["cpu"].get(method, 0)) for run in runs)
        if figures[method] >= 0.01:
            bytes_per = statistics.median(run["written"].get(method, 0) for run in runs) / mentions
            print(f"  {method:<22} {figures[method]:6.2f} µs/mention  {bytes_per:8,.0f} bytes/mention")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record")
    recording.add_argument("calls", type=Path)
    recording.add_argument("--stream", type=Path, required=True)
    recording.add_argument("--config", type=Path)
    running = commands.add_parser("run")
    running.add_argument("calls", type=Path)
    running.add_argument("--runs", type=int, default=3)
    running.add_argument("--baseline", help="also run the calls on the store code of this git revision")
    running.add_argument("--baseline-paths", nargs="+", default=["sentineld/store"], metavar="PATH",
                         help="take only these paths from the baseline revision (default: sentineld/store)")
    paging = commands.add_parser("pages")
    paging.add_argument("calls", type=Path)
    paging.add_argument("--top", type=int, default=6, help="B-trees named per method")
    hidden = commands.add_parser("child")
    hidden.add_argument("calls", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        record(args.calls, args.stream, args.config)
        return
    if args.command == "pages":
        pages(args.calls, args.top)
        return
    if args.command == "child":
        print(json.dumps(child(args.calls)))
        return
    with tempfile.TemporaryDirectory(prefix="sentineld-store-calls-") as scratch:
        variants: dict[str, Path | None] = {}
        if args.baseline:
            label = f"baseline {args.baseline} ({' '.join(args.baseline_paths)})"
            variants[label] = extract(args.baseline, Path(scratch), args.baseline_paths)
        variants["working tree"] = None
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for run in range(args.runs):
            for name, code in variants.items():
                results[name].append(run_child(args.calls, code))
                print(f"  run {run + 1} {name}: done", flush=True, file=sys.stderr)
    figures = {name: report(name, runs) for name, runs in results.items()}
    if len(figures) == 2:
        (_, old), (_, new) = figures.items()
        print(f"store calls, working tree / baseline: {new['store thread'] / old['store thread']:.3f}x; "
              f"WAL thread {new['wal thread'] / max(old['wal thread'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
