"""What the case step's identity lookups cost, for keys the store holds and keys it does not,
with and without the filter of held keys (`HeldKeys`, docs/decisions/0422).

    .venv/bin/python bench/identity_lookups.py [--keys 300000] [--staged 10000] [--runs 20]

A scratch store gets ``--keys`` identities in `identity_rows` (random platform keys, as the
throughput bench's 1M replay leaves about 300,000) and ``--staged`` in `identities_recent`.
Each run opens a new connection and looks up 250 held keys or 1,000 keys nobody holds with
`CrmTables.customers_of`, as a batch of the case step does: *cold* on that connection's empty
page cache (every page from the OS, as on the 1M replay, where other tables push the CRM's
pages out of SQLite's cache), *warm* after the same lookup on it. CPU time (`time.thread_time`)
in µs per key, median of ``--runs``; and the filter's own costs: reading it from the store, and
its Python per key (`maybe_held`, `add`).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentineld.store import open_store  # noqa: E402
from sentineld.store.crm import CrmTables, HeldKeys  # noqa: E402
from sentineld.store.sqlite import SQLiteStore  # noqa: E402


def platform_key(rng: random.Random) -> str:
    number = rng.randrange(10**12)
    return f"bluesky:did:plc:{number}" if number % 2 else f"bluesky:@user{number}.example"


def lookup_cost(path: Path, keys: Callable[[int], list[str]], *, cold: bool, held: HeldKeys | None, runs: int) -> float:
    costs = []
    for run in range(runs):
        store = SQLiteStore(path)
        try:
            store.db.execute("BEGIN")
            if not cold:
                CrmTables(store.db).customers_of(keys(run))
            asked = keys(run)
            gc.collect()
            started = time.thread_time()
            CrmTables(store.db, held).customers_of(asked)
            costs.append((time.thread_time() - started) / len(asked) * 1e6)
            store.db.execute("ROLLBACK")
        finally:
            store.close()
    return statistics.median(costs)


def main(args: argparse.Namespace) -> None:
    rng = random.Random(1)
    folded = sorted({platform_key(rng) for _ in range(args.keys)})
    staged = [f"mastodon:@recent{n}.example" for n in range(args.staged)]
    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(Path(scratch))
        path = store.path
        with store.transaction() as db:
            db.executemany("INSERT INTO identity_rows VALUES (?, ?, ?, 'seen', 1)",
                           ((key, f"cu-{n:019x}", key) for n, key in enumerate(folded)))
            db.executemany("INSERT INTO identities_recent VALUES (?, ?, NULL, 'seen', 1)",
                           ((key, "cu-recent") for key in staged))
        store.close()

        def held_keys(run: int) -> list[str]:
            return random.Random(run).sample(folded, 250)

        def new_keys(run: int) -> list[str]:
            pick = random.Random(run)
            return [f"{platform_key(pick)}x" for _ in range(1000)]

        store = SQLiteStore(path)
        try:
            with store.transaction() as db:
                started = time.thread_time()
                held = HeldKeys.read(db)
                reading = time.thread_time() - started
        finally:
            store.close()
        print(f"{len(folded)} identities folded, {len(staged)} staged; µs CPU per key, median of {args.runs}")
        for cold in (True, False):
            for filtered in (None, held):
                hits = lookup_cost(path, held_keys, cold=cold, held=filtered, runs=args.runs)
                misses = lookup_cost(path, new_keys, cold=cold, held=filtered, runs=args.runs)
                print(f"  {'cold' if cold else 'warm'} page cache, {'filter' if filtered else 'no filter':9}: "
                      f"held {hits:6.2f}, not held {misses:6.2f}")
        other = SQLiteStore(path)  # another process's `sentineld ack`: a commit of its own
        other.ack_alert("a-1", 0.0, "bench")
        other.close()
        store = SQLiteStore(path)
        try:
            with store.transaction() as db:
                held.version = db.execute("PRAGMA data_version").fetchone()[0] - 1
                started = time.thread_time()
                held.current(db)
                catching_up = time.thread_time() - started
        finally:
            store.close()
        print(f"  the filter read from the store: {reading * 1000:.0f} ms CPU for {len(folded) + len(staged):,} keys; "
              f"brought up to date after another connection's commit: {catching_up * 1000:.1f} ms")
        asked = new_keys(0)
        started = time.thread_time()
        for _ in range(100):
            held.maybe_held(asked)
        maybe = (time.thread_time() - started) / (100 * len(asked)) * 1e6
        started = time.thread_time()
        for key in asked:
            held.add(key)
        add = (time.thread_time() - started) / len(asked) * 1e6
        print(f"  the filter's own: maybe_held {maybe:.3f}, add one {add:.3f} "
              f"({held.filter.size // 1024} KiB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=300_000)
    parser.add_argument("--staged", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    main(parser.parse_args())
