"""`sentineld check`: validate a configuration, then build every enabled component.

Building is what `run` does first, so a value that only a component's constructor refuses (a
virality ``threshold`` datasketch cannot band) fails here, not at start. Components are built,
never started: no connection is opened, no file read beyond what a constructor reads.
"""

from __future__ import annotations

import argparse
import sys

from sentineld.cli.common import load
from sentineld.config import COMPONENT_SECTIONS, Config, ConfigError
from sentineld.options import Problem

__all__ = ["add_check_arguments", "build_problems", "cmd_check"]

_SECTION_OF = {kind: section for section, kind in COMPONENT_SECTIONS.items()}


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-build", action="store_true",
        help="validate the file only; do not build the components (faster, and blind to "
        "what only a component's constructor refuses)",
    )


def build_problems(config: Config) -> list[Problem]:
    """Build each enabled component as `run` would and drop it; one problem per constructor
    that raised, at the component's key path (``scorers.spread``)."""
    problems = []
    for kind in COMPONENT_SECTIONS.values():
        for cid, spec in config.of_kind(kind).items():
            try:
                spec.build(config.context(spec))
            except Exception as exc:  # noqa: BLE001 - any plugin may raise while constructing
                problems.append(Problem(
                    f"{_SECTION_OF[kind]}.{cid}",
                    f"the {spec.type_name} {kind} cannot be built: {type(exc).__name__}: {exc}",
                ))
    return problems


def cmd_check(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    label = str(config.path or "<embedded sentineld.toml>")
    if not args.no_build:
        problems = build_problems(config)
        if problems:
            print(str(ConfigError(problems, label)), file=sys.stderr)
            return 2
    counts = ", ".join(
        f"{len(config.of_kind(kind))} {kind}s" for kind in COMPONENT_SECTIONS.values()
    )
    built = "options valid, components not built" if args.no_build else "ok"
    print(f"{label}: {built} ({counts})")
    return 0
