"""`sentineld drafts` and `sentineld approve`: drafted replies waiting for a person.

Nothing is posted before it is approved. An approved draft is posted by the running daemon,
through the responder configured for its channel (mastodon, bluesky), which only logs what it
would post while its ``dry_run`` is on."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from sentineld.cli.common import CommandError, count, load, open_cli_store, print_json_lines

STATES = ("pending", "approved", "posted", "dry_run", "failed", "rejected")


def add_drafts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per draft")
    parser.add_argument("--state", choices=(*STATES, "all"), default="pending",
                        help="which drafts (default: pending, i.e. waiting for approval)")
    parser.add_argument("--case", default=None, metavar="ID", help="only the drafts of this case")
    parser.add_argument("--reject", default=None, metavar="ID", help="reject this draft (it is never posted)")
    parser.add_argument("--limit", type=count, default=100, help="at most this many")


def add_approve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="a draft id (d-…)")
    parser.add_argument("--text", default=None, help="approve this text instead of the drafted one")
    parser.add_argument("--by", default=None, help="who approves (default: your user name)")


def cmd_drafts(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        if args.reject:
            draft = store.reject_draft(args.reject, getpass.getuser())
            if draft is None:
                raise CommandError(f"no draft {args.reject}")
            print(f"draft {draft.id} rejected")
            return 0
        state = None if args.state == "all" else args.state
        drafts = store.drafts(state=state, case_id=args.case, limit=args.limit)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        store.close()
    if args.json:
        print_json_lines([d.to_dict() for d in drafts])
        return 0
    if not drafts:
        print(f"no {args.state} drafts" if args.state != "all" else "no drafts")
        return 0
    for draft in drafts:
        where = f"reply to {draft.mention_id}" if draft.mention_id else "new post"
        links = " ".join(x for x in (f"case {draft.case_id}" if draft.case_id else "",
                                     f"alert {draft.alert_id}" if draft.alert_id else "") if x)
        print(f"{draft.id}  {draft.state:<8}  {draft.channel}  {where}  [{draft.template}]  {links}")
        print(f"    {draft.text}")
        if draft.error:
            print(f"    last error: {draft.error}")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    if args.text is not None and not args.text.strip():
        raise CommandError("--text is empty: a blank reply would be posted", 2)
    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        draft = store.approve_draft(args.id, args.by or getpass.getuser(), args.text)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        store.close()
    if draft is None:
        raise CommandError(f"no draft {args.id}")
    print(f"draft {draft.id} approved by {draft.approved_by}; " + _who_posts(config, draft.channel))
    return 0


def _who_posts(config: Any, channel: str) -> str:
    """What happens next to an approved draft on `channel`, from the configured responders."""
    for spec in config.of_kind("responder").values():
        if channel in getattr(spec.cls, "post_channels", ()):
            dry = " (dry run: it only logs the reply)" if getattr(spec.options, "dry_run", False) else ""
            return f"the running daemon posts it on {channel} through responder {spec.id}{dry}"
    return (f"no configured responder posts on {channel!r}, so nothing will post it: "
            "post it by hand")
