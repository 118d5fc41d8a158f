"""The content every chat and mail notifier shows for a notification, before each one lays it
out in its service's format (Block Kit, Adaptive Card, Discord embed, email).

Only the layout differs between services, so what an alert *says* is decided here once: a title,
the summary, a short list of facts (severity, subject, channel, times, evidence, mentions) and a
footer that identifies the alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sentineld import Notification
from sentineld.model import format_time

__all__ = ["Message", "SEVERITY_COLOR", "clip", "message_for"]

SEVERITY_EMOJI: Final = {
    "critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪",
}
#: RGB colours by severity (Discord embeds, email accents).
SEVERITY_COLOR: Final = {
    "critical": 0xD32F2F, "high": 0xF57C00, "medium": 0xFBC02D, "low": 0x1976D2, "info": 0x9E9E9E,
}
EVENT_WORD: Final = {
    "opened": "opened", "updated": "escalated", "resolved": "resolved",
    "acknowledged": "acknowledged", "renotify": "still open",
}
MAX_EVIDENCE_FACTS: Final = 4
MAX_MENTION_IDS: Final = 3


@dataclass(slots=True)
class Message:
    """A notification as people read it, independent of any service's layout."""

    title: str
    summary: str
    severity: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    footer: str = ""
    timestamp: datetime | None = None

    @property
    def color(self) -> int:
        return SEVERITY_COLOR.get(self.severity, SEVERITY_COLOR["info"])

    @property
    def plain(self) -> str:
        """The whole message as plain text (email text part, fallback texts)."""
        lines = [self.title, ""]
        if self.summary:
            lines += [self.summary, ""]
        lines += [f"{name}: {value}" for name, value in self.facts]
        if self.footer:
            lines += ["", self.footer]
        return "\n".join(lines)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def message_for(notification: Notification) -> Message:
    alert = notification.alert
    if alert is not None:
        word = EVENT_WORD.get(notification.event, notification.event)
        kind = alert.kind.replace("_", " ").capitalize()
        where = alert.subject if alert.channel == "*" else f"{alert.subject} on {alert.channel}"
        facts = [
            ("Severity", alert.severity),
            ("Subject", alert.subject),
            ("Channel", "all channels" if alert.channel == "*" else alert.channel),
            ("Opened", format_time(alert.opened_at)),
        ]
        if alert.resolved_at is not None:
            facts.append(("Resolved", format_time(alert.resolved_at)))
        for name, value in list(alert.evidence.items())[:MAX_EVIDENCE_FACTS]:
            facts.append((name.replace("_", " ").capitalize(), _value(value)))
        if alert.mentions:
            shown = ", ".join(alert.mentions[:MAX_MENTION_IDS])
            more = len(alert.mentions) - MAX_MENTION_IDS
            facts.append(("Mentions", f"{shown} (+{more} more)" if more > 0 else shown))
        return Message(
            title=f"{SEVERITY_EMOJI.get(alert.severity, '')} {kind} {word}: {where}".strip(),
            summary=alert.summary,
            severity=alert.severity,
            facts=facts,
            footer=f"sentineld · alert {alert.id} · trigger {alert.trigger or alert.kind}",
            timestamp=alert.resolved_at if notification.event == "resolved" else alert.opened_at,
        )
    draft = notification.draft
    if draft is not None:
        facts = [("Channel", draft.channel)]
        if draft.mention_id:
            facts.append(("In reply to", draft.mention_id))
        if draft.template:
            facts.append(("Template", draft.template))
        if draft.alert_id:
            facts.append(("Alert", draft.alert_id))
        return Message(
            title=f"✍️ Reply drafted ({notification.event}) for {draft.channel}",
            summary=draft.text,
            severity="info",
            facts=facts,
            footer=f"sentineld · {notification.key}",
        )
    return Message(title=f"sentineld: {notification.event}", summary="", severity="info",
                   footer=f"sentineld · {notification.key}")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value[:5]) + ("…" if len(value) > 5 else "")
    return str(value)
