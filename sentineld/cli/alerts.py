from __future__ import annotations

import argparse

from sentineld.cli.common import load, open_store_readonly, print_json_lines


def add_alerts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="Alert JSON Lines")
    parser.add_argument("--open", action="store_true", help="only alerts not resolved yet")
    parser.add_argument("--limit", type=int, default=100, help="at most this many (newest first)")


def cmd_alerts(args: argparse.Namespace) -> int:
    from sentineld.model import alert_to_dict, format_time

    config = load(args, logging=False)
    store = open_store_readonly(config)
    try:
        alerts = store.alerts(open_only=args.open, limit=args.limit)
    finally:
        store.close()
    if args.json:
        print_json_lines([alert_to_dict(a) for a in alerts])
        return 0
    if not alerts:
        print("no open alerts" if args.open else "no alerts")
    for alert in alerts:
        state = "OPEN" if alert.is_open else f"resolved {format_time(alert.resolved_at)}"  # type: ignore[arg-type]
        print(
            f"{alert.id}  {format_time(alert.opened_at)}  {alert.severity:<8}  {alert.kind:<18}  "
            f"{alert.subject}/{alert.channel}  {state}\n    {alert.summary}"
        )
    return 0
