"""Console notifier: one readable line per alert event, on standard output or standard error."""

from __future__ import annotations

import sys
from typing import Any, Literal

from sentineld import Notification, Notifier, Options, hookimpl
from sentineld.model import format_time


class ConsoleOptions(Options):
    #: Where to write: "stdout" or "stderr".
    stream: Literal["stdout", "stderr"] = "stdout"


def describe(notification: Notification) -> str:
    """A one-line human description of a notification (shared by the plain-text notifiers)."""
    alert = notification.alert
    if alert is not None:
        when = format_time(alert.resolved_at or alert.opened_at)
        return (
            f"[{alert.severity.upper()}] {notification.event} {alert.kind} "
            f"subject={alert.subject} channel={alert.channel} at={when}: {alert.summary}"
        )
    if notification.draft is not None:
        return f"[DRAFT] {notification.event} for {notification.draft.mention_id}: {notification.draft.text}"
    return f"{notification.event} {notification.key}"


class ConsoleNotifier(Notifier):
    type_name = "console"
    description = "one readable line per alert event on stdout or stderr"
    Options = ConsoleOptions

    async def notify(self, notification: Notification) -> None:
        stream = sys.stdout if self.options.stream == "stdout" else sys.stderr
        print(describe(notification), file=stream, flush=True)


@hookimpl
def register_notifiers(register: Any) -> None:
    register(ConsoleNotifier)
