"""The pipeline: sources → ingest → score → trigger → commit, plus outbox delivery.

Each stage is one task reading a bounded queue, so a slow stage makes the ones before it wait
(backpressure) and memory stays bounded. The ingest stage stores each batch together with its
source's cursor in one transaction, so a cursor is never ahead of what is stored.

Exactly-once after a crash: the ingest stage injects a `Barrier` into the stream now and then.
Each stage adds its components' state to the barrier as it passes, and the commit stage stores
the states with the sequence number of the last mention before the barrier (a consistent
checkpoint, as Flink does it). On start the pipeline restores the last checkpoint and re-feeds the
mentions stored after it; alert ids and outbox keys are deterministic, so nothing is alerted or
notified twice. A component whose memory waits on a checkpoint asks for one early with
`Pipeline.request_barrier`, and so does the score stage when `checkpoint_records` influencer
records wait for one (decision 0042).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import msgspec
import tenacity

from sentineld.alerting import (
    AlertEvent,
    AlertManager,
    ConditionChanges,
    Router,
    TriggerAlertSink,
    broadcast_router,
)
from sentineld.allocator import release_free_memory
from sentineld.alertwrites import AlertWrites
from sentineld.changes import ChangeCounts, MentionChange, check_change
from sentineld.cases import CaseStep, Resolutions
from sentineld.clock import EventClock
from sentineld.components import Component, HealthState, Source, StateParts
from sentineld.config import Config
from sentineld.logs import get_logger
from sentineld.model import Mention, MentionError
from sentineld.outbox import DeliveryWorker
from sentineld.playbooks import PlaybookRouter
from sentineld.queues import MentionQueue, Room
from sentineld.registry import AuthorWrite, InfluencerRegistry, Tracking
from sentineld.responses import PostingWorker, ResponseDesk
from sentineld.state_parts import StatePartsError, merge_parts
from sentineld.store.base import StoreError
from sentineld.store.worker import StoreWorker
from sentineld.supervisor import Guard
from sentineld.watch import Matcher

__all__ = ["Emitter", "Pipeline", "PipelineStats"]

log = get_logger("sentineld.pipeline")

CHECKPOINT_NAME: Final = "pipeline"
REFEED_PAGE: Final = 1000
SCORE_FLUSH: Final = 4096
GROUP_MENTIONS: Final = 4096

_encode_state = msgspec.msgpack.Encoder().encode
_decode_state = msgspec.msgpack.Decoder().decode


def _part_name(component_id: str) -> str:
    """The checkpoint row holding a component's state (`SQLiteStore.save_checkpoint`'s parts)."""
    return f"{CHECKPOINT_NAME}/{component_id}"


@dataclass(slots=True)
class _IngestBatch:
    source_id: str
    mentions: list[Mention]
    cursor: str | None
    stored: asyncio.Future[int] | None = None
    #: Deletions and edits the source reported with the batch (stored in its transaction).
    changes: Sequence[MentionChange] = ()


@dataclass(slots=True)
class Tick:
    """The wall clock says event time has reached at least `now` (live mode only)."""

    now: float


@dataclass(slots=True)
class Barrier:
    """Marks a consistent point in the stream; stages add their components' states to it."""

    seq: int
    states: dict[str, Any] = field(default_factory=dict)
    final: bool = False
    #: The open-alert rows that changed since the last barrier (stored with the checkpoint).
    alert_changes: ConditionChanges | None = None
    #: The influencer records that changed since the last barrier (stored with the checkpoint).
    authors: AuthorWrite | None = None


_STOP: Final = object()
_Batch = TypeVar("_Batch")


def _mentions_in(item: Any) -> int:
    """What an item weighs in a stage queue (`MentionQueue`): its mentions; a tick, a barrier
    or the stop weighs none (it still takes one of the queue's `queue_batches` places)."""
    if isinstance(item, list):
        return len(item)
    if isinstance(item, _IngestBatch):
        return len(item.mentions)
    return 0


def _queued_behind(
    queue: MentionQueue[Any], first: _Batch, kind: type, size: Callable[[_Batch], int]
) -> tuple[list[_Batch], Any]:
    """`first` and the items of its `kind` queued behind it, up to `GROUP_MENTIONS` mentions,
    and the first other item taken (a tick, a barrier, the stop), which then waits its turn."""
    group, count = [first], size(first)
    while count < GROUP_MENTIONS:
        try:
            item = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        if not isinstance(item, kind):
            return group, item
        group.append(item)
        count += size(item)
    return group, None

Scored = list[tuple[int, Mention]]


def _before(next_tick: float | None) -> datetime | None:
    """A moment safely before `next_tick` (see `Pipeline._observe`)."""
    return None if next_tick is None else datetime.fromtimestamp(next_tick - 0.001, UTC)


@dataclass(slots=True)
class PipelineStats:
    """Live counters, read by `status`, the metrics endpoint and the closing summary."""

    received: dict[str, int] = field(default_factory=dict)
    stored: int = 0
    stored_by_source: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    scored: int = 0
    alerts_opened: int = 0
    alerts_resolved: int = 0
    checkpoints: int = 0
    refed: int = 0
    stage_errors: int = 0
    #: Deletions and edits reported by sources, by what the store did with them
    #: (`sentineld.changes.ChangeCounts`: deleted, edited, unknown, repeated).
    changes: dict[str, int] = field(default_factory=dict)
    last_progress: float = field(default_factory=time.monotonic)


class Emitter:
    """What a source calls to hand mentions to the core (see `sentineld.components.Emit`)."""

    def __init__(self, pipeline: Pipeline, source: Guard) -> None:
        self.pipeline = pipeline
        self.guard = source

    async def __call__(
        self, mentions: Sequence[Mention], cursor: str | None = None, *, wait: bool = False,
        changes: Sequence[MentionChange] = (),
    ) -> int | None:
        """Queue a batch (waiting while the pipeline is full). With ``wait=True``, return only
        once the batch is durably stored, with the number of mentions that were new. `changes`
        (deletions and edits) are stored in the batch's transaction; a malformed one is
        rejected (`Source.reject`) and the rest of the batch goes on."""
        if not mentions and cursor is None and not changes:
            return 0 if wait else None
        source_id = self.guard.id
        stats = self.pipeline.stats.received
        stats[source_id] = stats.get(source_id, 0) + len(mentions)
        stored = asyncio.get_running_loop().create_future() if wait else None
        checked = self._checked(changes) if changes else ()
        await self.pipeline.ingest_queue.put(
            _IngestBatch(source_id, list(mentions), cursor, stored, checked)
        )
        if cursor is not None:
            component = self.guard.component
            if isinstance(component, Source):
                component.cursor = cursor
        if stored is not None:
            return await stored
        return None

    def _checked(self, changes: Sequence[MentionChange]) -> list[MentionChange]:
        kept = []
        for change in changes:
            try:
                kept.append(check_change(change))
            except MentionError as exc:
                component = self.guard.component
                if isinstance(component, Source):
                    component.reject(f"malformed change: {exc}", change)
                else:
                    log.warning("malformed change skipped", source=self.guard.id, reason=str(exc))
        return kept


class Pipeline:
    """One configured pipeline. `start()`, then `wait_sources()` or `stop()`."""

    def __init__(
        self,
        config: Config,
        store: StoreWorker,
        *,
        live: bool = True,
        notify: bool = True,
        sources: list[Guard] | None = None,
        sources_in_turn: bool = False,
        on_alert: Callable[[AlertEvent], None] | None = None,
        router: Router | None = None,
    ) -> None:
        self.config = config
        #: Run the sources one after another, each once the one before has returned (a
        #: replay's files, end to end), instead of all at once.
        self.sources_in_turn = sources_in_turn
        self.store = store
        self.live = live
        self.notify = notify
        self.on_alert = on_alert
        self.hook = config.registry.pm.hook
        daemon = config.daemon
        # Each queue holds at most `queue_batches` items and `queue_mentions` mentions: the
        # mentions in flight, hence the memory, do not grow with the batches' size (decision 0043).
        bounds = (daemon.queue_batches, daemon.queue_mentions)
        self.ingest_queue: MentionQueue[Any] = MentionQueue(*bounds, _mentions_in)
        self.score_queue: MentionQueue[Any] = MentionQueue(*bounds, _mentions_in)
        #: Batches between the ingest stage and the trigger queue. The score stage takes the
        #: batches queued behind each other as one group; without this the ingest stage would
        #: queue as many again while the group is scored (memory: issue 9 bounds the RSS).
        self.score_room = Room(*bounds)
        self.trigger_queue: MentionQueue[Any] = MentionQueue(*bounds, _mentions_in)
        self.commit_queue: MentionQueue[Any] = MentionQueue(*bounds, _mentions_in)
        self.matcher = Matcher(config.watch)
        self.influencers = InfluencerRegistry(config.sections.get("influencers"), self.matcher)
        self.tracking = Tracking(self.influencers, store, self.request_barrier)
        self.sources = sources if sources is not None else self._guards("source")
        self.scorers = self._guards("scorer")
        self.triggers = self._guards("trigger")
        self.notifiers = self._guards("notifier") if notify else []
        self.responders = self._guards("responder")
        self.sinks = {g.id: TriggerAlertSink(g.id, g.spec.type_name) for g in self.triggers}
        self.alerts = AlertManager(config.sections.get("alerting"))
        self.alert_writes = AlertWrites(store.call)
        #: Open-alert rows of checkpoints that could not be stored (the next one carries them).
        self._unsaved_alert_changes: ConditionChanges | None = None
        #: Component states in parts of checkpoints that could not be stored (ride with the next).
        self._unsaved_state_parts: dict[str, StateParts] = {}
        #: Influencer records of checkpoints that could not be stored (ride with the next).
        self._unsaved_authors: AuthorWrite | None = None
        #: A barrier was asked for (`request_barrier`) and the score stage has not placed it yet.
        self._barrier_asked = False
        #: The instance whose parts the stored checkpoint chain holds, by component id: any
        #: other instance (new, rebuilt, or after a failed snapshot) is asked for all its parts.
        self._parts_of: dict[str, Component] = {}
        self._next_silence_poll = 0.0
        self.playbooks = self._playbooks()
        self.router = router or self.playbooks or broadcast_router([g.id for g in self.notifiers])
        self.cases = CaseStep(config.sections.get("cases"), self.matcher, store)
        self.resolutions = Resolutions(store, self.alerts.options.silence_poll)
        self.responses = ResponseDesk(
            config.sections.get("responses"), self.responders, store, self._draft_destinations
        )
        self.posting = PostingWorker(config.sections.get("responses"), self.responders, store)
        self._next_ack_poll = 0.0
        self.clock = EventClock(daemon.tick)
        self.stats = PipelineStats()
        #: Observers for the HTTP side: each scored batch as it leaves the trigger stage, and the
        #: seconds each stage spent on one item (for the latency histograms).
        self.on_scored: Callable[[Scored], None] | None = None
        self.on_stage: Callable[[str, float], None] | None = None
        outbox = config.sections.get("outbox")
        self.workers = [DeliveryWorker(g, store.call, outbox) for g in self.notifiers]
        self.last_seq = 0
        self._checkpoint_seq = 0
        self._last_barrier = time.monotonic()
        self._source_tasks: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def _guards(self, kind: Any) -> list[Guard]:
        return [
            Guard(spec, self.config, influencers=self.influencers, request_checkpoint=self.request_barrier)
            for spec in self.config.of_kind(kind).values()
        ]

    def emitter(self, source: Guard) -> Emitter:
        return Emitter(self, source)

    def request_barrier(self, reason: str) -> None:
        """Ask for a checkpoint barrier now rather than at the next `checkpoint_interval`: the
        score stage places one after the batches it is scoring (it is the first stage that
        holds state, so that is a consistent point). For a component whose bounded memory
        waits on a checkpoint because its state may reach the store only with one (decision
        0003): the influencer registry when its evicted records pile up (decision 0130). Asking
        again before the barrier is placed asks once; `reason` goes to the debug log."""
        if not self._barrier_asked:
            self._barrier_asked = True
            log.debug("early checkpoint barrier asked for", reason=reason)

    def _playbooks(self) -> PlaybookRouter | None:
        """The playbook router when `[playbooks]` is configured and notifiers run."""
        options = self.config.sections.get("playbooks")
        if options is None or not options.configured or not self.notifiers:
            return None
        configured = self.config.components["notifier"]
        return PlaybookRouter(options, [g.id for g in self.notifiers], configured)

    def _draft_destinations(self, alert: Any) -> list[str]:
        if self.playbooks is not None:
            return self.playbooks.destinations(alert)
        return [g.id for g in self.notifiers]

    def _paced_clock(self) -> tuple[Callable[[], float | None], float] | None:
        """A replay paced by event time (`replay --speed`): the source's clock and speed, so
        that the clock ticks between mentions at the accelerated pace (drills)."""
        for guard in self.sources:
            component: Any = guard.component
            speed = getattr(getattr(component, "options", None), "speed", None)
            paced_now = getattr(component, "paced_now", None)
            if speed and paced_now is not None:
                return paced_now, float(speed)
        return None

    @property
    def all_guards(self) -> list[Guard]:
        return [*self.sources, *self.scorers, *self.triggers, *self.notifiers, *self.responders]

    def queue_depths(self) -> dict[str, int]:
        return {
            "ingest": self.ingest_queue.qsize(),
            "score": self.score_queue.qsize(),
            "trigger": self.trigger_queue.qsize(),
            "commit": self.commit_queue.qsize(),
        }

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Restore the last checkpoint, start components and stages, then the sources."""
        self.last_seq = await self.store.call("last_seq")
        await self._restore()
        await self.tracking.start()
        await self.cases.start()
        for guard in [*self.scorers, *self.triggers, *self.notifiers, *self.responders]:
            await guard.start()
        self.hook.sentineld_startup(config=self.config)
        spawn = asyncio.get_running_loop().create_task
        self._tasks = [
            spawn(self._ingest_stage(), name="stage:ingest"),
            spawn(self._score_stage(), name="stage:score"),
            spawn(self._trigger_stage(), name="stage:trigger"),
            spawn(self._commit_stage(), name="stage:commit"),
        ]
        self._tasks += [spawn(w.run(), name=f"outbox:{w.destination}") for w in self.workers]
        if self.live or self._paced_clock() is not None:
            self._tasks.append(spawn(self._ticker(), name="ticker"))
        if self.live and self.posting.active:
            self._tasks.append(spawn(self.posting.run(), name="posting"))
        previous: asyncio.Task[None] | None = None
        for guard in self.sources:
            task = spawn(self._run_source(guard, after=previous), name=f"source:{guard.id}")
            self._source_tasks[guard.id] = task
            if self.sources_in_turn:
                previous = task

    async def wait_sources(self) -> None:
        """Until every source has returned (finite sources: replay)."""
        if self._source_tasks:
            await asyncio.gather(*self._source_tasks.values(), return_exceptions=True)

    async def stop(self, *, drain_fully: bool = False) -> None:
        """Stop the sources, drain the queues, checkpoint, stop components. Idempotent.

        The drain is bounded by `stop_timeout`, as a SIGTERM expects: what it cancels is
        re-read from the sources' stored cursors and re-fed from the last checkpoint at the
        next start. `drain_fully` waits however long the queued work takes: a replay whose
        sources have all finished was asked for exactly that work, and has no next start."""
        if self._stopping:
            return
        self._stopping = True
        for task in self._source_tasks.values():
            task.cancel()
        await asyncio.gather(*self._source_tasks.values(), return_exceptions=True)
        for guard in self.sources:
            await guard.stop()
            if isinstance(guard.component, Source):
                guard.component.health.set(HealthState.STOPPED)
        stages = self._tasks[:4]
        await self.ingest_queue.put(_STOP)
        timeout = None if drain_fully else self.config.daemon.stop_timeout
        done, pending = await asyncio.wait(stages, timeout=timeout)
        if pending:
            log.error("drain timed out; cancelling the rest", pending=[t.get_name() for t in pending])
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("stage failed", stage=task.get_name(), error=repr(task.exception()))
        await self._finish_deliveries()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for guard in [*self.scorers, *self.triggers, *self.notifiers, *self.responders]:
            await guard.stop()
        self.hook.sentineld_shutdown()

    async def _finish_deliveries(self, grace: float = 2.0) -> None:
        """Give queued deliveries a short grace period; what is left stays in the outbox."""
        deadline = time.monotonic() + grace
        for worker in self.workers:
            worker.wakeup.set()
        while self.workers and time.monotonic() < deadline:
            if not await self.store.call("outbox_destinations"):
                break
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ checkpoints

    async def _restore(self) -> None:
        checkpoint = await self.store.call("load_checkpoint", CHECKPOINT_NAME)
        if checkpoint is None:
            self._checkpoint_seq = 0
            return
        seq, blob = checkpoint
        states = _decode_state(blob)
        for guard in [*self.scorers, *self.triggers]:
            saved = states.get("components", {}).get(guard.id)
            if saved and saved.get("type") == guard.spec.type_name:
                await self._restore_component(guard, saved, seq)
        self.alerts.restore(states.get("alerts", []), await self.store.call("alert_conditions"))
        if self.playbooks is not None:
            self.playbooks.restore(states.get("playbooks"))
        self.resolutions.restore(states.get("resolutions"))
        self.clock.restore(states.get("clock"))
        self._checkpoint_seq = seq
        log.info("restored checkpoint", seq=seq, behind=self.last_seq - seq)

    async def _restore_component(self, guard: Guard, saved: dict[str, Any], seq: int) -> None:
        if saved.get("part") == "parts":  # in parts (decision 0015)
            parts = await self.store.call("load_state_parts", CHECKPOINT_NAME, guard.id)
            try:
                guard.component.restore_parts(parts)
            except StatePartsError as exc:
                log.error("checkpointed state incomplete; the component starts afresh", component=guard.id,
                          error=str(exc))
            return
        state = await self._saved_state(guard.id, saved, seq)
        if state is not None:
            guard.component.restore(state)

    async def _saved_state(self, component_id: str, saved: dict[str, Any], seq: int) -> Any:
        """A component's state in the checkpoint `seq`: a row of its own (see `_checkpoint`),
        or inside the checkpoint itself when an earlier version wrote it."""
        if "part" not in saved:
            return saved.get("state")
        row = await self.store.call("load_checkpoint", _part_name(component_id))
        if row is None or row[0] != seq:
            log.error("checkpointed state missing; the component starts afresh", component=component_id)
            return None
        return row[1] if saved["part"] == "bytes" else _decode_state(row[1])

    def _snapshot(self, guards: Sequence[Guard], into: dict[str, Any]) -> None:
        """Each component's state, encoded now: the barrier is written later, and a state
        handed over as live objects could change before then."""
        components = into.setdefault("components", {})
        for guard in guards:
            component = guard.component
            try:
                parts = component.snapshot_parts(complete=self._parts_of.get(guard.id) is not component)
                if parts is not None:
                    self._parts_of[guard.id] = component
                    components[guard.id] = {"type": guard.spec.type_name, "part": "parts", "parts": parts}
                    continue
                state = component.snapshot()
                if state is None:
                    continue
                raw = isinstance(state, bytes)
                encoded = state if raw else _encode_state(state)
            except Exception as exc:  # noqa: BLE001 - a failing snapshot only loses that state
                log.error("snapshot failed", component=guard.id, error=repr(exc))
                self._parts_of.pop(guard.id, None)
                continue
            components[guard.id] = {"type": guard.spec.type_name, "part": "bytes" if raw else "msgpack",
                                    "state": encoded}

    # ------------------------------------------------------------------ sources

    async def _run_source(self, guard: Guard, *, after: asyncio.Task[None] | None = None) -> None:
        source = guard.component
        assert isinstance(source, Source)
        if after is not None:
            await asyncio.wait([after])
        source.cursor = await self.store.call("cursor", guard.id)
        emit = self.emitter(guard)
        source.health.set(HealthState.STARTING)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            guard.stats.errors += 1
            guard.stats.restarts += 1
            guard.stats.last_error = repr(error)
            source.health.set(HealthState.FAILING, repr(error))
            log.error(
                "source failed; restarting",
                component=guard.id,
                error=repr(error),
                retry_in_s=round(state.upcoming_sleep, 2),
                exc_info=error if state.attempt_number == 1 else None,
            )

        retrying = tenacity.AsyncRetrying(
            wait=tenacity.wait_exponential_jitter(initial=1, max=300),
            retry=tenacity.retry_if_exception_type(Exception),
            before_sleep=before_sleep,
        )
        async for attempt in retrying:
            with attempt:
                await source.start()
                try:
                    await source.run(emit)
                finally:
                    await source.stop()
        if not source.finite:
            log.warning("source returned; it will not run again until restart", component=guard.id)
        source.health.set(HealthState.STOPPED)

    # ------------------------------------------------------------------ stages

    async def _ticker(self) -> None:
        interval = self.config.daemon.tick
        now: Callable[[], float | None] = time.time
        wall_interval = interval
        paced = None if self.live else self._paced_clock()
        if paced is not None:
            now, speed = paced
            wall_interval = max(interval / speed, 0.01)
        while True:
            await asyncio.sleep(wall_interval)
            moment = now()
            if moment is None:
                continue
            try:
                self.ingest_queue.put_nowait(Tick(moment - interval))
            except asyncio.QueueFull:
                pass

    async def _ingest_stage(self) -> None:
        await self._refeed()
        interval = self.config.daemon.checkpoint_interval
        held: Any = None
        while True:
            if held is not None:
                item, held = held, None
            else:
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                    async with asyncio.timeout(interval):
                        item = await self.ingest_queue.get()
                except TimeoutError:
                    if self.last_seq > self._checkpoint_seq:
                        await self._barrier()
                    continue
            if item is _STOP:
                await self.score_queue.put(Barrier(self.last_seq, final=True))
                return
            if isinstance(item, Tick):
                await self.score_queue.put(item)
                continue
            # Group commit: under load batches queue up and share one transaction; when idle
            # nothing waits for company.
            group, held = _queued_behind(self.ingest_queue, item, _IngestBatch, lambda b: len(b.mentions))
            started = time.perf_counter()
            stored = await self._store_group(group)
            self._timed("ingest", started)
            for fresh in stored:  # scored as the sources batched them: a batch is a unit of isolation
                if fresh:
                    self.last_seq = fresh[-1][0]
                    await self.score_room.acquire(len(fresh))
                    await self.score_queue.put(fresh)
            if time.monotonic() - self._last_barrier >= interval:
                await self._barrier()

    async def _barrier(self) -> None:
        self._last_barrier = time.monotonic()
        await self.score_queue.put(Barrier(self.last_seq))

    def _timed(self, stage: str, started: float) -> None:
        if self.on_stage is not None:
            self.on_stage(stage, time.perf_counter() - started)

    def _scored(self, batch: Scored) -> None:
        if self.on_scored is None:
            return
        try:
            self.on_scored(batch)
        except Exception as exc:  # noqa: BLE001 - an observer must never stop the stream
            log.error("scored-batch observer failed", error=repr(exc), exc_info=exc)

    async def _store_group(self, group: list[_IngestBatch]) -> list[Scored]:
        """Store a group of batches with their cursors; the new mentions of each. While the
        store fails the group waits and retries; a group the store cannot take at all (a bug,
        a value it cannot encode) is stored one mention at a time."""
        delay = 0.5
        changes = [change for item in group for change in item.changes]
        per_batch: list[Scored]
        while True:
            try:
                batches = [(item.source_id, item.mentions, item.cursor) for item in group]
                if changes:
                    per_batch, counts = await self.store.call("ingest_changes", batches, changes)
                    self._count_changes(counts)
                else:
                    per_batch = await self.store.call("ingest_many", batches)
                break
            except StoreError as exc:
                log.error("cannot store mentions; holding them and retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except Exception as exc:  # noqa: BLE001 - a mention the store cannot take at all
                per_batch = [await self._store_one_by_one(item, exc) for item in group]
                break
        stats = self.stats
        for item, stored in zip(group, per_batch, strict=True):
            stats.stored_by_source[item.source_id] = stats.stored_by_source.get(item.source_id, 0) + len(stored)
            stats.stored += len(stored)
            stats.duplicates += len(item.mentions) - len(stored)
            if item.stored is not None and not item.stored.done():
                item.stored.set_result(len(stored))
        stats.last_progress = time.monotonic()
        return per_batch

    def _count_changes(self, counts: ChangeCounts) -> None:
        totals = self.stats.changes
        for outcome in ("deleted", "edited", "unknown", "repeated"):
            totals[outcome] = totals.get(outcome, 0) + getattr(counts, outcome)
        if counts.deleted or counts.edited:
            log.info("mentions changed by their authors", deleted=counts.deleted, edited=counts.edited,
                     unknown=counts.unknown, repeated=counts.repeated)

    async def _store_one_by_one(self, item: _IngestBatch, error: Exception) -> Scored:
        """A batch failed for a reason retrying cannot cure (a bug, a value the store cannot
        encode): store its mentions one at a time, so that only the culprits are left out, each
        logged with its id; the cursor goes with the last one."""
        log.error("a batch could not be stored; storing its mentions one by one",
                  source=item.source_id, error=repr(error), exc_info=error)
        fresh: Scored = []
        last_cursor = None if item.changes else item.cursor  # else it goes with the changes
        for index, mention in enumerate(item.mentions):
            cursor = last_cursor if index == len(item.mentions) - 1 else None
            try:
                fresh += await self.store.call("ingest", item.source_id, [mention], cursor)
            except Exception as exc:  # noqa: BLE001 - leave the culprit out, keep the rest
                log.error("mention left out: the store cannot take it", source=item.source_id,
                          mention_id=mention.id, error=repr(exc))
                if cursor is not None:
                    await self.store.call("ingest", item.source_id, [], cursor)
        if item.changes:
            try:
                _, counts = await self.store.call("ingest_changes", [(item.source_id, [], item.cursor)], item.changes)
                self._count_changes(counts)
            except Exception as exc:  # noqa: BLE001 - the cursor must still move on
                log.error("changes left out: the store cannot take them", source=item.source_id,
                          mention_ids=[c.mention_id for c in item.changes[:5]], error=repr(exc))
                await self.store.call("ingest", item.source_id, [], item.cursor)
        return fresh

    async def _refeed(self) -> None:
        """Push mentions stored after the last checkpoint through the stages again, in batches
        of `batch_size` as a replay hands them over: a component bounded below a whole page
        (virality's `max_posts`, say) would otherwise end in another state than a clean replay
        after a crash that left a long stretch unchecked."""
        seq = self._checkpoint_seq
        size = self.config.daemon.batch_size
        while seq < self.last_seq:
            page: Scored = await self.store.call("mentions_after", seq, REFEED_PAGE)
            if not page:
                break
            seq = page[-1][0]
            self.stats.refed += len(page)
            for start in range(0, len(page), size):
                batch = page[start:start + size]
                await self.score_room.acquire(len(batch))
                await self.score_queue.put(batch)
        if self.stats.refed:
            log.info("re-fed mentions stored after the last checkpoint", count=self.stats.refed)

    async def _survive(self, stage: str, process: Callable[[Any], Awaitable[None]], item: Any) -> None:
        """Run one item through a stage. Plugins are already isolated by their Guards; this
        catches a bug in the core itself, logs it with the item, and lets the stream go on
        instead of the stage dying and the daemon hanging."""
        try:
            await process(item)
        except Exception as exc:  # noqa: BLE001 - the stage must outlive any one item
            self.stats.stage_errors += 1
            batch = item[0] if isinstance(item, list) and item and isinstance(item[0], list) else item
            ids = [m.id for _, m in batch[:5]] if isinstance(batch, list) else []
            log.error("stage failed on an item; it goes on unfinished", stage=stage,
                      item=type(item).__name__, mention_ids=ids, error=repr(exc), exc_info=exc)

    async def _score_stage(self) -> None:
        held: Any = None
        while True:
            if held is not None:
                item, held = held, None
            else:
                item = await self.score_queue.get()
            if isinstance(item, list):
                group, held = _queued_behind(self.score_queue, item, list, len)
                taken = [len(batch) for batch in group]  # the room each took, whatever scoring does
                await self._survive("score", self._score_batches, group)
                for batch, mentions in zip(group, taken, strict=True):
                    await self.trigger_queue.put(batch)
                    self.score_room.release(mentions)
                budget = self.config.daemon.checkpoint_records
                if budget is not None and self.influencers.changed >= budget:
                    self.request_barrier("changed influencer records reached checkpoint_records")
                if self._barrier_asked and any(group):
                    self._barrier_asked = False
                    self._last_barrier = time.monotonic()  # in place of the next one by the clock
                    barrier = Barrier(max(batch[-1][0] for batch in group if batch))
                    await self._survive("score", self._score_item, barrier)
                    await self.trigger_queue.put(barrier)
                continue
            await self._survive("score", self._score_item, item)
            await self.trigger_queue.put(item)
            if isinstance(item, Barrier) and item.final:
                return

    async def _score_batches(self, group: list[Scored]) -> None:
        """Score a group of batches. Tracking and scorers see the batches as the sources made
        them (a batch is the unit a failing plugin call affects, and scores do not depend on how
        many batches queued up); the case step, whose cost is the store's commit and whose
        result does not depend on batching, takes the group in one transaction."""
        started = time.perf_counter()
        for batch in group:
            mentions = [m for _, m in batch]
            self.matcher.apply(mentions)
            await self.tracking.before_scoring(batch)
            for guard in self.scorers:
                await guard.call("score", mentions, mentions=mentions)
            await self.tracking.after_scoring(batch)
            self.stats.scored += len(mentions)
        await self.cases.after_scoring(group[0] if len(group) == 1 else [p for b in group for p in b])
        self._timed("score", started)

    async def _score_item(self, item: Any) -> None:
        if isinstance(item, Barrier):
            item.authors = self.tracking.at_barrier()
            self._snapshot(self.scorers, item.states)

    async def _trigger_stage(self) -> None:
        held: Any = None
        while True:
            if held is not None:
                item, held = held, None
            else:
                item = await self.trigger_queue.get()
            if isinstance(item, list):
                # Live, each batch's alerts are stored and told as soon as it is observed; a
                # replay, where nobody waits for them, takes what queued up together.
                group, held = ([item], None) if self.live else _queued_behind(self.trigger_queue, item, list, len)
                await self._survive("trigger", self._trigger_batches, group)
                for batch in group:
                    await self.commit_queue.put(batch)
                continue
            await self._survive("trigger", self._trigger_item, item)
            await self.commit_queue.put(item)
            if isinstance(item, Barrier) and item.final:
                return

    async def _trigger_batches(self, group: list[Scored]) -> None:
        """Observe a group of batches (each as the sources made it); the alert changes and
        deliveries of the group are stored in one transaction, a COMMIT costing more than the
        rows it writes (the rows are those of one transaction per batch: `AlertWrites.end_item`)."""
        await self._poll_store()
        started = time.perf_counter()
        for batch in group:
            await self._observe(batch)
            self.alert_writes.end_item()
        await self._flush_alerts()
        self._timed("trigger", started)
        for batch in group:
            self._scored(batch)

    async def _poll_store(self) -> None:
        """What others change in the store: silences, acknowledgements, resolved cases."""
        await self._poll_silences()
        await self._poll_acks()
        if self._settling():
            await self.resolutions.poll()

    async def _trigger_item(self, item: Any) -> None:
        await self._poll_store()
        if isinstance(item, Tick):
            for boundary in self.clock.due(item.now):
                await self._tick(boundary)
            await self._flush_alerts()
        elif isinstance(item, Barrier):
            await self._flush_alerts()
            await self.alert_writes.add_dirty(self.alerts.take_dirty())
            await self._flush_alerts()
            self._snapshot(self.triggers, item.states)
            item.states["alerts"] = self.alerts.snapshot(whole=False)
            item.alert_changes = self.alerts.take_changes()
            if self.playbooks is not None:
                item.states["playbooks"] = self.playbooks.snapshot()
            item.states["clock"] = self.clock.snapshot()
            item.states["resolutions"] = self.resolutions.snapshot()

    async def _observe(self, batch: Scored) -> None:
        chunk: list[Mention] = []
        clock = self.clock
        # A mention more than a millisecond before the next tick cannot reach it: compared as
        # datetimes, without converting each mention's time to seconds (the exact test is below).
        before_tick = _before(clock.next_tick)
        for _, mention in batch:
            if before_tick is not None and mention.created_at < before_tick:
                chunk.append(mention)
                continue
            moment = mention.timestamp
            if clock.next_tick is None or moment >= clock.next_tick:
                if chunk:
                    await self._observe_chunk(chunk)
                    chunk = []
                for boundary in clock.due(moment):
                    await self._tick(boundary)
                before_tick = _before(clock.next_tick)
            chunk.append(mention)
        if chunk:
            await self._observe_chunk(chunk)

    async def _observe_chunk(self, chunk: list[Mention]) -> None:
        for guard in self.triggers:
            sink = self.sinks[guard.id]
            await guard.call("observe", chunk, sink, mentions=chunk)
            if sink.signals:
                await self._apply(sink.take())

    def _settling(self) -> list[Guard]:
        """The triggers that wait for answers and can be told that a case was resolved."""
        return [g for g in self.triggers if hasattr(g.component, "settle")]

    async def _settle_resolved(self, boundary: float, now: datetime) -> None:
        """Cases resolved by hand up to this tick: their mentions wait for no answer any more."""
        for mention_ids in self.resolutions.due(boundary):
            for guard in self._settling():
                sink = self.sinks[guard.id]
                await guard.call("settle", mention_ids, now, sink)
                if sink.signals:
                    await self._apply(sink.take())

    async def _tick(self, boundary: float) -> None:
        now = datetime.fromtimestamp(boundary, UTC)
        if self.resolutions.waiting:
            await self._settle_resolved(boundary, now)
        for guard in self.triggers:
            sink = self.sinks[guard.id]
            await guard.call("tick", now, sink)
            if sink.signals:
                await self._apply(sink.take())
        await self._route(self.alerts.tick(boundary), boundary)
        if self.playbooks is not None:
            due = self.playbooks.due_alert_ids(boundary)
            if due:  # an acknowledgement made just before a step falls due must count
                self._next_ack_poll = 0.0
                await self._poll_acks(due)
            quoted = self.playbooks.quoted_mentions(boundary, due)
            if quoted:
                self.playbooks.withhold(await self.alert_writes.deleted(quoted, boundary))
            escalations = self.playbooks.tick(boundary)
            if escalations:
                await self._record_deliveries(escalations)

    async def _apply(self, signals: list[Any]) -> None:
        events = self.alerts.apply(signals)
        if events:
            await self._route(events, max(signal.at for signal in signals).timestamp())

    async def _route(self, events: list[AlertEvent], at: float) -> None:
        """Gather the events' changes and deliveries for `_flush_alerts` (the end of the item);
        `at` is their event time."""
        if not events:
            return
        await self.alert_writes.complete(events)
        if self.notifiers or self.on_alert is not None:
            await self.alert_writes.withhold_deleted(events, at)
        for event in events:
            deliveries = self.router(event) if self.notifiers and event.notify else []
            if event.change or deliveries:
                self.alert_writes.add(event, deliveries)
                if event.change and event.event == "opened" and self.responses.active:
                    await self._flush_alerts()  # its drafts queue after its own notifications

    async def _flush_alerts(self) -> None:
        """Store the gathered alert changes and deliveries in one transaction, then tell the
        rest of the daemon about them, in event order."""
        for event, deliveries in await self.alert_writes.flush():
            await self._recorded(event, deliveries)

    async def _poll_silences(self) -> None:
        """Re-read the silences now and then, so that `sentineld silence` acts on a running daemon."""
        if time.monotonic() < self._next_silence_poll:
            return
        self._next_silence_poll = time.monotonic() + self.alerts.options.silence_poll
        try:
            # Live, silences that ended over a day ago cannot matter any more (late mentions aside).
            horizon = time.time() - 86400 if self.live else None
            self.alerts.set_silences(await self.store.call("silences", ending_after=horizon))
        except StoreError as exc:
            log.error("cannot read silences; keeping the ones known", error=str(exc))

    async def _poll_acks(self, alert_ids: list[str] | None = None) -> None:
        """Re-read acknowledgements of the alerts the playbooks escalate (``sentineld ack``)."""
        if self.playbooks is None or time.monotonic() < self._next_ack_poll:
            return
        self._next_ack_poll = time.monotonic() + self.alerts.options.silence_poll
        wanted = alert_ids if alert_ids is not None else self.playbooks.open_alert_ids
        try:
            self.playbooks.set_acks(await self.store.call("alert_acks", wanted))
        except StoreError as exc:
            log.error("cannot read acknowledgements; keeping the ones known", error=str(exc))

    async def _record_deliveries(self, deliveries: list[tuple[str, str, bytes]]) -> None:
        """Queue deliveries that belong to no alert change (escalations, acknowledgements)."""
        await self._flush_alerts()
        delay = 0.5
        while True:
            try:
                await self.store.call("enqueue", deliveries)
                break
            except StoreError as exc:
                log.error("cannot queue notifications; retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self._wake({d for d, _, _ in deliveries})

    def _wake(self, destinations: set[str]) -> None:
        for worker in self.workers:
            if worker.destination in destinations:
                worker.wakeup.set()

    async def _recorded(self, event: AlertEvent, deliveries: list[tuple[str, str, bytes]]) -> None:
        """An alert event is stored: count and log it, tell hooks, responders and observers."""
        alert = event.alert
        if event.change and event.event == "opened":
            self.stats.alerts_opened += 1
            log.info("alert opened", alert=alert.id, kind=alert.kind, subject=alert.subject,
                     channel=alert.channel, severity=alert.severity, summary=alert.summary)
            self.hook.alert_raised(alert=alert)
            self._wake(set(await self.responses.on_opened(alert)))
        elif event.change and event.event == "resolved":
            self.stats.alerts_resolved += 1
            log.info("alert resolved", alert=alert.id, kind=alert.kind, subject=alert.subject)
            self.hook.alert_resolved(alert=alert)
        if self.on_alert is not None and event.change:
            self.on_alert(event)
        destinations = {d for d, _, _ in deliveries}
        for worker in self.workers:
            if worker.destination in destinations:
                worker.wakeup.set()

    async def _commit_stage(self) -> None:
        pending: Scored = []
        while True:
            item = await self.commit_queue.get()
            if isinstance(item, list):
                pending.extend(item)
                if len(pending) >= SCORE_FLUSH:
                    await self._save_scores(pending)
                    pending = []
            elif isinstance(item, Barrier):
                started = time.perf_counter()
                if pending:
                    await self._save_scores(pending)
                    pending = []
                await self._survive("commit", self._checkpoint, item)
                self._timed("commit", started)
                if item.final:
                    return

    async def _save_scores(self, scored: Scored) -> None:
        try:
            await self.store.call("save_scores", scored)
        except Exception as exc:  # noqa: BLE001 - scores are recomputed after a restart
            log.error("cannot store scores (they are recomputed after a restart)", error=repr(exc))

    async def _checkpoint(self, barrier: Barrier) -> None:
        changes = barrier.alert_changes
        if self._unsaved_alert_changes is not None:
            changes = self._unsaved_alert_changes.then(changes or ConditionChanges())
        self._unsaved_alert_changes = changes  # until they are stored
        # Each component's encoded state is a row of its own, beside the checkpoint: one blob
        # holding them all would be a copy of megabytes made every few seconds (decision 0014).
        states, barrier.states = barrier.states, {}
        components = states.get("components", {})
        parts = {component_id: saved.pop("state") for component_id, saved in components.items() if "state" in saved}
        # States in parts: only the parts that changed are written (decision 0015).
        unsaved = self._unsaved_state_parts
        in_parts = {component_id: merge_parts(unsaved[component_id], saved.pop("parts"))
                    if component_id in unsaved else saved.pop("parts")
                    for component_id, saved in components.items() if "parts" in saved}
        self._unsaved_state_parts = in_parts  # until they are stored
        # The influencer records reach the store only here, at the checkpoint's position
        # (decision 0130): after a crash they are those of the stream the pipeline re-feeds after.
        authors, barrier.authors = barrier.authors, None
        if self._unsaved_authors is not None:
            authors = self._unsaved_authors.then(authors)
        self._unsaved_authors = authors  # until they are stored
        try:
            await self.store.call("save_checkpoint", CHECKPOINT_NAME, barrier.seq,
                                  _encode_state(states), alert_conditions=changes, parts=parts,
                                  state_parts=in_parts,
                                  authors=None if authors is None else (authors.rows, authors.state))
        except StoreError as exc:
            log.error("cannot store checkpoint; the next one will cover it", error=str(exc))
            return
        finally:
            del states, components, parts, in_parts
        if authors is not None:
            self.tracking.stored(authors, barrier.seq)
        del authors
        self._unsaved_authors = None
        self._unsaved_state_parts = {}
        self._unsaved_alert_changes = None
        self._checkpoint_seq = barrier.seq
        self.stats.checkpoints += 1
        await asyncio.to_thread(release_free_memory)
