"""`sentineld cases`, `case`, `ack`, `resolve` and `link`: the case queue from the command line.

They work on the store of the configured state directory, also while the daemon runs (SQLite
in WAL mode lets a short write in beside it)."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import UTC, datetime
from typing import Any

from sentineld.cli.common import CommandError, count, load, open_cli_store, print_json_lines

STATE_CHOICES = ("open", "all", "new", "acknowledged", "responded", "resolved", "merged")


def add_cases_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per case")
    parser.add_argument("--state", choices=STATE_CHOICES, default="open",
                        help="which cases (default: open, i.e. new, acknowledged or responded)")
    parser.add_argument("--limit", type=count, default=100, help="at most this many")


def add_case_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="a case id (c-…)")
    parser.add_argument("--json", action="store_true", help="the case, its mentions and history as JSON")
    parser.add_argument("--history", type=count, default=50,
                        help="how many of the customer's latest mentions to show (default 50)")


def add_ack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="a case id (c-…) or an alert id")
    parser.add_argument("--by", default=None, help="who acknowledges (default: your user name)")
    parser.add_argument("--note", default="", help="a short note kept with an alert's acknowledgement")


def add_resolve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="a case id (c-…)")


def add_link_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("identities", nargs="+", metavar="IDENTITY",
                        help="two or more identities of one customer, e.g. email:jo@example.com "
                        "bluesky:@jo.bsky.social (or a case id, for its customer)")


def cmd_cases(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        cases = store.cases(state=args.state, limit=args.limit)
    finally:
        store.close()
    if args.json:
        print_json_lines([c.to_dict() for c in cases])
        return 0
    if not cases:
        print(f"no {args.state} cases" if args.state != "all" else "no cases")
        return 0
    now = time.time()
    for case in cases:
        print(_line(case, now))
    return 0


def _line(case: Any, now: float) -> str:
    due = ""
    if case.state == "merged" and case.merged_into:
        due = f"merged into {case.merged_into}"  # its SLA went with it
    elif case.first_response_at is not None:
        late = case.sla_due_at is not None and case.first_response_at > case.sla_due_at
        due = "answered " + ("late" if late else "in time")
    elif case.state == "resolved":
        due = "resolved without an answer"  # nothing is due any more
    elif case.sla_due_at is not None:
        left = case.sla_due_at - now
        due = f"first response due in {_span(left)}" if left >= 0 else f"first response OVERDUE by {_span(-left)}"
    return (f"{case.id}  {case.state:<12}  {case.severity:<8}  {case.customer_name or case.customer}  "
            f"on {', '.join(case.channels)}  opened {_time(case.opened_at)}  {due}\n    {case.title}")


def cmd_case(args: argparse.Namespace) -> int:
    from sentineld.changes import shown_text
    from sentineld.model import mention_to_dict

    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        case = store.case(args.id)
        if case is None:
            raise CommandError(f"no case {args.id}")
        identities = store.customer_identities(case.customer)
        items = store.case_mentions(case.id)
        history = store.customer_history(case.customer, limit=args.history)
        drafts = store.drafts(case_id=case.id, limit=50)
    finally:
        store.close()
    if args.json:
        print_json_lines([{
            "case": case.to_dict(),
            "identities": [{"key": k, "origin": o} for k, o in identities],
            "mentions": [
                {**_case_mention(item), "mention": mention_to_dict(m, scored=True) if m else None}
                for item, m in items
            ],
            "history": [mention_to_dict(m, scored=True) for m in history],
            "drafts": [d.to_dict() for d in drafts],
        }])
        return 0
    print(_line(case, time.time()))
    print(f"customer {case.customer}: " + ", ".join(f"{k} ({o})" for k, o in identities))
    print("\nthis case:")
    for item, mention in items:
        who = "BRAND " if item.role == "brand" else "CUSTOMER"
        text = " ".join((shown_text(mention) if mention else "(not stored)").split())[:140]
        mark = ""
        if item.role == "customer":
            mark = f"  answered by {item.answered_by}" if item.answered_by else (
                f"  due {_time(item.due_at)}" if item.due_at else "")
        print(f"  {_time(item.created_at)}  {who}  {item.channel:<9} {text}{mark}")
    print(f"\nwhole history of the customer (last {len(history)}):")
    for mention in history:
        text = " ".join(shown_text(mention).split())[:140]
        print(f"  {_time(mention.timestamp)}  {mention.source:<9} {text}")
    if drafts:
        print("\ndrafts:")
        for draft in drafts:
            print(f"  {draft.id}  {draft.state:<8}  {draft.channel}: {draft.text}")
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    store = open_cli_store(config)
    by = args.by or getpass.getuser()
    try:
        if args.id.startswith("c-"):
            case = store.set_case_state(args.id, "acknowledged", time.time())
            if case is None:
                raise CommandError(f"no case {args.id}")
            print(f"case {case.id} is {case.state}")
            return 0
        alert = store.alert(args.id)
        if alert is None:
            raise CommandError(f"no case or alert {args.id}")
        if store.ack_alert(alert.id, time.time(), by, args.note):
            print(f"alert {alert.id} acknowledged by {by}: its escalation steps stop")
        else:
            print(f"alert {alert.id} was already acknowledged")
    finally:
        store.close()
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        case = store.set_case_state(args.id, "resolved", time.time())
        alert = store.alert(args.id) if case is None else None
    finally:
        store.close()
    if alert is not None:
        raise CommandError(f"{args.id} is an alert, not a case: an alert resolves itself when its "
                           f"condition ends; `sentineld ack {args.id}` stops its escalation steps")
    if case is None:
        raise CommandError(f"no case {args.id}")
    print(f"case {case.id} is {case.state}")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    from sentineld.cases import CaseBook, check_identity_key
    from sentineld.watch import Matcher

    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        keys = []
        for value in args.identities:
            if value.startswith("c-"):
                case = store.case(value)
                if case is None:
                    raise CommandError(f"no case {value}")
                keys += [k for k, _ in store.customer_identities(case.customer)][:1]
                continue
            try:
                keys.append(check_identity_key(value))
            except ValueError as exc:
                raise CommandError(str(exc), 2) from None
        if len(set(keys)) < 2:
            raise CommandError("name at least two different identities to link", 2)
        for warning in _unseen_sources(keys, store.identity_sources()):
            print(f"warning: {warning}", file=sys.stderr)
        book = CaseBook(config.sections["cases"], Matcher(config.watch))
        customer = store.crm_link(book, keys, "cli")
        identities = store.customer_identities(customer)
    finally:
        store.close()
    print(f"customer {customer}: " + ", ".join(k for k, _ in identities))
    return 0


def _unseen_sources(keys: list[str], seen: list[str]) -> list[str]:
    """What to say of identities from a source no identity is known from yet: a misspelt
    source (``blusky:@jo``) links a customer to an identity no mention will ever carry."""
    from sentineld.options import did_you_mean

    unseen = sorted({key.partition(":")[0] for key in keys} - set(seen))
    return [f"no identity from source {source!r} has been seen yet{did_you_mean(source, seen)} "
            f"(sources seen: {', '.join(seen) or 'none'}); linked anyway"
            for source in unseen]


def _case_mention(item: Any) -> dict[str, Any]:
    return {
        "mention_id": item.mention_id, "role": item.role, "channel": item.channel,
        "created_at": _iso(item.created_at), "due_at": _iso(item.due_at), "severity": item.severity,
        "answered_by": item.answered_by, "answers": item.answers,
    }


def _iso(seconds: float | None) -> str | None:
    from sentineld.model import format_time, from_timestamp

    return format_time(from_timestamp(seconds)) if seconds is not None else None


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"
