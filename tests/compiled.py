"""What the tests of each compiled group share: they compare a compiled build with its sources."""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import ModuleType

import pytest

from sentineld.compiled import NO_EXTENSIONS_VARIABLE, is_compiled


def require_compiled_build(what: str, modules: Iterable[ModuleType]) -> None:
    """Skip unless every one of `modules` runs compiled; fail instead where CI requires the build
    (``SENTINELD_REQUIRE_EXTENSIONS``)."""
    modules = list(modules)
    if modules and all(is_compiled(module) for module in modules):
        return
    reason = (
        f"{what} is not compiled here (installed without a C compiler or Python headers, with "
        f"{NO_EXTENSIONS_VARIABLE} set, or its sources edited since the build): there is no "
        "compiled build to compare with its sources"
    )
    if os.environ.get("SENTINELD_REQUIRE_EXTENSIONS", "") not in ("", "0"):
        pytest.fail(reason + ", and SENTINELD_REQUIRE_EXTENSIONS is set")
    pytest.skip(reason)
