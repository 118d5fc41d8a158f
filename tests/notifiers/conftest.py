"""Fixtures for the notifier tests: local services that speak each service's protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.notifiers.receivers import LocalService


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
