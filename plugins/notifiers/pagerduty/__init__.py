"""PagerDuty notifier: Events API v2 (``POST /v2/enqueue``), one PagerDuty alert per sentineld
alert.

- ``opened``, ``updated`` and ``renotify`` send ``event_action: "trigger"`` with the full
  ``payload`` (summary, source, severity, timestamp, component, group, class, custom_details);
- ``acknowledged`` sends ``acknowledge`` and ``resolved`` sends ``resolve``.

Every event for one alert carries the same ``dedup_key``, derived from the alert id, so PagerDuty
folds a repeated trigger into the open incident and resolves the right one: delivery to
PagerDuty is effectively exactly once. PagerDuty answers 202 ``{"status": "success", "message":
"Event processed", "dedup_key": ...}``; 400 (an invalid event) is permanent, 429 and 5xx are
retried. Drafted replies are not PagerDuty's business: they are skipped.
"""

from __future__ import annotations

from typing import Any, Final

from sentineld import Alert, Notification, Options, Secret, hookimpl
from sentineld.model import alert_to_dict, format_time
from sentineld_plugins.notifiers._format import clip
from sentineld_plugins.notifiers._http import HttpNotifier

__all__ = ["PagerDutyNotifier", "dedup_key", "pagerduty_event"]

EVENTS_URL: Final = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT: Final = 1024
DEDUP_KEY_LIMIT: Final = 255
#: sentineld severities onto PagerDuty's four.
SEVERITY: Final = {
    "critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info",
}
ACTION: Final = {
    "opened": "trigger", "updated": "trigger", "renotify": "trigger",
    "acknowledged": "acknowledge", "resolved": "resolve",
}


class PagerDutyOptions(Options):
    #: The integration key of an Events API v2 integration on the service, e.g.
    #: { env = "PAGERDUTY_ROUTING_KEY" }.
    routing_key: Secret
    #: The Events API endpoint (change it only for a proxy or a test server).
    events_url: str = EVENTS_URL
    #: `payload.source`: where the events come from, as PagerDuty shows it.
    source: str = "sentineld"
    #: A link shown on the incident (a dashboard, say); empty for none.
    client_url: str = ""


def dedup_key(alert: Alert) -> str:
    return clip(f"sentineld-{alert.id}", DEDUP_KEY_LIMIT)


def pagerduty_event(
    routing_key: str, event: str, alert: Alert, *, source: str = "sentineld", client_url: str = ""
) -> dict[str, Any] | None:
    """The Events API v2 body for an alert event (None for an event PagerDuty has no action for)."""
    action = ACTION.get(event)
    if action is None:
        return None
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(alert),
    }
    if action != "trigger":
        return body
    details = alert_to_dict(alert)
    body["payload"] = {
        "summary": clip(
            f"[{alert.severity}] {alert.kind} on {alert.subject}/{alert.channel}: {alert.summary}",
            SUMMARY_LIMIT,
        ),
        "source": source,
        "severity": SEVERITY.get(alert.severity, "warning"),
        "timestamp": format_time(alert.opened_at),
        "component": alert.subject,
        "group": alert.channel,
        "class": alert.kind,
        "custom_details": {
            "summary": alert.summary,
            "evidence": details["evidence"],
            "mentions": details["mentions"],
            "trigger": alert.trigger,
            "alert_id": alert.id,
        },
    }
    body["client"] = "sentineld"
    if client_url:
        body["client_url"] = client_url
    return body


class PagerDutyNotifier(HttpNotifier):
    type_name = "pagerduty"
    description = "triggers, acknowledges and resolves PagerDuty alerts (Events API v2)"
    Options = PagerDutyOptions
    service = "PagerDuty"

    async def notify(self, notification: Notification) -> None:
        options: PagerDutyOptions = self.options
        alert = notification.alert
        if alert is None:
            self.log.debug("not an alert: nothing to page", key=notification.key)
            return
        body = pagerduty_event(
            options.routing_key.reveal(), notification.event, alert,
            source=options.source, client_url=options.client_url,
        )
        if body is None:
            self.log.debug("no PagerDuty action for this event", event=notification.event)
            return
        await self.post_json(options.events_url, body)


@hookimpl
def register_notifiers(register: Any) -> None:
    register(PagerDutyNotifier)
