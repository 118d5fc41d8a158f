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
                        help="print the commented sample config of a plugin type (KIND:TYPE, e.g. "
                        "notifier:webhook, for only one kind of a name several kinds use)")


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
    kind, _, type_name = args.sample.rpartition(":")
    found = [
        (k, types[type_name]) for k, types in config.registry.types.items()
        if type_name in types and kind in ("", k)
    ]
    if found:
        # A name several kinds use (webhook, mastodon, bluesky) prints each kind's sample.
        samples = []
        for k, ctype in found:
            sample = ctype.cls.sample_config()
            if sample is None:
                raise CommandError(f"{k} type {type_name!r} ships no sample config")
            samples.append(sample)
        sys.stdout.write("\n".join(samples))
        return 0
    known = sorted({name for types in config.registry.types.values() for name in types})
    from sentineld.options import did_you_mean

    raise CommandError(
        f"no plugin type {args.sample!r}{did_you_mean(type_name, known)} (known: {', '.join(known)})"
    )
