"""Stalls of the store thread: how long each store call takes, wall clock, when WAL checkpoints
run on a thread of their own (the default, decision 0021) and when SQLite's automatic checkpoint
runs inside the commit that crosses the threshold (before).

    .venv/bin/python bench/store_stalls.py [--mentions 200000] [--authors 200000] [--batch 100]
        [--runs 2]

The mentions are bench/throughput.py's stream. Each run, in a child process with a fresh store
file, stores them as the live daemon does under load, in small batches: `ingest` of a batch,
then `save_scores` of the same batch, timed one call at a time. A store call that waits for a
checkpoint holds up whatever queues behind it on the store thread (ingest acknowledgements,
scores, alert writes), so the tail of these durations is what a notification's latency sees of
the store. Printed per mode: the median, 99.9th percentile and maximum in ms, how many calls took
over 10 ms, and the run's wall and CPU time. The two modes take turns, ``--runs`` times each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODES = ("background", "writer")


def child(mode: str, stream: Path, batch: int) -> dict[str, Any]:
    """Store `stream` in batches on a fresh store; the wall duration of every call, in seconds."""
    from sentineld.model import decode_mention
    from sentineld.store import open_store
    from sentineld.store.sqlite import WAL_CHECKPOINT_BYTES
    from sentineld.store.wal import BACKSTOP_FACTOR, WalCheckpointer

    mentions = [decode_mention(line) for line in stream.read_bytes().splitlines()]
    for mention in mentions:
        mention.scores["sentiment"] = 0.5
        mention.labels["sentiment"] = "positive"
    with tempfile.TemporaryDirectory(prefix="sentineld-stalls-", dir=stream.parent) as scratch:
        store = open_store(Path(scratch))
        checkpointer = None
        if mode == "background":
            checkpointer = WalCheckpointer(store.path, WAL_CHECKPOINT_BYTES)
            store.set_wal_autocheckpoint(WAL_CHECKPOINT_BYTES * BACKSTOP_FACTOR)
            checkpointer.start()
        durations: list[float] = []
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(mentions), batch):
            chunk = mentions[start:start + batch]
            started = time.perf_counter()
            stored = store.ingest("bench", chunk, str(start))
            durations.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.save_scores(stored)
            durations.append(time.perf_counter() - started)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if checkpointer is not None:
            checkpointer.stop()
        store.close()
    return {"durations": durations, "wall": wall, "cpu": cpu}


def run_child(mode: str, stream: Path, batch: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(stream), str(batch)],
        capture_output=True, text=True, cwd=stream.parent,
    )
    if result.returncode != 0:
        raise SystemExit(f"replay failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report(mode: str, runs: list[dict[str, Any]]) -> None:
    rows = []
    for run in runs:
        ordered = sorted(run["durations"])
        rows.append((statistics.median(ordered) * 1e3, percentile(ordered, 0.999) * 1e3,
                     ordered[-1] * 1e3, sum(1 for d in ordered if d > 0.010), len(ordered),
                     run["wall"], run["cpu"]))
    median = [statistics.median(column) for column in zip(*rows)]
    print(f"{mode:<11} median {median[0]:.2f} ms, p99.9 {median[1]:.1f}, max {median[2]:.1f} ms; "
          f"over 10 ms: {median[3]:.0f} of {median[4]:.0f} calls; wall {median[5]:.1f} s, "
          f"CPU {median[6]:.1f} s of this process (medians of {len(rows)} runs; max per run: "
          f"{', '.join(f'{r[2]:.0f}' for r in rows)} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=200_000)
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, stream, batch = args.child
        print(json.dumps(child(mode, Path(stream), int(batch))))
        return

    sys.path.insert(0, str(HERE))
    from throughput import write_stream

    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="sentineld-stalls-") as scratch:
        folder = Path(scratch)
        stream = folder / "stream.jsonl"
        write_stream(stream, args.mentions, args.authors)
        for run in range(args.runs):
            for mode in MODES:
                results[mode].append(run_child(mode, stream, args.batch))
                print(f"  run {run + 1} {mode}: done", flush=True, file=sys.stderr)
    print(f"{args.mentions:,} mentions in batches of {args.batch}, each ingested then its scores "
          f"saved; wall time of each call; WAL checkpoints by a thread of their own "
          f"('background') or by the committing connection ('writer')")
    for mode in MODES:
        report(mode, results[mode])


if __name__ == "__main__":
    main()
