"""What open alerts cost: memory per open alert, the checkpoint of the alert state, and storing
alert events, each beside the way it was done before, in one run.

    .venv/bin/python bench/alert_state.py [--open 10000] [--changed 200] [--events 5000] [--runs 5]

- **memory**: ``--open`` alerts shaped like the `unanswered` trigger's (summary and evidence
  quoting the customer, one mention id), held whole (as the manager did) and as compact records
  once a checkpoint stored their text (tracemalloc, bytes per open alert).
- **checkpoint**: with ``--open`` alerts open and ``--changed`` of them changed since the last
  checkpoint, the whole state encoded (every open alert, as before) against the rows that
  changed (`take_changes`) and the small rest (`snapshot(whole=False)`), encoded and stored in a
  real SQLite store with the checkpoint.
- **store**: ``--events`` alert changes stored one transaction each (`record_alert`, as before)
  against one transaction per 50 (`record_alerts`: what one trigger-stage item gathers), in a
  real SQLite file (WAL, synchronous=NORMAL, as the daemon runs it).

Figures are CPU medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentineld.alerting import AlertManager, Signal  # noqa: E402
from sentineld.alertrules import AlertingOptions  # noqa: E402
from sentineld.store import open_store  # noqa: E402

T0 = datetime(2026, 11, 24, 9, tzinfo=UTC)
encode = msgspec.msgpack.Encoder().encode


def signal(index: int, at: datetime) -> Signal:
    customer = f"cu-{index:07x}9f3c2a1b"
    text = f"@acme my bag never arrived and nobody answers the phone, booking ref {index:06d}, help"
    return Signal(
        True, "waiting", "unanswered", f"brand/customer:{customer}", "bluesky", at,
        f"user{index}.bsky.social has waited 1h for an answer on bluesky (first response was due "
        f"2026-11-24T10:00:00Z): “{text}”",
        "medium",
        {"customer": customer, "who": f"user{index}.bsky.social", "waiting": 1, "observed": "1h",
         "expected": "1h", "window": "1h", "oldest_at": "2026-11-24T09:00:00Z",
         "due_at": "2026-11-24T10:00:00Z", "overdue_by": "0s", "text": text},
        (f"bluesky:at://did:plc:{index:024d}/app.bsky.feed.post/3k{index:010d}",),
    )


def opened(count: int) -> tuple[AlertManager, list]:
    manager = AlertManager(AlertingOptions(max_open=0))
    events = []
    for start in range(0, count, 500):
        at = T0 + timedelta(seconds=start)
        events += manager.apply([signal(i, at) for i in range(start, min(count, start + 500))])
    return manager, events


def cpu(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.process_time()
        action()
        times.append(time.process_time() - started)
    return statistics.median(times)


def memory(count: int) -> None:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    manager, events = opened(count)
    del events
    gc.collect()
    whole = tracemalloc.get_traced_memory()[0] - before
    manager.take_dirty()
    manager.take_changes()
    gc.collect()
    compact = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"memory, {count:,} open alerts: {whole / count:,.0f} B each held whole, "
          f"{compact / count:,.0f} B as compact records ({whole / compact:.1f}x less)")


def checkpoint(count: int, changed: int, runs: int) -> None:
    manager, _ = opened(count)
    manager.take_dirty()
    manager.take_changes()
    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(Path(scratch))
        later = T0 + timedelta(hours=2)

        def change() -> None:
            manager.apply([signal(i, later) for i in range(changed)])

        def whole() -> None:
            change()
            blob = encode(manager.snapshot(whole=True))
            manager.take_changes()
            store.save_checkpoint("bench", 1, blob)

        def rows() -> None:
            change()
            blob = encode(manager.snapshot(whole=False))
            store.save_checkpoint("bench", 1, blob, alert_conditions=manager.take_changes())

        whole_s, rows_s = cpu(whole, runs), cpu(rows, runs)
        whole_bytes = len(encode(manager.snapshot(whole=True)))
        rows_bytes = len(encode(manager.snapshot(whole=False))) + changed * len(
            next(iter(manager.open.values())).row())
        store.close()
    print(f"checkpoint, {count:,} open, {changed:,} changed: whole state {whole_s * 1000:.1f} ms "
          f"({whole_bytes / 1e6:.1f} MB), changed rows {rows_s * 1000:.1f} ms "
          f"({rows_bytes / 1e3:.0f} kB): {whole_s / rows_s:.0f}x less CPU")


def store_events(count: int, runs: int, per_item: int = 50) -> None:
    _, events = opened(count)
    alerts = [event.alert for event in events if event.change]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("one transaction per event", f"one per {per_item} events"):
            times = []
            for run in range(runs):
                store = open_store(Path(scratch) / f"{len(results)}-{run}")
                started = time.process_time()
                if name.startswith("one transaction"):
                    for alert in alerts:
                        store.record_alert(alert, [])
                else:
                    for start in range(0, len(alerts), per_item):
                        store.record_alerts(alerts[start:start + per_item], [])
                times.append(time.process_time() - started)
                store.close()
            results[name] = statistics.median(times) / len(alerts) * 1e6
    single, batched = results.values()
    print(f"store, {len(alerts):,} alert changes: {single:.0f} µs each one transaction each, "
          f"{batched:.0f} µs each {per_item} per transaction ({single / batched:.1f}x less CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=200)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    memory(args.open)
    checkpoint(args.open, args.changed, args.runs)
    store_events(args.events, args.runs)


if __name__ == "__main__":
    main()
