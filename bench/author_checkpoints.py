"""What the influencer registry asks of the store in a whole replay: rows per checkpoint, loads.

    .venv/bin/python bench/author_checkpoints.py -c CONFIG [--state-dir DIR] STREAM

Runs ``sentineld replay -c CONFIG STREAM`` in this process (its output thrown away) with the
store's calls wrapped, and prints, for the registry's part of the store thread's work:

- per checkpoint: the author rows written, how many of them are new keys, an estimate of the
  ``author_rows`` leaf pages they fall on (each key's rank among the keys stored by then, divided
  by the rows a leaf holds at the end of the run), the leaf pages of the table by then, and the
  thread CPU of writing them (the rows' part of ``save_checkpoint``, timed on its own);
- at each checkpoint barrier: the dirty records evicted from the hot set and waiting, the
  records changed since the last barrier, the records in memory;
- ``load_authors``: calls, keys asked, rows found, the store thread's CPU per key and the call's
  wall time per key.

Per-call CPU is less noisy than a whole replay's on a shared machine; the figures still move with
the load (a checkpoint is every few seconds of wall time, so a slower run takes more of them).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def run(config: Path, stream: Path, state_dir: Path) -> dict[str, Any]:
    """Replay `stream` with the store's author calls counted; what they did."""
    import sentineld.registry as registry_module
    import sentineld.store.worker as worker_module
    from sentineld.cli import main as sentineld_main
    from sentineld.store.sqlite import SQLiteStore

    written: list[list[str]] = []
    write_cpu: list[float] = []
    loads: list[tuple[int, int, float, float]] = []
    barriers: list[tuple[int, int, int]] = []

    save_authors = SQLiteStore._save_authors

    def timed_save_authors(db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]], seq: int, state: bytes) -> None:
        started = time.thread_time()
        save_authors(db, rows, seq, state)
        write_cpu.append(time.thread_time() - started)
        written.append([row[0] for row in rows])

    at_barrier = registry_module.Tracking.at_barrier

    def counted_at_barrier(self: Any) -> Any:
        registry = self.registry
        barriers.append((registry.pending, registry.changed, len(registry)))
        return at_barrier(self)

    call = worker_module.StoreWorker.call

    async def counted_call(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        if method != "load_authors":
            return await call(self, method, *args, **kwargs)
        store = self.store

        def load() -> Any:
            started, cpu = time.perf_counter(), time.thread_time()
            found = store.load_authors(*args, **kwargs)
            loads.append((len(args[0]), len(found[0]), time.thread_time() - cpu, time.perf_counter() - started))
            return found

        return await asyncio.get_running_loop().run_in_executor(self._executor, load)

    SQLiteStore._save_authors = staticmethod(timed_save_authors)  # type: ignore[method-assign]
    registry_module.Tracking.at_barrier = counted_at_barrier  # type: ignore[method-assign]
    worker_module.StoreWorker.call = counted_call  # type: ignore[method-assign]
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            sentineld_main(["replay", "-c", str(config), "--state-dir", str(state_dir), str(stream)])
    finally:
        SQLiteStore._save_authors = staticmethod(save_authors)  # type: ignore[method-assign]
        registry_module.Tracking.at_barrier = at_barrier  # type: ignore[method-assign]
        worker_module.StoreWorker.call = call  # type: ignore[method-assign]
    database = next(state_dir.glob("*.sqlite3"))
    with sqlite3.connect(database) as db:
        leaves, cells = db.execute(
            "SELECT count(*), sum(ncell) FROM dbstat WHERE name = 'author_rows' AND pagetype = 'leaf'"
        ).fetchone()
    return {"written": written, "write_cpu": write_cpu, "loads": loads, "barriers": barriers,
            "rows_per_leaf": cells / leaves}  # fmt: skip


def report(found: dict[str, Any], mentions: int) -> None:
    per_leaf = found["rows_per_leaf"]
    stored: list[str] = []
    print(f"{'checkpoint':>10} {'rows':>7} {'new':>7} {'pages':>6} {'of':>6} {'µs/row':>7}")
    for number, (keys, cpu) in enumerate(zip(found["written"], found["write_cpu"], strict=True), start=1):
        known = set(stored)
        new = [key for key in keys if key not in known]
        everything = sorted(known.union(keys))
        pages = {int(bisect.bisect_left(everything, key) // per_leaf) for key in keys}
        print(f"{number:>10} {len(keys):>7} {len(new):>7} {len(pages):>6} {int(len(everything) / per_leaf) + 1:>6} "
              f"{cpu / max(len(keys), 1) * 1e6:>7.2f}")  # fmt: skip
        stored = everything
    rows = sum(len(keys) for keys in found["written"])
    cpu = sum(found["write_cpu"])
    print(f"author rows written: {rows / mentions:.3f} per mention, {cpu / mentions * 1e6:.2f} µs of store-thread "
          f"CPU per mention ({cpu / max(rows, 1) * 1e6:.2f} per row); median rows per checkpoint "
          f"{statistics.median(len(keys) for keys in found['written']):.0f}")  # fmt: skip
    loads = found["loads"]
    keys = sum(load[0] for load in loads)
    found_rows = sum(load[1] for load in loads)
    print(f"load_authors: {len(loads)} calls, {keys / mentions:.3f} keys and {found_rows / mentions:.3f} rows per "
          f"mention; per key {sum(load[2] for load in loads) / max(keys, 1) * 1e6:.2f} µs of the store "
          f"thread's CPU, {sum(load[3] for load in loads) / max(keys, 1) * 1e6:.2f} µs wall")  # fmt: skip
    print("at each barrier (evicted dirty records waiting, records changed, records in memory):")
    print(" ".join(f"{pending}/{changed}/{held}" for pending, changed, held in found["barriers"]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, default=None, help="default: a temporary directory, removed")
    parser.add_argument("stream", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        state_dir = args.state_dir or Path(scratch)
        found = run(args.config, args.stream, state_dir)
    with args.stream.open("rb") as lines:
        mentions = sum(1 for _ in lines)
    print(f"{mentions} mentions, {args.stream.name}")
    report(found, mentions)


if __name__ == "__main__":
    main()
