"""The `sentineld` command. Each sub-command lives in a small module of this package and is
imported only when used, so that `sentineld check` starts fast."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("sentineld.cli.run", "run the daemon until SIGTERM/SIGINT"),
    "replay": ("sentineld.cli.replay", "push recorded Mention JSON Lines through the pipeline"),
    "score": ("sentineld.cli.replay", "print Scored mention JSON Lines for Mention JSON Lines"),
    "check": ("sentineld.cli.check", "validate a configuration and build its components, without running"),
    "init": ("sentineld.cli.config", "write a commented starter configuration"),
    "config": ("sentineld.cli.config", "print a plugin's commented sample configuration"),
    "plugins": ("sentineld.cli.plugins", "list the loaded plugins and what they register"),
    "mentions": ("sentineld.cli.mentions", "list stored mentions with their scores, newest first"),
    "alerts": ("sentineld.cli.alerts", "list alerts from the store"),
    "influencers": ("sentineld.cli.influencers", "list the top authors: connectors, mavens, the watchlist"),
    "silence": ("sentineld.cli.silence", "add, list and expire silences that mute alert notifications"),
    "outbox": ("sentineld.cli.outbox", "list pending or dead-lettered notifications; re-queue dead ones"),
    "cases": ("sentineld.cli.cases", "list cases (one per customer issue), most urgent first"),
    "case": ("sentineld.cli.cases", "show a case: its mentions, replies, drafts and the customer's whole history"),
    "ack": ("sentineld.cli.cases", "acknowledge a case or an alert (an alert's escalation steps stop)"),
    "resolve": ("sentineld.cli.cases", "resolve a case"),
    "link": ("sentineld.cli.cases", "link identities (email:…, bluesky:@…) as one customer"),
    "drafts": ("sentineld.cli.drafts", "list drafted replies (pending approval by default); reject one"),
    "approve": ("sentineld.cli.drafts", "approve a drafted reply for posting"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command. Only `command`'s module is imported to add its own
    arguments (every module's when `command` is None)."""
    from sentineld import __version__

    parser = argparse.ArgumentParser(
        prog="sentineld",
        description="A daemon for social customer care: listen, score, alert, answer.",
    )
    parser.add_argument("--version", action="version", version=f"sentineld {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "-c", "--config", metavar="FILE",
            help="config file (default: $SENTINELD_CONFIG, ./sentineld.toml, "
            "/etc/sentineld/sentineld.toml, else the embedded default)",
        )
        if command is None or name == command:
            module = importlib.import_module(module_name)
            getattr(module, f"add_{name}_arguments", lambda _: None)(sub)
        sub.set_defaults(handler=(module_name, f"cmd_{name}"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The command is the first word that is not an option: the top level takes no values.
    command = next((word for word in argv if not word.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    module_name, function = args.handler
    handler = getattr(importlib.import_module(module_name), function)
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
