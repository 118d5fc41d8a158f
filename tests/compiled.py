"""What the tests of each compiled group share: they compare a compiled build with its sources,
each run in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

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


def run_as_built(script: str, *args: str, stdin: Any = None, pure: bool, timeout: float = 900) -> Any:
    """Run `script` (Python source printing JSON) in a child process, with the compiled build or,
    when `pure`, with the sources as Python (``SENTINELD_NO_EXTENSIONS=1``); its JSON output.
    `stdin` is sent to it as JSON."""
    env = dict(os.environ)
    if pure:
        env[NO_EXTENSIONS_VARIABLE] = "1"
    else:
        env.pop(NO_EXTENSIONS_VARIABLE, None)
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script, *args],
        input=None if stdin is None else json.dumps(stdin),
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
