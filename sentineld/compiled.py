"""Modules compiled with mypyc from their own sources, and when their source runs instead.

`COMPILED` names the inner modules that `setup.py` compiles with mypyc when sentineld is
installed where a C compiler and the Python headers are (decision 0022). The compiled module
is a native extension beside the ``.py`` it was built from, and Python imports it first. It is
used only when it still matches that ``.py``: the build records the SHA-256 of every source of
a package's compiled group in ``_compiled_sources.json`` beside them, and importing this
module (``sentineld/__init__.py`` does it first) puts a finder first in ``sys.meta_path`` that, on the first import of a group's module, runs the
whole group from source instead when

- ``SENTINELD_NO_EXTENSIONS`` is set (to anything but ``""`` or ``"0"``): the pure-Python
  fallback, on purpose;
- or a source no longer matches its compiled build (the source was edited in an editable
  install after the build): one `StaleCompiledWarning` says so, and how to rebuild.

No compiled file at all (a machine without a compiler) is the plain pure-Python install: no
warning, nothing to do. A group is decided as a whole because mypyc compiles the calls
between its modules into direct native calls.

This module is imported by ``setup.py`` (outside the package, before its dependencies are
installed): it imports only the standard library.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from types import ModuleType

__all__ = [
    "COMPILED",
    "MANIFEST",
    "NO_EXTENSIONS_VARIABLE",
    "StaleCompiledWarning",
    "install",
    "is_compiled",
    "source_digest",
]

#: Package → its modules compiled together as one group (one native library), in import order.
#: Only inner modules: a plugin's own module (its ``register_*`` hooks) must stay Python for
#: the plugin manager (decision 0020).
COMPILED: dict[str, tuple[str, ...]] = {
    "sentineld_plugins.scorers.sentiment": ("social", "engine"),
    "sentineld": ("authors", "audience"),
    "sentineld_plugins.scorers.virality": ("sketch", "clusters", "joins", "rates"),
    "sentineld_plugins.triggers.viral_post": ("learned", "followed"),
    "sentineld.detect": ("special", "stats", "baseline", "keys"),
}
#: Written by the build beside the compiled modules: module name → SHA-256 of its source.
MANIFEST = "_compiled_sources.json"
NO_EXTENSIONS_VARIABLE = "SENTINELD_NO_EXTENSIONS"


class StaleCompiledWarning(RuntimeWarning):
    """A compiled module was built from a different source than the one beside it."""


def source_digest(path: str) -> str:
    """SHA-256 of a source file's bytes, as the build records it."""
    import hashlib

    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def no_extensions() -> bool:
    return os.environ.get(NO_EXTENSIONS_VARIABLE, "") not in ("", "0")


def is_compiled(module: ModuleType) -> bool:
    """Whether `module` was imported from a native extension (its compiled build)."""
    return str(getattr(module, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES))


class _SourceFirstFinder:
    """Runs a compiled group from its ``.py`` files when it must (see the module docstring).

    A meta path finder (``importlib.abc.MetaPathFinder``'s protocol, not its class: importing
    ``importlib.abc`` costs start-up milliseconds)."""

    def __init__(self) -> None:
        #: Compiled module name → its package; packages already decided → run from source?
        self._package_of = {
            f"{package}.{module}": package for package, modules in COMPILED.items() for module in modules
        }
        self._from_source: dict[str, bool] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package = self._package_of.get(fullname)
        if package is None or not path:
            return None
        directory = path[0]
        decided = self._from_source.get(package)
        if decided is None:
            decided = self._from_source[package] = self._must_run_source(package, directory)
        if not decided:
            return None  # the normal machinery imports the extension, or the .py if none
        from importlib.util import spec_from_file_location

        return spec_from_file_location(fullname, os.path.join(directory, fullname.rpartition(".")[2] + ".py"))

    @staticmethod
    def _must_run_source(package: str, directory: str) -> bool:
        modules = COMPILED[package]
        names = set(os.listdir(directory))
        built = [m for m in modules if any(m + suffix in names for suffix in EXTENSION_SUFFIXES)]
        if not built:
            return False
        if no_extensions() or len(built) < len(modules):
            return True
        import json

        try:
            with open(os.path.join(directory, MANIFEST), encoding="utf-8") as file:
                recorded = json.load(file)
        except (OSError, ValueError):
            recorded = {}
        stale = [m for m in modules if recorded.get(m) != source_digest(os.path.join(directory, m + ".py"))]
        if not stale:
            return False
        warnings.warn(
            f"the compiled {package} ({', '.join(stale)}) was built from other sources than the "
            f"ones in {directory}: running the sources. `pip install -e .` compiles them again.",
            StaleCompiledWarning,
            stacklevel=2,
        )
        return True


def install() -> None:
    """Put the finder first in ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _SourceFirstFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirstFinder())


if __name__ == "sentineld.compiled":  # imported by the package, not read by setup.py
    install()
