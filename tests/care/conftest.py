"""Fixtures for the care tests (playbooks, cases, responses, drills): local platform stand-ins
and a harness whose pipeline carries preset scores (see tests/triggers/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import structlog

from sentineld.testing import Harness
from tests.notifiers.receivers import LocalService
from tests.triggers.conftest import PresetPlugin

WATCH = {"brand": ["acme", "@acme"], "accounts": ["acme", "acme.bsky.social", "care@acme.example"]}


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Any], Awaitable[Any]]]:
    """``server = await serve(MastodonInstance(...))``: started now, stopped after the test."""
    started: list[LocalService] = []

    async def start(service: LocalService) -> Any:
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


@pytest.fixture
def care(sentineld_harness: Harness) -> Harness:
    """A harness with the brand's accounts, preset scores and a one-minute clock tick."""
    return sentineld_harness.with_plugins(PresetPlugin()).configure(
        watch=WATCH,
        scorers={"preset": {"type": "preset_scores"}},
        sentineld={"tick": "1m", "checkpoint_interval": "50ms"},
    )


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """In-process CLI runs point structlog at a captured stream; put the defaults back."""
    yield
    structlog.reset_defaults()
