"""A real SQLite store with queued notifications, the webhook notifier for destination "hook",
its DeliveryWorker and the local receiver it delivers to."""

from __future__ import annotations

import msgspec

from sentineld.model import alert_to_dict
from sentineld.outbox import DeliveryWorker
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld.supervisor import Guard
from sentineld.testing import make_alert
from tests.notifiers.receivers import WebhookReceiver

SECRET = "outbox-test-secret"


class Rig:
    """A store with queued notifications, a worker for destination "hook", and its receiver."""

    def __init__(self, harness, receiver: WebhookReceiver, **outbox: str) -> None:
        self.receiver = receiver
        harness.configure(
            notifiers={"hook": {"type": "webhook", "url": receiver.url + "/in",
                                "secret": {"env": "HOOK_SECRET"}, "timeout": "300ms"}},
            outbox={"initial_backoff": "10ms", "max_backoff": "50ms", **outbox},
        )
        self.config = harness.config()
        self.store = StoreWorker(open_store(self.config.state_dir))
        self.guard = Guard(self.config.components["notifier"]["hook"], self.config)
        self.worker = DeliveryWorker(self.guard, self.store.call, self.config.section("outbox"))

    def enqueue(self, count: int, event: str = "opened") -> list[str]:
        keys = []
        for _ in range(count):
            alert = make_alert()
            key = f"{alert.id}:{event}:hook"
            payload = msgspec.json.encode({"event": event, "alert": alert_to_dict(alert)})
            self.store.store.record_alert(alert, [("hook", key, payload)])
            keys.append(key)
        return keys

    def items(self, state: str | None = None):
        return sorted(self.store.store.outbox(state=state, limit=1000), key=lambda i: i.seq)

    def close(self) -> None:
        self.store.close()
