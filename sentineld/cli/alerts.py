"""`sentineld alerts`: the alerts in the store, newest first, optionally filtered by matchers
(``sentineld alerts --open kind=viral_post severity=~high|critical``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from sentineld.cli.common import CommandError, count, load, open_cli_store, print_json_lines

PAGE = 500
#: Evidence keys shown in the one-line explanation, in this order, when an alert carries them.
EVIDENCE_KEYS = ("observed", "expected", "threshold", "factor", "z", "tail_probability", "window")


def add_alerts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("matchers", nargs="*", metavar="MATCHER",
                        help="only alerts whose labels match, e.g. kind=viral_post, "
                        "subject=~competitor:.*, severity!=low")
    parser.add_argument("--json", action="store_true", help="Alert JSON Lines")
    parser.add_argument("--open", action="store_true", help="only alerts not resolved yet")
    parser.add_argument("--limit", type=count, default=100, help="at most this many (newest first)")


def cmd_alerts(args: argparse.Namespace) -> int:
    from sentineld.alertrules import alert_labels, matches_all, parse_matchers
    from sentineld.model import alert_to_dict

    try:
        matchers = parse_matchers(args.matchers)
    except ValueError as exc:
        raise CommandError(str(exc), 2) from None
    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        alerts: list[Any] = []
        offset = 0
        while len(alerts) < args.limit:
            page = store.alerts(open_only=args.open, limit=PAGE, offset=offset)
            offset += len(page)
            alerts += [a for a in page if matches_all(matchers, alert_labels(a))]
            if len(page) < PAGE:
                break
        alerts = alerts[: args.limit]
        mutes = _mutes(config, store, alerts) if not args.json else {}
        acks = store.alert_ack_details([a.id for a in alerts]) if not args.json else {}
    finally:
        store.close()
    if args.json:
        print_json_lines([alert_to_dict(a) for a in alerts])
        return 0
    if not alerts:
        what = "open alerts" if args.open else "alerts"
        print(f"no {what}" + (" match" if matchers else ""))
        return 0
    now = datetime.now(UTC)
    for alert in alerts:
        print(_render(alert, now, mutes.get(alert.id), acks.get(alert.id)))
    return 0


def _mutes(config: Any, store: Any, alerts: list[Any]) -> dict[str, str]:
    """Why each open alert is not notified right now (silence, inhibition, severity floor)."""
    from sentineld.alerting import AlertManager
    from sentineld.model import alert_to_dict

    open_alerts = [a for a in store.alerts(open_only=True, limit=10_000)]
    if not open_alerts:
        return {}
    manager = AlertManager(config.sections.get("alerting"))
    manager.restore([alert_to_dict(a) for a in open_alerts])
    manager.set_silences(store.silences(ending_after=datetime.now(UTC).timestamp()))
    now = datetime.now(UTC).timestamp()
    found = {}
    for alert in alerts:
        if alert.is_open:
            reason = manager.muted_by(alert, now)
            if reason:
                found[alert.id] = reason
    return found


def _render(alert: Any, now: datetime, muted: str | None, ack: tuple[float, str, str] | None = None) -> str:
    from sentineld.model import format_time

    if alert.is_open:
        state = f"OPEN for {_ago(now - alert.opened_at)}"
    else:
        state = f"resolved after {_ago(alert.resolved_at - alert.opened_at)}"
    head = (f"{alert.severity.upper():<8}  {alert.kind:<18}  {alert.subject}  on {alert.channel}  "
            f"{format_time(alert.opened_at)}  {state}  [{alert.id}]")
    lines = [head, f"    {alert.summary}"]
    evidence = [f"{key} {alert.evidence[key]}" for key in EVIDENCE_KEYS if key in alert.evidence]
    if evidence:
        lines.append("    " + ", ".join(evidence))
    if ack is not None:
        at, by, note = ack
        lines.append(f"    acknowledged by {by} at {format_time(datetime.fromtimestamp(at, UTC))}"
                     + (f": {note}" if note else ""))
    if muted:
        lines.append(f"    not notified now: {muted}")
    return "\n".join(lines)


def _ago(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"
