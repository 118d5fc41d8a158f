from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


from sentineld.cli.common import CommandError, load


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="Mention JSON Lines ('-' for stdin)")
    parser.add_argument("--json", action="store_true",
                        help="print each alert opened or resolved as Alert JSON Lines on stdout")
    parser.add_argument("--speed", type=float, default=None,
                        help="play at this many times real time (a drill); default: as fast as possible")
    parser.add_argument("--notify", action="store_true",
                        help="deliver alerts through the configured notifiers (drills)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="keep the replay's store here (default: a throwaway directory)")


def add_score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", default=["-"], metavar="FILE",
                        help="Mention JSON Lines (default: stdin)")


def cmd_replay(args: argparse.Namespace) -> int:
    from sentineld.model import encode_alert
    from sentineld.replay import replay

    config = load(args)
    for name in args.files:
        if name != "-" and not Path(name).is_file():
            raise CommandError(f"{name}: no such file")
    out = sys.stdout.buffer

    def print_alert(event: object) -> None:
        if getattr(event, "event", None) in ("opened", "resolved"):
            out.write(encode_alert(event.alert) + b"\n")  # type: ignore[attr-defined]
            out.flush()

    summary = asyncio.run(
        replay(
            config, args.files, on_alert=print_alert if args.json else None,
            state_dir=args.state_dir, notify=args.notify, speed=args.speed,
        )
    )
    print(summary.render(), file=sys.stderr)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from sentineld.replay import score_stream

    config = load(args)
    scored, malformed = asyncio.run(score_stream(config, args.files, sys.stdout.buffer))
    print(f"scored {scored} mentions, {malformed} malformed skipped", file=sys.stderr)
    return 0


