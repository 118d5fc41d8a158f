"""The CLI, run in-process here, points structlog at the test's captured stderr; put the
defaults back afterwards so that a later test never logs into a closed capture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
