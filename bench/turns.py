"""Comparing a change with a baseline: each measure in a fresh process importing sentineld
from the tree under test, the trees taking turns so that a busy machine weighs on both alike."""

from __future__ import annotations

import json
import statistics
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

_T = TypeVar("_T")


def importable(checkout: Path, into: Path) -> Path:
    """A directory to put first on PYTHONPATH so that `sentineld` and `sentineld_plugins` are
    imported from `checkout` (its ``sentineld/`` and ``plugins/``)."""
    into.mkdir()
    (into / "sentineld").symlink_to(checkout.resolve() / "sentineld")
    (into / "sentineld_plugins").symlink_to(checkout.resolve() / "plugins")
    return into


def run_child(script: str, arguments: Sequence[str], code: Path | None) -> Any:
    """Run `script` with `arguments` in a new interpreter (importing from `code`, a directory
    put first on PYTHONPATH, when given); the JSON of the last line it prints."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, script, *arguments], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{Path(script).name} failed in its measuring process:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def in_turns(trees: Mapping[str, Path | None], runs: int, measure: Callable[[Path | None], _T]) -> dict[str, list[_T]]:
    """`measure` each tree `runs` times, one pass of each in turn."""
    results: dict[str, list[_T]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, code in trees.items():
            results[name].append(measure(code))
    return results


def print_medians(results: Mapping[str, list[Mapping[str, float]]], *, label_width: int, digits: int) -> None:
    """A table of each figure's median over each tree's runs (the figures in the first run's
    order), with the ratio of the second tree to the first when there are two."""
    names = list(results)
    print(f"{'':{label_width}}" + "".join(f"{name:>16}" for name in names) + ("   ratio" if len(names) == 2 else ""))
    for figure in results[names[0]][0]:
        values = [statistics.median(run[figure] for run in results[name]) for name in names]
        ratio = f"{values[1] / values[0]:7.2f}x" if len(values) == 2 else ""
        print(f"{figure:{label_width}}" + "".join(f"{value:16.{digits}f}" for value in values) + f" {ratio}")
