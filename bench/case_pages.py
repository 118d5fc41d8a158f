"""The case step as its tables grow: CPU and the WAL pages each B-tree gets, window by window.

    .venv/bin/python bench/case_pages.py [--mentions 500000] [--window 100000] [--batch 2800]
        [--authors 200000] [--zipf 0]

The stream has bench/throughput.py's shape (one mention in five @-mentions the brand's account,
a third from Mastodon, the rest Bluesky, one every 50 ms), with authors drawn uniformly from
``--authors`` (the throughput bench: most addressed mentions are a new customer's) or, with
``--zipf S``, by a Zipf law of exponent S (a real stream: most are a returning customer's). Each
batch is stored (`ingest`) and then goes through the case step in one `crm_apply`, as the
pipeline does; ``--batch`` is about what the pipeline hands the case step on the 1M replay.

Per window of the stream: `crm_apply`'s CPU (`time.thread_time`) in µs per mention, and the
WAL frames its commits wrote per mention by table or index (the frames' page numbers read from
the WAL, mapped with the ``dbstat`` table). The WAL is checkpointed before each call, outside
the timing, so that each call's frames can be read back.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import sqlite3
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentineld.cases import CaseBook, CasesOptions  # noqa: E402
from sentineld.model import Author, Mention  # noqa: E402
from sentineld.store import open_store  # noqa: E402
from sentineld.watch import Matcher, WatchConfig  # noqa: E402

WATCH = WatchConfig(brand=["sentineld", "@sentineld", "#sentineld"], accounts=["sentineld"])
#: The WAL-index header's count of valid frames (``mxFrame``), in the ``-shm`` file.
MX_FRAME_OFFSET = 16
WAL_HEADER = 32
FRAME_HEADER = 24


def author_picker(count: int, zipf: float, rng: random.Random) -> Iterator[int]:
    if zipf <= 0:
        while True:
            yield rng.randrange(count)
    weights = list(itertools.accumulate(1 / (rank + 1) ** zipf for rank in range(count)))
    while True:
        yield bisect.bisect_left(weights, rng.random() * weights[-1])


def stream(count: int, authors: int, zipf: float, seed: int = 1) -> Iterator[Mention]:
    rng = random.Random(seed)
    picks = author_picker(authors, zipf, rng)
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(count):
        moment += timedelta(milliseconds=50)
        who = next(picks)
        name = "@sentineld" if index % 5 == 0 else "sentineld"
        yield Mention(
            id=f"bench:{index}", source="bluesky" if index % 3 else "mastodon", created_at=moment,
            text=f"{name} the parcel {index} is late", author=Author(id=f"did:plc:{who}", handle=f"user{who}.example"),
        )


def frames_written(wal: Path, shm: Path, page_size: int) -> list[int]:
    """Page numbers of the WAL's frames (after a checkpoint that emptied it)."""
    with shm.open("rb") as index:
        frames = struct.unpack("<I", index.read(MX_FRAME_OFFSET + 4)[MX_FRAME_OFFSET:])[0]
    pages = []
    with wal.open("rb") as log:
        for frame in range(frames):
            log.seek(WAL_HEADER + frame * (page_size + FRAME_HEADER))
            pages.append(struct.unpack(">I", log.read(4))[0])
    return pages


def main(args: argparse.Namespace) -> None:
    book = CaseBook(CasesOptions(), Matcher(WATCH))
    direct, names_own = book.addressing.direct, book.addressing.names_own_account
    cpu: dict[int, float] = {}
    pages: dict[int, Counter[int]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(Path(scratch))
        db_path = Path(str(store.path))
        wal, shm = db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")
        page_size = store.db.execute("PRAGMA page_size").fetchone()[0]
        store.db.execute("PRAGMA wal_autocheckpoint=0")
        seen = 0
        mentions = stream(args.mentions, args.authors, args.zipf)
        while batch := list(itertools.islice(mentions, args.batch)):
            store.ingest("bench", batch, None)
            addressed = [m for m in batch if m.in_reply_to or m.source in direct or names_own(m.text)]
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            window = seen // args.window
            started = time.thread_time()
            store.crm_apply(book, addressed)
            cpu[window] = cpu.get(window, 0.0) + time.thread_time() - started
            pages.setdefault(window, Counter()).update(frames_written(wal, shm, page_size))
            seen += len(batch)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        owner = dict(sqlite3.connect(db_path).execute("SELECT pageno, name FROM dbstat"))
        customers, cases = (store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("customers", "cases"))
        store.close()
    print(f"{args.mentions} mentions, authors {'uniform' if args.zipf <= 0 else f'Zipf {args.zipf}'} of "
          f"{args.authors}, batches of {args.batch}: {customers} customers, {cases} cases")
    for window in sorted(cpu):
        by_tree: Counter[str] = Counter()
        for page, times in pages[window].items():
            by_tree[owner.get(page, "?")] += times
        total = sum(by_tree.values())
        top = ", ".join(f"{name} {n / args.window:.3f}" for name, n in by_tree.most_common(5))
        print(f"mentions {window * args.window:>8}+: crm_apply {cpu[window] / args.window * 1e6:5.2f} µs CPU/mention, "
              f"WAL {total / args.window:.3f} pages/mention ({total / args.window * page_size / 1024:.1f} KiB): {top}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=500_000)
    parser.add_argument("--window", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2800, help="mentions per crm_apply (and ingest)")
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--zipf", type=float, default=0.0, help="Zipf exponent of the authors (0: uniform)")
    main(parser.parse_args())
