"""CPU of the pieces of `unanswered` and `influencer_mention` in a real replay, per mention and
per call, and the store's read-back of alerts whose text was let go (decision 0233).

    .venv/bin/python bench/waiting_pieces.py -c CONFIG STREAM [--baseline DIR] [--runs 3]

Each run is one `sentineld.replay.replay` of STREAM with CONFIG (a fresh temporary store) in a
fresh process, with `time.thread_time()` around each piece: the triggers' `observe` and `tick`,
`unanswered`'s `_wait` and `_make_room`, `influencer_mention`'s `_record`, the alert manager,
the completion of partial alerts (`finish_event`, main thread) and the store's `alerts_by_id`
and `record_alerts` (store thread). The wrapper's own cost per call is measured first and
subtracted from each piece's calls; an enclosing piece (`observe`) still carries the wrappers
of the pieces inside it, alike in every tree. The CPU is the calling thread's: not the time it
waited for a core or for the GIL.

``--baseline DIR`` takes a checkout of another revision, with its extensions built
(``build_ext --inplace``), and runs it in turns with this tree: the table gives the medians of
each and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from turns import importable, in_turns, print_medians, run_child  # noqa: E402

#: (module, class, method, label) of the trigger pieces timed, where the tree has them.
TRIGGER_PIECES = (
    ("sentineld_plugins.triggers.unanswered", "Unanswered", "observe", "waiting.observe"),
    ("sentineld_plugins.triggers.unanswered", "Unanswered", "tick", "waiting.tick"),
    ("sentineld_plugins.triggers.unanswered", "Unanswered", "_wait", "waiting._wait"),
    ("sentineld_plugins.triggers.unanswered", "Unanswered", "_make_room", "waiting._make_room"),
    ("sentineld_plugins.triggers.influencer_mention", "InfluencerMention", "observe", "vip.observe"),
    ("sentineld_plugins.triggers.influencer_mention", "InfluencerMention", "_record", "vip._record"),
)
STORE_METHODS = ("alerts_by_id", "record_alerts")


class Pieces:
    """Thread CPU and calls per label; `overhead` is a wrapper's own cost per call."""

    def __init__(self) -> None:
        self.spent: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.overhead = 0.0

    def timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.thread_time

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[label] += clock() - started
                self.calls[label] += 1
        return wrapper

    def timed_async(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.thread_time

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return await function(*args, **kwargs)  # these never suspend
            finally:
                self.spent[label] += clock() - started
                self.calls[label] += 1
        return wrapper

    def calibrate(self, calls: int = 200_000) -> None:
        probe = self.timed("calibration", lambda: None)
        for _ in range(calls):
            probe()
        self.overhead = self.spent.pop("calibration") / self.calls.pop("calibration")

    def figures(self, mentions: int) -> dict[str, float]:
        found: dict[str, float] = {}
        for label in sorted(self.spent):
            calls = self.calls[label]
            net = self.spent[label] - calls * self.overhead
            found[f"{label} µs/mention"] = net / mentions * 1e6
            found[f"{label} µs/call"] = net / calls * 1e6
        return found


def measure(config_path: str, stream: str) -> dict[str, float]:
    """One replay in this process (the child's work); returns its figures."""
    import importlib

    from sentineld import alertwrites
    from sentineld.cli.common import tune_gc_for_streaming
    from sentineld.config import load_config
    from sentineld.logs import configure_logging
    from sentineld.replay import replay

    pieces = Pieces()
    pieces.calibrate()
    for module_name, class_name, method, label in TRIGGER_PIECES:
        cls = getattr(importlib.import_module(module_name), class_name)
        original = getattr(cls, method, None)
        if original is not None:
            wrap = pieces.timed_async if asyncio.iscoroutinefunction(original) else pieces.timed
            setattr(cls, method, wrap(label, original))
    alertwrites.finish_event = pieces.timed("finish_event", alertwrites.finish_event)
    seen = [0]
    ids_read = [0]

    def watch(pipeline: Any) -> None:
        store = pipeline.store.store
        for method in STORE_METHODS:
            setattr(store, method, pieces.timed(f"store.{method}", getattr(store, method)))
        read = store.alerts_by_id

        def counted(ids: Any) -> Any:
            ids_read[0] += len(ids)
            return read(ids)
        store.alerts_by_id = counted
        manager = pipeline.alerts
        manager.apply = pieces.timed("manager.apply", manager.apply)
        first = pipeline.triggers[0].component
        observe = first.observe

        async def counting(mentions: Any, alerts: Any) -> Any:
            seen[0] += len(mentions)
            return await observe(mentions, alerts)
        first.observe = counting

    config = load_config(Path(config_path))
    configure_logging("error", config.daemon.log_format)
    tune_gc_for_streaming()  # as `sentineld replay` does
    started = time.process_time()
    asyncio.run(replay(config, [stream], watch=watch))  # a temporary store, thrown away
    process = time.process_time() - started
    figures = pieces.figures(seen[0])
    figures["alert ids read per 1k mentions"] = ids_read[0] / seen[0] * 1000
    figures["process CPU µs/mention"] = process / seen[0] * 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("stream", type=Path)
    parser.add_argument("--baseline", type=Path, help="a checkout of another revision, extensions built")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(str(args.config), str(args.stream))))
        return
    arguments = ["--child", "-c", str(args.config.resolve()), str(args.stream.resolve())]
    with tempfile.TemporaryDirectory() as scratch:
        trees: dict[str, Path | None] = {}
        if args.baseline is not None:
            trees["baseline"] = importable(args.baseline, Path(scratch) / "baseline")
        trees["this tree"] = None
        results = in_turns(trees, args.runs, lambda code: run_child(__file__, arguments, code))
    # A piece that did not run (no mention pushed out in a short stream, no alert read back)
    # has no figure to compare.
    shown = [figure for figure in next(iter(results.values()))[0]
             if all(run.get(figure) for runs in results.values() for run in runs)]
    print_medians({name: [{figure: run[figure] for figure in shown} for run in runs]
                   for name, runs in results.items()}, label_width=36, digits=3)
    left_out = sorted({figure for runs in results.values() for run in runs for figure in run} - set(shown))
    if left_out:
        print("not in every run (or zero):", ", ".join(left_out))


if __name__ == "__main__":
    main()
