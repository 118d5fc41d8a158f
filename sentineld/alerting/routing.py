"""Routing: which notifiers hear of an alert event, under which idempotency key, with which
payload. Playbooks route by rules (`sentineld.playbooks`); this is the default."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from sentineld.alerting.events import AlertEvent
from sentineld.model import alert_to_dict

__all__ = ["Router", "broadcast_router", "notification_payload"]

#: Given an alert event, the deliveries to queue: (destination notifier id, key, payload).
Router = Callable[[AlertEvent], list[tuple[str, str, bytes]]]


def broadcast_router(notifier_ids: Sequence[str]) -> Router:
    """Every alert notification goes to every notifier (the default when no playbook routes)."""

    def route(event: AlertEvent) -> list[tuple[str, str, bytes]]:
        if not event.notify:
            return []
        payload = notification_payload(event)
        return [(notifier, f"{event.key}:{notifier}", payload) for notifier in notifier_ids]

    return route


def notification_payload(event: AlertEvent) -> bytes:
    return msgspec.json.encode(
        {"event": event.event, "alert": alert_to_dict(event.alert), "meta": event.meta}
    )

