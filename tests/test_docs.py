"""Meta-tests that keep docs and code honest (datasette's habit): every hook is documented in
its spec and in the plugin guide, and every hook is exercised by some test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from sentineld import hookspecs

REPO = Path(__file__).resolve().parents[1]
HOOKS = sorted(
    name for name, value in vars(hookspecs).items()
    if inspect.isfunction(value) and hasattr(value, "sentineld_spec")
)


def test_hooks_found() -> None:
    assert len(HOOKS) >= 9 and "register_sources" in HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_docstring_with_every_param(name: str) -> None:
    function = getattr(hookspecs, name)
    doc = inspect.getdoc(function) or ""
    assert len(doc) > 40, f"{name} needs a docstring"
    for param in inspect.signature(function).parameters:
        assert f":param {param}:" in doc, f"{name}: document :param {param}:"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_in_plugin_guide(name: str) -> None:
    assert f"`{name}(" in (REPO / "docs" / "plugins.md").read_text()


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name: str) -> None:
    tests = [p for p in (REPO / "tests").rglob("test_*.py") if p.name != "test_docs.py"]
    assert any(f"def {name}(" in p.read_text() for p in tests), f"no test implements {name}"


def test_every_builtin_plugin_has_readme_and_sample() -> None:
    from sentineld.plugin_manager import BUILTIN_PLUGINS

    for module in BUILTIN_PLUGINS:
        folder = REPO / "plugins" / Path(*module.split(".")[1:])
        assert (folder / "README.md").is_file(), f"{folder} has no README.md"
        assert (folder / "sample.toml").is_file(), f"{folder} has no sample.toml"
