"""Fixtures for the notifier tests: local services that speak each service's protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.notifiers.receivers import LocalService, WebhookReceiver
from tests.notifiers.rig import SECRET, Rig


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Any], Awaitable[Any]]]:
    """``server = await serve(SlackWebhook())``: started now, stopped after the test."""
    started: list[LocalService] = []

    async def start(service: LocalService) -> Any:
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


@pytest.fixture
async def rig(serve, sentineld_harness, monkeypatch):
    """``r = await rig(receiver=None, **outbox_settings)``: a `Rig`, cleaned up afterwards."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    rigs: list[Rig] = []

    async def make(receiver: WebhookReceiver | None = None, **outbox: str) -> Rig:
        made = Rig(sentineld_harness, await serve(receiver or WebhookReceiver(SECRET)), **outbox)
        await made.guard.start()
        rigs.append(made)
        return made

    yield make
    for made in rigs:
        await made.guard.stop()
        made.close()
