from __future__ import annotations

import argparse
import asyncio
import signal
from types import FrameType

from sentineld.allocator import tune_allocator
from sentineld.cli.common import CommandError, load, tune_gc_for_streaming


def cmd_run(args: argparse.Namespace) -> int:
    from sentineld.daemon import run_daemon
    from sentineld.store import StoreError

    config = load(args)
    tune_gc_for_streaming()
    tune_allocator()
    # Until the event loop installs its own handler, SIGTERM means "exit cleanly now": nothing
    # is half-done yet (every store write is one transaction).
    signal.signal(signal.SIGTERM, _exit_before_start)
    try:
        return asyncio.run(run_daemon(config))
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def _exit_before_start(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
