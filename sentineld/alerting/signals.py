"""What a trigger says: the `AlertSink` each trigger is handed records its fires and clears as
`Signal`s, which the `AlertManager` applies after the call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sentineld.components import AlertSink
from sentineld.model import SEVERITIES, Severity

__all__ = ["RANK", "Signal", "TriggerAlertSink"]

#: Severities by rank (higher is more severe).
RANK: Final = {severity: rank for rank, severity in enumerate(SEVERITIES)}


@dataclass(slots=True)
class Signal:
    """What a trigger said during one call: fire (with details) or clear one condition.
    A `severity` of None takes the configured default for the trigger or kind. A clear may say
    why (`reason`), when it is not simply that the condition stopped holding."""

    fire: bool
    trigger: str
    kind: str
    subject: str
    channel: str
    at: datetime
    summary: str = ""
    severity: Severity | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    mentions: Sequence[str] = ()
    reason: str | None = None


class TriggerAlertSink(AlertSink):
    """The `AlertSink` handed to one trigger: it records signals for the manager to apply."""

    def __init__(self, trigger_id: str, kind: str) -> None:
        self.trigger_id = trigger_id
        self.kind = kind
        self.signals: list[Signal] = []

    def fire(
        self,
        *,
        subject: str,
        channel: str,
        at: datetime,
        summary: str,
        severity: Severity | None = None,  # type: ignore[override]
        evidence: dict[str, Any] | None = None,
        mentions: Sequence[str] = (),
        kind: str | None = None,
    ) -> None:
        if severity is not None and severity not in RANK:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        self.signals.append(
            Signal(
                True, self.trigger_id, kind or self.kind, subject, channel, at,
                summary, severity, dict(evidence or {}), tuple(mentions),
            )
        )

    def clear(
        self, *, subject: str, channel: str, at: datetime, kind: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.signals.append(
            Signal(False, self.trigger_id, kind or self.kind, subject, channel, at, reason=reason)
        )

    def take(self) -> list[Signal]:
        signals, self.signals = self.signals, []
        return signals

