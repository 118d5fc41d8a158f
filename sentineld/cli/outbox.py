"""`sentineld outbox`: what waits for delivery, what was dead-lettered, and putting it back."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sentineld.cli.common import CommandError, count, load, open_cli_store, print_json_lines

if TYPE_CHECKING:
    from sentineld.store import OutboxItem, SQLiteStore


def add_outbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dead", action="store_true", help="list the dead-letter list")
    parser.add_argument("--delivered", action="store_true", help="list delivered notifications")
    parser.add_argument(
        "--retry", metavar="ID", type=int, action="append", default=[],
        help="put a dead-lettered delivery back in its queue (repeatable); the running daemon "
        "delivers it within its [outbox] poll interval",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per delivery")
    parser.add_argument("--limit", type=count, default=100, help="at most this many (newest first)")


def cmd_outbox(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        if args.retry:
            return _retry(store, args.retry)
        state = "dead" if args.dead else "delivered" if args.delivered else "pending"
        items = store.outbox(state=state, limit=args.limit)
        counts = store.outbox_counts()
    finally:
        store.close()
    if args.json:
        print_json_lines([item.to_dict() for item in items])
        return 0
    _print_counts(counts)
    if not items:
        print(f"no {state} deliveries")
    for item in items:
        _print_item(item)
    return 0


def _retry(store: SQLiteStore, ids: list[int]) -> int:
    missing = [seq for seq in ids if not store.outbox_retry(seq)]
    for seq in ids:
        if seq not in missing:
            print(f"re-queued {seq}")
    if missing:
        raise CommandError(
            "no dead-lettered delivery with id " + ", ".join(map(str, missing))
            + " (see `sentineld outbox --dead`)"
        )
    return 0


def _print_counts(counts: dict[str, dict[str, int]]) -> None:
    for destination in sorted(counts):
        states = counts[destination]
        line = ", ".join(f"{states[s]} {s}" for s in ("pending", "dead", "delivered") if s in states)
        print(f"{destination}: {line}")
    if counts:
        print()


def _print_item(item: OutboxItem) -> None:
    from sentineld.model import format_time, from_timestamp

    data = item.to_dict()
    when = format_time(from_timestamp(data["created_at"]).replace(microsecond=0))
    print(
        f"{data['seq']:>6}  {data['state']:<9}  {data['destination']:<16}  "
        f"attempts={data['attempts']:<3}  queued {when}  {data['key']}"
    )
    if data["last_error"] and data["state"] != "delivered":
        print(f"        last error: {data['last_error']}")
