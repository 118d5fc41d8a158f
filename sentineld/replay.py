"""`sentineld replay` and `sentineld score`: recorded streams through the same stages as live."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sentineld.alerting import AlertEvent
from sentineld.config import ComponentSpec, Config
from sentineld.logs import get_logger
from sentineld.model import MentionError, decode_mention, encode_mention
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.sqlite import lock_state_dir
from sentineld.store.worker import StoreWorker
from sentineld.supervisor import Guard
from sentineld.watch import Matcher

log = get_logger("sentineld.replay")


@dataclass(slots=True)
class ReplaySummary:
    files: list[str]
    lines: int = 0
    malformed: int = 0
    stored: int = 0
    duplicates: int = 0
    alerts_opened: int = 0
    alerts_resolved: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    #: With --notify: alerts still held for their group's next notification, and escalation
    #: steps not due yet, when the recording ended (a replay stops at its last mention).
    unsent_alerts: int = 0
    unsent_steps: int = 0
    #: With --notify: deliveries left in the outbox (a receiver down), and whether the store
    #: that holds them is kept (--state-dir) or thrown away.
    undelivered: int = 0
    kept: bool = False

    def render(self) -> str:
        rate = self.stored / self.seconds if self.seconds else 0.0
        return (
            f"replayed {self.lines} lines from {len(self.files)} file(s) in {self.seconds:.2f}s "
            f"({rate:,.0f} mentions/s): {self.stored} stored, {self.duplicates} duplicate, "
            f"{self.malformed} malformed skipped; alerts {self.alerts_opened} opened, "
            f"{self.alerts_resolved} resolved"
        ) + (
            f"; never notified, due after the last recorded mention: {self.unsent_alerts} alerts "
            f"held for their group's next notification (group_interval), {self.unsent_steps} "
            "escalation steps (add a quiet stretch at the end of the recording to hear them)"
            if self.unsent_alerts or self.unsent_steps else ""
        ) + (
            f"; {self.undelivered} notifications not delivered (see the log), "
            + ("left in the outbox of --state-dir for `sentineld run` to retry" if self.kept
               else "lost with this replay's throwaway store (keep them with --state-dir)")
            if self.undelivered else ""
        )


def _replay_sources(config: Config, files: Sequence[str], speed: float | None) -> list[Guard]:
    ctype = config.registry.get("source", "jsonl")
    guards = []
    for index, name in enumerate(files):
        options_cls = ctype.cls.Options
        fields: dict[str, Any] = {
            "path": name, "follow": False, "batch_size": config.daemon.batch_size,
        }
        if speed is not None:
            fields["speed"] = speed
        spec = ComponentSpec(
            id=f"replay-{index}" if len(files) > 1 else "replay",
            kind="source",
            type_name="jsonl",
            cls=ctype.cls,
            options=options_cls(**fields),
        )
        guard = Guard(spec, config)
        guard.component.finite = True  # type: ignore[attr-defined]
        guards.append(guard)
    return guards


async def replay(
    config: Config,
    files: Sequence[str],
    *,
    on_alert: Callable[[AlertEvent], None] | None = None,
    state_dir: Path | None = None,
    notify: bool = False,
    speed: float | None = None,
    watch: Callable[[Pipeline], None] | None = None,
) -> ReplaySummary:
    """Push recorded Mention JSON Lines through the pipeline as fast as possible (or at `speed`
    times real time). Without `state_dir` the state is thrown away afterwards. `watch` gets the
    running pipeline (a progress bar reads its sources' positions and its counters)."""
    summary = ReplaySummary(list(files))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sentineld-replay-") as scratch, ExitStack() as held:
        directory = state_dir or Path(scratch)
        if state_dir is not None:  # a daemon's, perhaps: one writer at a time (decision 0604)
            held.callback(os.close, lock_state_dir(state_dir))
        worker = StoreWorker(open_store(directory))
        try:
            sources = _replay_sources(config, files, speed)
            pipeline = Pipeline(
                config, worker, live=False, notify=notify, sources=sources, sources_in_turn=True,
                on_alert=on_alert,
            )
            await pipeline.start()
            if watch is not None:
                watch(pipeline)
            await pipeline.wait_sources()
            await pipeline.stop(drain_fully=True)
            if notify:
                counts = await worker.call("outbox_counts")
                summary.undelivered = sum(by_state.get("pending", 0) + by_state.get("dead", 0)
                                          for by_state in counts.values())
                summary.kept = state_dir is not None
        finally:
            worker.close()
    for guard in sources:
        component: Any = guard.component
        summary.lines += getattr(component, "lines_read", 0)
        summary.malformed += component.malformed
        if guard.stats.last_error:
            summary.errors[guard.id] = guard.stats.errors
    summary.stored = pipeline.stats.stored
    summary.duplicates = pipeline.stats.duplicates
    summary.alerts_opened = pipeline.stats.alerts_opened
    summary.alerts_resolved = pipeline.stats.alerts_resolved
    if notify:
        summary.unsent_alerts = pipeline.alerts.waiting()
        summary.unsent_steps = len(pipeline.playbooks.pending) if pipeline.playbooks is not None else 0
    summary.seconds = time.perf_counter() - started
    return summary


async def score_stream(
    config: Config, inputs: Sequence[str], out: BinaryIO, batch_size: int = 512,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Score Mention JSON Lines (files or "-") and write Scored mention JSON Lines to `out`.
    Returns (scored, malformed). `progress(bytes read from files, mentions scored)` is called
    after each batch."""
    matcher = Matcher(config.watch)
    scorers = [Guard(spec, config) for spec in config.of_kind("scorer").values()]
    for guard in scorers:
        await guard.start()
    scored = malformed = 0
    finished_bytes = 0
    try:
        for name in inputs:
            handle = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
            label = "<stdin>" if name == "-" else name
            try:
                batch = []
                for number, raw in enumerate(handle, start=1):
                    if not raw.strip():
                        continue
                    try:
                        batch.append(decode_mention(raw))
                    except MentionError as exc:
                        malformed += 1
                        log.warning("malformed line skipped", file=label, line=number, reason=str(exc))
                        continue
                    if len(batch) >= batch_size:
                        scored += await _score_batch(batch, matcher, scorers, out)
                        batch = []
                        if progress is not None:
                            at = handle.tell() if handle is not sys.stdin.buffer else 0
                            progress(finished_bytes + at, scored)
                if batch:
                    scored += await _score_batch(batch, matcher, scorers, out)
            finally:
                if handle is not sys.stdin.buffer:
                    finished_bytes += handle.tell()
                    handle.close()
    finally:
        for guard in scorers:
            await guard.stop()
    return scored, malformed


async def _score_batch(batch: list[Any], matcher: Matcher, scorers: list[Guard], out: BinaryIO) -> int:
    matcher.apply(batch)
    for guard in scorers:
        await guard.call("score", batch, mentions=batch)
    out.write(b"".join(encode_mention(m, scored=True) + b"\n" for m in batch))
    out.flush()
    return len(batch)

