"""Does the trigger stage cost more per mention as the stream goes on? CPU per mention of each
trigger, of the alert path and of the store's alert methods, per segment of one real replay.

    .venv/bin/python bench/trigger_scale.py -c CONFIG STREAM [--segment 100000]

One `sentineld.replay.replay` of STREAM with CONFIG (a fresh temporary store). Each trigger's
`observe` and `tick`, the alert manager's `apply` and `tick`, the completion of partial alerts
from their stored forms (`finish_event`, on the main thread) and the store's `record_alerts`
and `alerts_by_id` (on the store thread) are timed with `time.thread_time()`: CPU of the calling
thread, not the time it waited for a core or for the GIL. The figures are µs per mention of
the segment in which the call happened (segments are counted in mentions observed by the
trigger stage).

If the figures of the late segments are those of the early ones, a growth seen in a profile of
the whole pipeline is not the triggers' work growing with their state: it is more work per
mention (more mentions of one kind in the stream) or the same work done more slowly
(docs/decisions/0231-trigger-costs-at-scale.md).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentineld import alertwrites
from sentineld.cli.common import tune_gc_for_streaming
from sentineld.config import load_config
from sentineld.logs import configure_logging
from sentineld.replay import replay

STORE_METHODS = ("record_alerts", "alerts_by_id")


class Segments:
    """CPU per label and segment; `seen` counts the mentions the trigger stage observed."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.seen = 0
        self.spent: defaultdict[int, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.mentions: Counter[int] = Counter()

    def add(self, label: str, seconds: float) -> None:
        self.spent[self.seen // self.size][label] += seconds

    def timed_async(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return await function(*args, **kwargs)
            finally:
                self.add(label, time.thread_time() - started)
        return wrapper

    def timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.thread_time() - started)
        return wrapper

    def counting(self, function: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(mentions: Any, alerts: Any) -> Any:
            self.mentions[self.seen // self.size] += len(mentions)
            result = await function(mentions, alerts)
            self.seen += len(mentions)
            return result
        return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("stream", type=Path)
    parser.add_argument("--segment", type=int, default=100_000)
    args = parser.parse_args()
    segments = Segments(args.segment)
    labels: list[str] = []

    def watch(pipeline: Any) -> None:
        for index, guard in enumerate(pipeline.triggers):
            component, label = guard.component, guard.id
            labels.append(label)
            component.tick = segments.timed_async(label, component.tick)
            observe = segments.timed_async(label, component.observe)
            component.observe = segments.counting(observe) if index == 0 else observe
        manager = pipeline.alerts
        manager.apply = segments.timed("manager", manager.apply)
        manager.tick = segments.timed("manager", manager.tick)
        # Not AlertWrites.complete as a whole: while it awaits the store, other tasks run.
        alertwrites.finish_event = segments.timed("finish_event", alertwrites.finish_event)
        store = pipeline.store.store
        for method in STORE_METHODS:
            setattr(store, method, segments.timed(method, getattr(store, method)))
        labels.extend(["manager", "finish_event", *STORE_METHODS])

    config = load_config(args.config)
    configure_logging(config.daemon.log_level, config.daemon.log_format)
    tune_gc_for_streaming()  # as `sentineld replay` does
    summary = asyncio.run(replay(config, [str(args.stream)], watch=watch))
    print(f"{'mentions':>9} " + " ".join(f"{label[:12]:>12}" for label in labels) + "   (µs of CPU per mention)")
    total = 0
    for index in sorted(segments.mentions):
        count = segments.mentions[index]
        total += count
        spent = segments.spent[index]
        print(f"{total:>9} " + " ".join(f"{spent[label] / count * 1e6:>12.2f}" for label in labels))
    print(f"alerts: {summary.alerts_opened} opened, {summary.alerts_resolved} resolved")


if __name__ == "__main__":
    main()
