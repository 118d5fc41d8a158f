"""What the sub-commands share: loading the config with readable errors, printing JSON."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

import msgspec

from sentineld.config import Config, ConfigError, find_config, load_config
from sentineld.logs import configure_logging


class CommandError(SystemExit):
    """Print a message to stderr and exit with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        print(f"sentineld: {message}", file=sys.stderr)
        super().__init__(code)


def count(text: str) -> int:
    """An argparse type for --limit, --top, --history: a whole number, at least 1 (0 printed
    "no alerts" whatever the store held, and SQLite reads a negative LIMIT as none)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def load(args: argparse.Namespace, *, logging: bool = True) -> Config:
    """The config the user asked for; on errors, print each (file: key.path: problem) and exit 2."""
    try:
        config = load_config(find_config(args.config))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    if logging:
        configure_logging(config.daemon.log_level, config.daemon.log_format)
    return config


#: Allocations between young-generation collections for the streaming commands (CPython: 700).
#: Each mention allocates a few dozen containers and keeps few; collecting every 700 allocations
#: re-examined the young objects a hundred times more often than it found garbage.
STREAMING_GC_THRESHOLDS = (100_000, 50, 1_000)


def tune_gc_for_streaming() -> None:
    """Fewer cyclic-garbage collections for `run` and `replay` (7-9 % less CPU per mention in
    `bench/throughput.py`). Reference counting still frees everything acyclic at once; what a
    cycle holds waits at most one young-generation collection longer."""
    gc.set_threshold(*STREAMING_GC_THRESHOLDS)


def print_json_lines(rows: list[Any]) -> None:
    out = sys.stdout.buffer
    for row in rows:
        out.write(msgspec.json.encode(row) + b"\n")
    out.flush()


def open_cli_store(config: Config) -> Any:
    """The store in the config's state directory, opened for reading and writing (commands
    such as `ack` and `silence` write); a store error becomes a one-line message and exit 1."""
    from sentineld.store import StoreError, open_store

    try:
        return open_store(config.state_dir)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
