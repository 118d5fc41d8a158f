"""Fixtures shared by the whole suite. Area-specific fixtures live in each folder's conftest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["sentineld.testing"]

# Hypothesis's per-example deadline (200 ms) is a timed assertion: on a shared, loaded machine
# it fails property tests that are correct. Speed is measured by bench/, never by tests.
settings.register_profile("sentineld", deadline=None)
settings.load_profile("sentineld")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SENTINELD_DATA", REPO.parent / "shared" / "data"))


def run_cli(
    *args: str, cwd: Path | None = None, input: str | bytes | None = None,
    env: dict[str, str] | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m sentineld ARGS` as a real subprocess."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SENTINELD_CONFIG", None) if env is None or "SENTINELD_CONFIG" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "sentineld", *args],
        cwd=cwd, input=input, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"the shared data sets are missing at {DATA} (set SENTINELD_DATA)")
    return DATA
