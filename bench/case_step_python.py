"""The case step's own Python per mention, with SQLite taken out of the measure.

    .venv/bin/python bench/case_step_python.py [--mentions 100000] [--runs 5] [--baseline REV]

The stream is bench/throughput.py's (one mention in five @-mentions the brand's account, nearly
every author new). Each batch of 512 goes through the step's filter and then `CaseBook.apply`
and `CrmTables.flush` on a connection whose calls do nothing: every read misses, as it nearly
always does on this stream, and the rows are built but not inserted. What is left is the
Python the store thread runs per batch, which the noise of SQLite's writes on a busy machine
hides in bench/cases_speed.py. Printed: CPU µs per mention of the stream, the least of seven
passes per process, the median over ``--runs`` processes.

With ``--baseline REV`` the same runs are made on `sentineld/cases.py` and `sentineld/store` of
git revision `REV` (the rest from the working tree), alternating with the working tree's.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BATCH = 512


class NoSQL:
    """A connection that runs nothing: reads find no row, writes are consumed and dropped."""

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        return iter(())

    def executemany(self, sql: str, rows: Any) -> None:
        for _ in rows:
            pass


def child(stream: Path) -> dict[str, Any]:
    sys.path.insert(1, str(HERE))
    import sentineld
    from cases_speed import THROUGHPUT_WATCH
    from sentineld.cases import CaseBook, CasesOptions
    from sentineld.model import decode_mention
    from sentineld.store.crm import CrmTables
    from sentineld.watch import Matcher

    with stream.open("rb") as lines:
        mentions = [decode_mention(line) for line in lines]
    for mention in mentions:  # read by ingest before the case step in the pipeline
        _ = mention.author_key, mention.timestamp
    book = CaseBook(CasesOptions(), Matcher(THROUGHPUT_WATCH))
    addressing = book.addressing
    batches = [mentions[i : i + BATCH] for i in range(0, len(mentions), BATCH)]
    gc.freeze()
    passes = []
    for _ in range(7):
        started = time.process_time()
        for batch in batches:
            relevant = [m for m in batch if m.in_reply_to or m.source in addressing.direct
                        or addressing.names_own_account(m.text)]
            tables = CrmTables(NoSQL())  # type: ignore[arg-type]
            book.apply(tables, relevant)
            tables.flush()
        passes.append((time.process_time() - started) / len(mentions) * 1e6)
    return {"code": str(Path(sentineld.__file__).parent), "us": min(passes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="also run the case step of this git revision")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return

    sys.path.insert(0, str(HERE))
    from store_speed import extract
    from throughput import write_stream
    from turns import in_turns, run_child

    with tempfile.TemporaryDirectory(prefix="sentineld-case-python-") as scratch:
        folder = Path(scratch)
        stream = folder / "stream.jsonl"
        write_stream(stream, args.mentions, authors=200_000)
        variants: dict[str, Path | None] = {}
        if args.baseline:
            variants[f"baseline {args.baseline}"] = extract(
                args.baseline, folder / "baseline", ["sentineld/cases.py", "sentineld/store"]
            )
        variants["working tree"] = None
        results = in_turns(variants, args.runs, lambda code: run_child(__file__, ["--child", str(stream)], code)["us"])
    print(f"case step's Python (SQLite's calls stubbed out), {args.mentions:,} mentions of the throughput "
          f"stream, batches of {BATCH}: CPU µs per mention of the stream")
    medians = {}
    for name, figures in results.items():
        medians[name] = statistics.median(figures)
        print(f"  {name}: {medians[name]:.2f} (runs: {', '.join(f'{f:.2f}' for f in figures)})")
    if len(medians) == 2:
        old, new = medians.values()
        print(f"working tree / baseline: {new / old:.2f}x")


if __name__ == "__main__":
    main()
