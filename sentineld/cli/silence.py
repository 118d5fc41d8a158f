"""`sentineld silence add|list|expire`: mute the notifications of matching alerts for a while.

Silences live in the store, so a running daemon picks them up within `[alerting] silence_poll`.
Matchers use the alert labels (kind, subject, subject_root, channel, severity, trigger, id)::

    sentineld silence add kind=negativity_spike channel=bluesky --for 2h --reason "outage, on it"
    sentineld silence list
    sentineld silence expire 3f9c2a1b7d10
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sentineld.cli.common import CommandError, load, open_cli_store, print_json_lines


def add_silence_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a silence", description="add a silence")
    add.add_argument("matchers", nargs="+", metavar="MATCHER",
                     help="LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or LABEL!~REGEX; all must match")
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", metavar="DURATION",
                       help="how long, e.g. 30m, 2h, 1d (from --start)")
    until.add_argument("--until", metavar="TIME", help="when it ends (ISO 8601 with a zone)")
    add.add_argument("--start", metavar="TIME", default=None,
                     help="when it starts (ISO 8601 with a zone; default: now)")
    add.add_argument("--reason", required=True, help="why (shown to whoever wonders later)")
    add.add_argument("--by", default=None, help="who sets it (default: the current user)")
    add.add_argument("--json", action="store_true", help="print the silence as JSON")

    listing = actions.add_parser("list", help="list silences", description="list silences")
    listing.add_argument("--all", action="store_true", help="include expired silences")
    listing.add_argument("--json", action="store_true", help="JSON Lines")

    expire = actions.add_parser("expire", help="end silences now", description="end silences now")
    expire.add_argument("ids", nargs="+", metavar="ID")

    for sub in (add, listing, expire):
        sub.add_argument("-c", "--config", metavar="FILE", default=argparse.SUPPRESS,
                         help="config file (as for every command)")


def cmd_silence(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        return {"add": _add, "list": _list, "expire": _expire}[args.action](args, store)
    finally:
        store.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _time(text: str, option: str) -> datetime:
    from sentineld.model import parse_time

    if text == "now":
        return _now()
    try:
        return parse_time(text)
    except ValueError as exc:
        raise CommandError(f"{option}: {exc}", 2) from None


def _add(args: argparse.Namespace, store: Any) -> int:
    from sentineld.alertrules import Silence, new_silence_id, parse_matcher
    from sentineld.options import parse_duration

    for text in args.matchers:
        try:
            parse_matcher(text)
        except ValueError as exc:
            raise CommandError(str(exc), 2) from None
    starts = _time(args.start, "--start") if args.start else _now()
    if args.duration is not None:
        try:
            length = parse_duration(args.duration)
        except ValueError as exc:
            raise CommandError(f"--for: {exc}", 2) from None
        ends = starts + timedelta(seconds=length)
    else:
        ends = _time(args.until, "--until")
    if ends <= starts:
        raise CommandError("the silence would end before it starts", 2)
    if not args.reason.strip():
        raise CommandError("--reason must say something", 2)
    silence = Silence(
        id=new_silence_id(), matchers=list(args.matchers), starts_at=starts, ends_at=ends,
        reason=args.reason.strip(), created_by=args.by or _user(), created_at=_now(),
    )
    store.add_silence(silence)
    if args.json:
        print_json_lines([_silence_dict(silence)])
    else:
        print(silence.id)
        muting = _matching(silence, store.alerts(open_only=True, limit=10_000))
        # A misspelt value (kind=unanswred) is a valid matcher that mutes nothing: say so now.
        print(f"silenced {' '.join(silence.matchers)} from {_fmt(starts)} until {_fmt(ends)}; "
              f"{_open_alerts(muting)} match it now", file=sys.stderr)
    return 0


def _matching(silence: Any, open_alerts: list[Any]) -> int:
    from sentineld.alertrules import alert_labels, matches_all

    return sum(1 for a in open_alerts if matches_all(silence.parsed, alert_labels(a)))


def _open_alerts(count: int) -> str:
    return f"{count} open alert{'s' if count != 1 else ''}"


def _list(args: argparse.Namespace, store: Any) -> int:
    now = _now().timestamp()
    silences = store.silences(ending_after=None if args.all else now)
    if args.json:
        print_json_lines([_silence_dict(s, now) for s in silences])
        return 0
    if not silences:
        print("no silences" if args.all else "no active or pending silences")
        return 0
    open_alerts = store.alerts(open_only=True, limit=10_000)
    for silence in silences:
        muting = _matching(silence, open_alerts)
        print(
            f"{silence.id}  {silence.state(now):<8}  {_fmt(silence.starts_at)} → {_fmt(silence.ends_at)}"
            f"  by {silence.created_by}  ({_open_alerts(muting)} match)\n"
            f"    {' '.join(silence.matchers)}\n    reason: {silence.reason}"
        )
    return 0


def _expire(args: argparse.Namespace, store: Any) -> int:
    now = _now()
    status = 0
    for silence_id in args.ids:
        before = store.silence(silence_id)
        if before is None:
            print(f"sentineld: no silence {silence_id}", file=sys.stderr)
            status = 1
            continue
        if before.ends_at <= now:
            print(f"{silence_id} had already expired at {_fmt(before.ends_at)}")
            continue
        store.expire_silence(silence_id, now)
        print(f"{silence_id} expired at {_fmt(now)}")
    return status


def _silence_dict(silence: Any, now: float | None = None) -> dict[str, Any]:
    import msgspec

    data = msgspec.to_builtins(silence)
    data["state"] = silence.state(now if now is not None else _now().timestamp())
    return data


def _fmt(moment: datetime) -> str:
    from sentineld.model import format_time

    return format_time(moment)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")
