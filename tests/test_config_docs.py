"""Every config key the code accepts is in the configuration reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentineld.config import EXTRA_SECTIONS, DaemonOptions, HostKeys
from sentineld.options import struct_keys
from sentineld.watch import WatchConfig

REFERENCE = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("cls", [DaemonOptions, WatchConfig, HostKeys], ids=lambda c: c.__name__)
def test_core_sections_documented(cls: type) -> None:
    for key in struct_keys(cls):
        assert f"`{key}" in REFERENCE, f"{cls.__name__}.{key} is not in docs/configuration.md"


def test_extra_sections_documented() -> None:
    for name, cls in EXTRA_SECTIONS.items():
        assert f"`[{name}]`" in REFERENCE, f"section [{name}] is not in docs/configuration.md"
        for key in struct_keys(cls):
            assert f"`{key}" in REFERENCE, f"[{name}] {key} is not in docs/configuration.md"
