"""Inhibition rules as the manager applies them (silences and matchers: `sentineld.alertrules`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentineld.alerting.records import ConditionKey
from sentineld.alertrules import LabelMatcher

__all__ = ["Inhibitor"]


@dataclass(slots=True)
class Inhibitor:
    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...]
    #: equal-label values -> open source alerts with them
    open_sources: dict[tuple[str, ...], set[ConditionKey]] = field(default_factory=dict)

