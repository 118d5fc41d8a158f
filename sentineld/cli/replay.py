from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


from sentineld.allocator import tune_allocator
from sentineld.cli.common import CommandError, load, tune_gc_for_streaming


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
    from sentineld.store import StoreError

    config = load(args)
    tune_gc_for_streaming()
    tune_allocator()
    for name in args.files:
        if name != "-" and not Path(name).is_file():
            raise CommandError(f"{name}: no such file")
    out = sys.stdout.buffer

    def print_alert(event: object) -> None:
        if getattr(event, "event", None) in ("opened", "resolved"):
            out.write(encode_alert(event.alert) + b"\n")  # type: ignore[attr-defined]
            out.flush()

    from sentineld.progress import progress_bar

    total = None if "-" in args.files else sum(Path(name).stat().st_size for name in args.files)
    try:
        with progress_bar("replay", total, relog=lambda stream: _relog(config, stream)) as bar:
            summary = asyncio.run(
                _replay_with_progress(
                    bar, total, replay, config, args.files, on_alert=print_alert if args.json else None,
                    state_dir=args.state_dir, notify=args.notify, speed=args.speed,
                )
            )
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    print(summary.render(), file=sys.stderr)
    return 0


def _relog(config: Any, stream: Any) -> None:
    from sentineld.logs import configure_logging

    configure_logging(config.daemon.log_level, config.daemon.log_format, stream=stream)


async def _replay_with_progress(bar: Any, total: int | None, replay: Any, *args: Any, **kwargs: Any) -> Any:
    """Run `replay`, updating `bar` from the replay sources' byte positions ten times a second."""
    if not bar.shown:
        return await replay(*args, **kwargs)
    polling: list[asyncio.Task[None]] = []

    async def poll(pipeline: Any) -> None:
        while True:
            bar.update(_bytes_read(pipeline), total, **_figures(pipeline))
            await asyncio.sleep(0.1)

    def watch(pipeline: Any) -> None:
        polling.append(asyncio.get_running_loop().create_task(poll(pipeline)))

    try:
        summary = await replay(*args, watch=watch, **kwargs)
    finally:
        for task in polling:
            task.cancel()
    bar.update(total if total is not None else summary.lines, total, stored=summary.stored,
               alerts=summary.alerts_opened)
    return summary


def _bytes_read(pipeline: Any) -> int:
    """Sum of the replay sources' positions (the jsonl cursor holds the byte offset)."""
    done = 0
    for guard in pipeline.sources:
        cursor = getattr(guard.component, "cursor", None)
        if cursor:
            try:
                done += int(json.loads(cursor)["offset"])
            except (ValueError, KeyError, TypeError):
                continue
    return done


def _figures(pipeline: Any) -> dict[str, int]:
    return {"stored": pipeline.stats.stored, "alerts": pipeline.stats.alerts_opened}


def cmd_score(args: argparse.Namespace) -> int:
    from sentineld.replay import score_stream

    from sentineld.progress import progress_bar

    config = load(args)
    total = None if "-" in args.files else sum(Path(name).stat().st_size for name in args.files)
    with progress_bar("score", total, relog=lambda stream: _relog(config, stream)) as bar:
        scored, malformed = asyncio.run(
            score_stream(config, args.files, sys.stdout.buffer,
                         progress=(lambda done, count: bar.update(done or None, total, scored=count))
                         if bar.shown else None)
        )
        bar.update(total, total, scored=scored)
    print(f"scored {scored} mentions, {malformed} malformed skipped", file=sys.stderr)
    return 0


