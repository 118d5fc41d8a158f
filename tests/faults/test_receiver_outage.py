"""A receiver that is down (connection refused, then 503, then answers lost to timeouts) while
alerts are raised, then recovers: it receives every notification, each once (it honours the
Idempotency-Key), in the order they were queued for it, and nothing is dead-lettered.

Real parts only: the replay pipeline records alerts and queues their notifications in a real
SQLite state directory; DeliveryWorkers then deliver from that store through the real webhook
notifier to two local receivers. Time is compressed with tiny [outbox] backoffs: the outage
below costs each queue dozens of failed attempts, what an hour-long outage costs at the
production defaults.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from sentineld import Trigger, hookimpl
from sentineld.alerting import AlertEvent
from sentineld.outbox import DeliveryWorker
from sentineld.replay import replay
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld.supervisor import Guard
from sentineld.testing import make_mention
from tests.notifiers.receivers import WebhookReceiver

SECRET = "outage-secret"
INCIDENTS = 12
DESTINATIONS = ("care", "ops")


class IncidentMarker(Trigger):
    """``#down-X`` in a mention opens an alert about X, ``#up-X`` resolves it."""

    type_name = "incident_marker"

    async def observe(self, mentions: Any, alerts: Any) -> None:
        for mention in mentions:
            for word in mention.text.split():
                if word.startswith("#down-"):
                    alerts.fire(subject=word[6:], channel=mention.source, at=mention.created_at,
                                summary=mention.text, severity="high", mentions=[mention.id])
                elif word.startswith("#up-"):
                    alerts.clear(subject=word[4:], channel=mention.source, at=mention.created_at)


@hookimpl
def register_triggers(register: Any) -> None:
    register(IncidentMarker)


def incident_stream() -> list[Any]:
    """Each incident opens and is resolved later; several overlap."""
    mentions = []
    for n in range(INCIDENTS):
        mentions.append(make_mention(f"@acme checkout broken #down-x{n}", minutes=10 * n))
        mentions.append(make_mention(f"@acme works again #up-x{n}", minutes=10 * n + 25))
    return sorted(mentions, key=lambda m: m.created_at)


async def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        await asyncio.sleep(0.01)


@pytest.mark.slow
async def test_receiver_outage_loses_nothing_and_duplicates_nothing(
    sentineld_harness, monkeypatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receivers = {name: WebhookReceiver(SECRET, hang_for=0.4) for name in DESTINATIONS}
    for receiver in receivers.values():
        await receiver.start()
        await receiver.down()  # connection refused from the start
    try:
        harness = sentineld_harness.with_plugins(SimpleNamespace(register_triggers=register_triggers))
        harness.configure(
            triggers={"marker": {"type": "incident_marker"}},
            notifiers={
                name: {"type": "webhook", "url": f"{receiver.url}/{name}",
                       "secret": {"env": "HOOK_SECRET"}, "timeout": "150ms"}
                for name, receiver in receivers.items()
            },
            outbox={"initial_backoff": "5ms", "max_backoff": "40ms", "max_age": "2m"},
        )
        config = harness.config()

        # 1. Alerts are raised while every receiver is down: the notifications wait in the store.
        events: list[AlertEvent] = []
        summary = await replay(config, [str(harness.write_jsonl(incident_stream()))],
                               on_alert=events.append, state_dir=config.state_dir, notify=True)
        assert summary.alerts_opened == INCIDENTS and summary.alerts_resolved == INCIDENTS
        expected = [e.key for e in events if getattr(e, "notify", True)]
        assert len(expected) == 2 * INCIDENTS

        store = StoreWorker(open_store(config.state_dir))
        outbox = store.store.outbox(limit=1000)
        assert {i.state for i in outbox} == {"pending"} and len(outbox) == 2 * len(expected)
        queued = {
            name: [i.key for i in sorted(outbox, key=lambda i: i.seq) if i.destination == name]
            for name in DESTINATIONS
        }
        for name in DESTINATIONS:
            assert queued[name] == [f"{key}:{name}" for key in expected]

        # 2. The daemon's delivery side runs against that store while the outage goes on.
        guards = [Guard(config.components["notifier"][name], config) for name in DESTINATIONS]
        workers = [DeliveryWorker(g, store.call, config.section("outbox")) for g in guards]
        for guard in guards:
            await guard.start()
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            await asyncio.sleep(0.3)  # refused connections
            for receiver in receivers.values():
                receiver.mode = "unavailable"
                await receiver.up()
            await wait_for(lambda: all(len(r.requests) >= 10 for r in receivers.values()))
            for receiver in receivers.values():  # processed, but the answer comes too late
                receiver.mode = "hang"
            await wait_for(lambda: all(r.duplicates >= 2 for r in receivers.values()))
            for receiver in receivers.values():
                receiver.mode = "ok"
            await wait_for(lambda: not store.store.outbox(state="pending", limit=1))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for guard in guards:
                await guard.stop()

        # 3. Everything arrived, each once, in queue order per destination; nothing is dead.
        for name, receiver in receivers.items():
            assert list(receiver.processed) == queued[name]
            assert receiver.duplicates >= 2  # retries did happen; the key made them harmless
            assert len(receiver.requests) > len(queued[name]) + 10
        assert store.store.outbox(state="dead", limit=10) == []
        delivered = store.store.outbox(state="delivered", limit=1000)
        assert len(delivered) == 2 * len(expected)
        assert max(i.attempts for i in delivered) >= 20  # the compressed "hour" of failures
        store.close()
    finally:
        for receiver in receivers.values():
            await receiver.stop()
