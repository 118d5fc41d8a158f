"""`init` and `config --sample` (`check` lives in `sentineld.cli.check`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sentineld.cli.common import CommandError, load


def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default="sentineld.toml", help="where to write it")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--brand", default="acme", help="the brand name to watch for")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", metavar="TYPE", required=True,
                        help="print the commented sample config of a plugin type")


def cmd_init(args: argparse.Namespace) -> int:
    from sentineld.starter import starter_config

    path = Path(args.path)
    if path.exists() and not args.force:
        raise CommandError(f"{path} exists; use --force to overwrite it")
    path.write_text(starter_config(args.brand))
    print(f"wrote {path}; check it with: sentineld check -c {path}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    config = load(args, logging=False)
    for kind, types in config.registry.types.items():
        if args.sample in types:
            sample = types[args.sample].cls.sample_config()
            if sample is None:
                raise CommandError(f"{kind} type {args.sample!r} ships no sample config")
            sys.stdout.write(sample)
            return 0
    known = sorted({name for types in config.registry.types.values() for name in types})
    from sentineld.options import did_you_mean

    raise CommandError(
        f"no plugin type {args.sample!r}{did_you_mean(args.sample, known)} (known: {', '.join(known)})"
    )
