"""The five kinds of component a plugin can register, and what the host gives each instance.

A plugin registers *classes* (through the ``register_*`` hooks in `sentineld.hookspecs`); the
config instantiates them by type name, as many instances as it wants, each with its own id and
validated `Options`. The async work lives on the instances, never in a hook.

Every class sets `type_name` (the ``type = "..."`` of the config) and may set `Options` (a
subclass of `sentineld.Options`) and `description` (one line, shown by ``sentineld plugins``).
"""

from __future__ import annotations

import enum
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from sentineld.logs import get_logger
from sentineld.model import Alert, Mention, Severity
from sentineld.options import Options

if TYPE_CHECKING:
    from sentineld.changes import MentionChange
    from sentineld.registry import InfluencerRegistry
    from sentineld.watch import WatchConfig

__all__ = [
    "AlertSink",
    "Component",
    "ComponentContext",
    "Draft",
    "Emit",
    "Health",
    "HealthState",
    "Notification",
    "Notifier",
    "PermanentDeliveryError",
    "Responder",
    "RetryableDeliveryError",
    "Scorer",
    "Source",
    "StateParts",
    "Trigger",
]

Kind = Literal["source", "scorer", "trigger", "notifier", "responder"]

#: Keys the host takes from every component table (see `sentineld.config.HostKeys`); a
#: component's own Options may not use these names.
HOST_KEYS: frozenset[str] = frozenset({"type", "enabled", "timeout"})


class NoOptions(Options):
    """For components that take no options of their own."""


@dataclass(slots=True)
class ComponentContext:
    """What the host hands every component instance: identity, logging, shared config."""

    id: str
    kind: Kind
    watch: WatchConfig
    state_dir: Path
    log: Any = field(default=None)
    #: The pipeline's influencer registry (`sentineld.registry`): author records kept by the
    #: tracking step, for components to read. None outside a pipeline (``sentineld score``).
    influencers: InfluencerRegistry | None = None
    #: Ask the pipeline for a checkpoint soon rather than at the next `checkpoint_interval`
    #: (``request_checkpoint("why")``): for a scorer or trigger whose memory waits on its state
    #: reaching the store (decision 0130). None outside a pipeline.
    request_checkpoint: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        if self.log is None:
            self.log = get_logger("sentineld", component=self.id, kind=self.kind)


class Component:
    """Common base: the host constructs ``cls(options, context)`` once per configured instance."""

    type_name: ClassVar[str]
    kind: ClassVar[Kind]
    Options: ClassVar[type[Options]] = NoOptions
    description: ClassVar[str] = ""
    #: Set to True when the component's calls block the thread (synchronous I/O). The host then
    #: runs them in a worker thread so that a hang is timed out instead of freezing the daemon.
    blocking: ClassVar[bool] = False

    def __init__(self, options: Any, context: ComponentContext) -> None:
        self.options = options
        self.context = context
        self.log = context.log

    @property
    def id(self) -> str:
        return self.context.id

    @classmethod
    def sample_config(cls) -> str | None:
        """The commented sample config (``sample.toml`` beside the plugin's package), if any."""
        module = sys.modules.get(cls.__module__)
        # The class may live in a submodule of the plugin's package (``.../source.py``). A lone
        # module (a ``*.py`` in the plugins directory) has no package to hold a sample: its
        # ``__package__`` names a parent that was never imported.
        if module is not None and not hasattr(module, "__path__"):
            module = sys.modules.get(module.__package__ or "")
        if module is None or not hasattr(module, "__path__"):
            return None
        sample = resources.files(module).joinpath("sample.toml")
        return sample.read_text() if sample.is_file() else None

    async def start(self) -> None:
        """Called once before the first use (open connections, load models)."""

    async def stop(self) -> None:
        """Called once at shutdown or when a reload removes the instance."""

    def snapshot(self) -> Any:
        """State to checkpoint with the stream position, or None if stateless.

        Must be msgspec-encodable (dicts, lists, numbers, strings). After a crash the host calls
        `restore` with the last checkpoint and re-feeds the mentions that came after it, so a
        stateful component ends in the same state as if nothing had happened.
        """
        return None

    def restore(self, state: Any) -> None:
        """Load what `snapshot` returned."""

    def snapshot_parts(self, complete: bool) -> StateParts | None:
        """Optional, for a big state: the state as named parts, of which a checkpoint writes
        only those that changed since this instance's last call (all of them when `complete`;
        the host asks for that the first time, and after a snapshot that failed). Encoded now,
        at the barrier, like `snapshot`'s bytes. None (the default): the host checkpoints
        `snapshot()` whole. `sentineld.state_parts.ChunkedState` does the bookkeeping.

        A component implementing it keeps `snapshot`/`restore` as well: a checkpoint written
        before it did is restored through `restore`, and a rebuild hands the state over whole.
        """
        return None

    def restore_parts(self, parts: dict[str, bytes]) -> None:
        """Load the parts stored from `snapshot_parts` (every part of the checkpoint, by name)."""


@dataclass(slots=True)
class StateParts:
    """A checkpoint of a component's state in parts (`Component.snapshot_parts`): the parts
    new or changed since the component's last snapshot, by name, and the names of those that
    are gone; `complete`: `changed` holds every part (the stored ones not in it are dropped)."""

    changed: dict[str, bytes]
    removed: list[str] = field(default_factory=list)
    complete: bool = False


# --------------------------------------------------------------------------- sources


class HealthState(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"
    STARTING = "starting"
    STOPPED = "stopped"


@dataclass(slots=True)
class Health:
    """What a source reports about itself; shown by ``/readyz`` and ``sentineld status``."""

    state: HealthState = HealthState.STARTING
    last_error: str | None = None
    since: float = 0.0

    def set(self, state: HealthState, error: str | None = None) -> None:
        if state != self.state:
            self.since = time.time()
        self.state = state
        if error is not None or state == HealthState.OK:
            self.last_error = error


class Emit(Protocol):
    """What a source calls to hand a batch to the core: ``await emit(mentions, cursor)``.

    The cursor (any string the source understands, or None) is stored in the same transaction
    as the mentions, so it is never ahead of what is stored. The call waits while the pipeline is
    full (backpressure). With ``wait=True`` it returns only once the batch is durably stored,
    with the number of mentions that were new (what a webhook needs before answering 202).

    ``changes`` reports that mentions emitted earlier were deleted or edited by their authors
    (`sentineld.changes.MentionChange`: ``MentionChange.deleted(id, at)``,
    ``MentionChange.edited(id, text, at)``). They are stored in the batch's transaction, with
    its cursor, so each is applied once: a deleted mention's text is redacted everywhere
    sentineld shows it, an edited one shows the new text. A change for a mention never stored
    is ignored (counted); a malformed one is rejected like a malformed payload.
    """

    def __call__(
        self, mentions: Sequence[Mention], cursor: str | None = None, *, wait: bool = False,
        changes: Sequence[MentionChange] = (),
    ) -> Awaitable[int | None]: ...


class Source(Component):
    """Brings mentions in. Subclasses implement `run`, which runs until cancelled.

    `self.cursor` holds the cursor stored by the last `emit` (None on first start): resume from
    it. Delivery may repeat (the core drops mentions whose id it already stored), but must never
    skip. Report trouble with `self.health.set(...)`; raising from `run` makes the host restart
    the source with backoff.
    """

    kind = "source"

    def __init__(self, options: Any, context: ComponentContext) -> None:
        super().__init__(options, context)
        self.cursor: str | None = None
        self.health = Health()
        #: When True (replay of a file), the source stops at the end of its input instead of
        #: following it; `run` then returns.
        self.finite: bool = False
        #: Payloads rejected as malformed (counted, logged with a sample, skipped).
        self.malformed: int = 0

    async def run(self, emit: Emit) -> None:
        raise NotImplementedError

    def reject(self, reason: str, sample: object = None, **where: object) -> None:
        """Count and log a malformed payload (with a short sample) and go on."""
        self.malformed += 1
        text = repr(sample)
        self.log.warning(
            "malformed payload skipped",
            reason=reason,
            sample=text[:200] + ("…" if len(text) > 200 else ""),
            malformed_total=self.malformed,
            **where,
        )


# --------------------------------------------------------------------------- scorers


class Scorer(Component):
    """Adds to each mention's `scores` (and `labels`). Called with batches, in stream order.

    Keep it fast: it runs on the event loop for every mention. Sentiment goes in
    ``scores["sentiment"]`` in [-1, 1] with ``labels["sentiment"]``; influence and virality in
    [0, 1]. A scorer that raises on a batch is logged and the batch goes on without its scores.
    """

    kind = "scorer"

    async def score(self, mentions: Sequence[Mention]) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- triggers


class AlertSink:
    """How a trigger raises and clears conditions. The core owns the alert lifecycle.

    ``fire`` says "this condition holds at this event time": the first call opens an alert, the
    next ones update its evidence. ``clear`` says it no longer holds: the open alert is resolved.
    A condition is (trigger id, subject, channel), so a trigger never tracks alert ids itself.
    """

    def fire(
        self,
        *,
        subject: str,
        channel: str,
        at: datetime,
        summary: str,
        severity: Severity = "medium",
        evidence: dict[str, Any] | None = None,
        mentions: Sequence[str] = (),
        kind: str | None = None,
    ) -> None:
        raise NotImplementedError

    def clear(
        self, *, subject: str, channel: str, at: datetime, kind: str | None = None,
        reason: str | None = None,
    ) -> None:
        """`reason`: why, when it is not that the condition stopped holding (the trigger gave
        it up, say); the alert then resolves at once, with the reason in its evidence."""
        raise NotImplementedError


class Trigger(Component):
    """Turns the scored stream into alerts, in event time.

    `observe` gets each batch of scored mentions in stream order; `tick` gets the event-time
    clock while the stream is quiet (and between mentions during replay), so that windows close
    and timers expire at the same event times live and in replay. State kept across calls must
    come back through `snapshot`/`restore` for exactly-once alerting after a crash.
    """

    kind = "trigger"

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        raise NotImplementedError

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        """The event-time clock advanced to `now` (default: nothing to do)."""


# --------------------------------------------------------------------------- notifiers


class RetryableDeliveryError(Exception):
    """Delivery failed but may succeed later (timeout, 5xx, 429). `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(Exception):
    """Delivery can never succeed as is (other 4xx, a rejected payload): dead-letter it."""


@dataclass(slots=True)
class Draft:
    """A reply drafted by a responder, waiting for a human to approve it."""

    alert_id: str | None
    mention_id: str | None
    channel: str
    text: str
    template: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Notification:
    """One delivery: an alert event (opened, updated, resolved, …) or a drafted response.

    `key` is the idempotency key: the same notification delivered twice carries the same key,
    so a receiver that honours it sees each exactly once.
    """

    key: str
    event: str
    alert: Alert | None = None
    draft: Draft | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class Notifier(Component):
    """Delivers notifications. The outbox calls `notify` in order per notifier instance.

    Raise `RetryableDeliveryError` for failures worth retrying and `PermanentDeliveryError` for
    ones that are not; any other exception counts as retryable.
    """

    kind = "notifier"

    async def notify(self, notification: Notification) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- responders


class Responder(Component):
    """Drafts replies for an alert (and may post approved ones through a platform's API)."""

    kind = "responder"

    async def draft(self, alert: Alert, mentions: Sequence[Mention]) -> list[Draft]:
        raise NotImplementedError

    async def post(self, draft: Draft) -> str | None:
        """Post an approved draft; return the platform's id of the reply. Default: not supported."""
        raise NotImplementedError(f"{self.type_name} cannot post replies")


KIND_BASES: dict[str, type[Component]] = {
    "source": Source,
    "scorer": Scorer,
    "trigger": Trigger,
    "notifier": Notifier,
    "responder": Responder,
}
