"""A compiled module runs only when it was built from the source beside it (`sentineld.compiled`).

Each test lays out a real package folder (sources, compiled files, the build's manifest) and
imports from it through the finder, as an editable install would after a build.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from sentineld import compiled

PACKAGE = "sentineld_compiled_guard_probe"


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package with two modules compiled as one group, both built from their sources."""
    folder = tmp_path / PACKAGE
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "first.py").write_text("WHERE = 'source'\n")
    (folder / "second.py").write_text("from .first import WHERE\n")
    for module in ("first", "second"):
        # a stand-in for the compiled file: its presence is what the finder looks at
        (folder / (module + EXTENSION_SUFFIXES[0])).write_bytes(b"")
    record(folder, "first", "second")
    monkeypatch.setitem(compiled.COMPILED, PACKAGE, ("first", "second"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(compiled.NO_EXTENSIONS_VARIABLE, raising=False)
    finder = compiled._SourceFirstFinder()
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    yield folder
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def record(folder: Path, *modules: str) -> None:
    digests = {m: compiled.source_digest(str(folder / (m + ".py"))) for m in modules}
    (folder / compiled.MANIFEST).write_text(json.dumps(digests))


def runs_source(package: Path) -> bool:
    finder = next(f for f in sys.meta_path if isinstance(f, compiled._SourceFirstFinder))
    spec = finder.find_spec(f"{PACKAGE}.second", [str(package)])
    return spec is not None and spec.origin == str(package / "second.py")


def test_fresh_compiled_build_is_left_to_the_normal_import(package: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not runs_source(package)


def test_edited_source_runs_instead_of_its_stale_build(package: Path) -> None:
    (package / "first.py").write_text("WHERE = 'edited source'\n")
    with pytest.warns(compiled.StaleCompiledWarning, match=r"\(first\).*pip install -e \."):
        assert runs_source(package)
    # the whole group runs from source: its modules call each other natively when compiled
    import importlib

    assert importlib.import_module(f"{PACKAGE}.second").WHERE == "edited source"
    assert not compiled.is_compiled(sys.modules[f"{PACKAGE}.first"])


def test_missing_manifest_counts_as_stale(package: Path) -> None:
    (package / compiled.MANIFEST).unlink()
    with pytest.warns(compiled.StaleCompiledWarning):
        assert runs_source(package)


def test_part_of_a_group_built_runs_the_sources(package: Path) -> None:
    (package / ("first" + EXTENSION_SUFFIXES[0])).unlink()
    assert runs_source(package)


def test_no_extensions_variable_runs_the_sources(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compiled.NO_EXTENSIONS_VARIABLE, "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert runs_source(package)


def test_pure_python_install_needs_no_decision(package: Path) -> None:
    for module in ("first", "second"):
        (package / (module + EXTENSION_SUFFIXES[0])).unlink()
    (package / compiled.MANIFEST).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not runs_source(package)


def test_other_modules_are_not_looked_at(package: Path) -> None:
    finder = compiled._SourceFirstFinder()
    assert finder.find_spec("json", None) is None
    assert finder.find_spec(f"{PACKAGE}.third", [str(package)]) is None
