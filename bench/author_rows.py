"""What the registry's rows cost the store at each checkpoint, as this tree stores them.

    .venv/bin/python bench/author_rows.py [--authors 355000] [--rows 40000] [--checkpoints 5]
                                          [--runs 3] [--baseline DIR]

Fills a real store with ``--authors`` author rows as the registry writes them
(`AuthorRecord.to_row`, `save_authors`), shaped like those of the 1M-mention bench stream
(355,091 authors; ``bluesky:did:plc:N`` keys, handles, three profile counts, no name or creation
time, 38 % of the authors seen once) except that a tenth of them drew engagement after their
last scored post (their audience mass is not their maven mass). Then ``--checkpoints`` times,
``--rows`` authors drawn at random are seen again (a mention more, a later last sighting, a
larger maven mass) and written as a checkpoint writes them (in key order, one transaction), and
the WAL is copied back into the database as the WAL thread does. A checkpoint of the 1M replay
writes 15,000 to 45,000 rows, depending on how many mentions pass between two (5 s apart).

Prints, per checkpoint: the CPU of writing the rows and committing them, the WAL bytes, the CPU
of the copy-back; per key, the CPU of ``load_authors`` (500 keys a query) and of making the
records (`AuthorRecord.from_row`); and the table's size. Medians of ``--runs`` runs, each in a
fresh process. ``--baseline DIR`` also measures another checkout (a ``git worktree`` of the
commit before a change), the two taking turns, and prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from turns import importable, in_turns, print_medians, run_child  # noqa: E402

LOOKUP = 500
START = 1_793_000_000.0


def records(count: int, rng: random.Random) -> list[Any]:
    from sentineld.authors import AuthorRecord

    made = []
    for number in range(count):
        first = START + rng.uniform(0, 30 * 86400)
        mentions = 1 if rng.random() < 0.38 else rng.randint(2, 6)
        last = first if mentions == 1 else first + rng.uniform(60, 20 * 86400)
        mass = 2058.0 + rng.random()
        connector, maven = rng.random() ** 3, rng.random()
        made.append(AuthorRecord(
            f"bluesky:did:plc:{number}", "bluesky", round(first, 6), round(last, 6), handle=f"user{number}.example",
            followers=int(rng.paretovariate(1.2) * 20), following=rng.randint(0, 3000), posts=rng.randint(0, 40000),
            mentions=mentions, on_topic=mentions, sentiment_sum=round(rng.uniform(-1, 1) * mentions, 4),
            sentiment_n=mentions, maven_mass=mass, reach=rng.uniform(0, 4),
            audience_mass=mass - rng.random() if rng.random() < 0.1 else mass,
            connector=connector, maven=maven, influence=max(connector, maven),
        ))  # fmt: skip
    return made


def measure(authors: int, rows: int, checkpoints: int) -> dict[str, float]:
    from sentineld.authors import AuthorRecord
    from sentineld.cli.common import STREAMING_GC_THRESHOLDS
    from sentineld.store import open_store

    import gc

    gc.set_threshold(*STREAMING_GC_THRESHOLDS)
    rng = random.Random(7)
    made = records(authors, rng)
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        store = open_store(Path(scratch))
        store.set_wal_autocheckpoint(0)  # the daemon's WAL thread copies the WAL back
        wal = Path(scratch) / (store.path.name + "-wal")
        try:
            for start in range(0, authors, 50_000):
                part = sorted((record.to_row() for record in made[start : start + 50_000]), key=lambda row: row[0])
                store.save_authors(part, 1, b"")
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = os.path.getsize(store.path)
            write = copy = wal_bytes = 0.0
            for number in range(checkpoints):
                seen = [made[index] for index in rng.sample(range(authors), rows)]
                for record in seen:
                    record.mentions += 1
                    record.last_seen += 3600.0
                    record.maven_mass += 0.001
                    record.audience_mass = record.maven_mass
                taken = sorted((record.to_row() for record in seen), key=lambda row: row[0])
                started = time.thread_time()
                store.save_authors(taken, 2 + number, b"")
                write += time.thread_time() - started
                wal_bytes += os.path.getsize(wal)
                started = time.thread_time()
                store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                copy += time.thread_time() - started
            keys = [record.key for record in made]
            load = decode = 0.0
            for _ in range(40):
                started = time.thread_time()
                found, _ = store.load_authors(rng.sample(keys, LOOKUP))
                load += time.thread_time() - started
                started = time.thread_time()
                for row in found:
                    AuthorRecord.from_row(row)
                decode += time.thread_time() - started
        finally:
            store.close()
    return {
        "write + commit ms/checkpoint": write / checkpoints * 1e3,
        "WAL MB/checkpoint": wal_bytes / checkpoints / 1e6,
        "copy-back ms/checkpoint": copy / checkpoints * 1e3,
        "load_authors µs/key": load / (40 * LOOKUP) * 1e6,
        "from_row µs/key": decode / (40 * LOOKUP) * 1e6,
        "database MB": size / 1e6,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--authors", type=int, default=355_000)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--checkpoints", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows > args.authors:
        parser.error("--rows cannot exceed --authors")
    if args.child:  # a measuring subprocess
        print(json.dumps(measure(args.authors, args.rows, args.checkpoints)))
        return
    arguments = ["--child", "--authors", str(args.authors), "--rows", str(args.rows),
                 "--checkpoints", str(args.checkpoints)]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as scratch:
        trees: dict[str, Path | None] = {"this checkout": None}
        if args.baseline is not None:
            trees = {"baseline": importable(args.baseline, Path(scratch) / "baseline"), **trees}
        results = in_turns(trees, args.runs, lambda code: run_child(__file__, arguments, code))
    print(f"{args.authors:,} authors, checkpoints of {args.rows:,} rows, median of {args.runs} runs, thread CPU\n")
    print_medians(results, label_width=30, digits=2)


if __name__ == "__main__":
    main()
