"""Fixtures of the fuzz tests: one HTTP stand-in and one real SQLite store per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentineld.store import SQLiteStore
from tests.faults.fuzz_support import StandIn, fresh_store


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def fuzz_store(fuzz_dir: Path) -> Iterator[SQLiteStore]:
    store = fresh_store(fuzz_dir / "state")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def mastodon_token() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTINELD_FUZZ_MASTODON_TOKEN", "fuzz-token")
        yield
