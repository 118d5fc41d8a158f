from __future__ import annotations

import argparse

from sentineld.cli.common import load, print_json_lines


def add_plugins_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per plugin")


def cmd_plugins(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    infos = config.registry.plugins
    if args.json:
        print_json_lines([info.to_dict() for info in infos])
        return 0
    width = max((len(i.name) for i in infos), default=4)
    for info in infos:
        version = info.version or "-"
        where = f"{info.origin} ({info.distribution})" if info.distribution else info.origin
        print(f"{info.name:<{width}}  {version:<8}  {where:<28}  {', '.join(info.registers) or '-'}")
    return 0
