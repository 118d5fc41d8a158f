from __future__ import annotations

import argparse
import asyncio

from sentineld.cli.common import CommandError, load


def cmd_run(args: argparse.Namespace) -> int:
    from sentineld.daemon import run_daemon
    from sentineld.store import StoreError

    config = load(args)
    try:
        return asyncio.run(run_daemon(config))
    except StoreError as exc:
        raise CommandError(str(exc)) from None
