"""Playbooks: who hears of which alert, when, and who owns it (the Training "T", as policy).

The ``[playbooks]`` section holds rules, tried in order. A rule matches alerts by their labels
(Alertmanager's matcher syntax, as silences use: ``kind=negativity_spike``,
``severity=~high|critical``, ``channel!=*``, ``subject=~competitor:.*``), optionally only during
its `active_hours` (a weekly calendar in a time zone), and lists escalation steps::

    [[playbooks.rules]]
    name = "complaints"
    match = ["kind=unanswered"]
    owner = "care-lead@acme.example"
    steps = [
      { notify = ["care_team"] },                     # at once
      { after = "15m", notify = ["oncall"] },         # unless someone acknowledged by then
    ]

The first matching rule wins unless it says ``continue_matching = true``. Alerts no rule
matches go to `unmatched` (default: every notifier, so that no alert is ever dropped by a gap
in the policy).

Escalations run in *event time*: a step is due at the alert's ``opened_at`` plus its `after`,
and fires on the first clock tick at or past that moment, unless the alert was acknowledged
(``sentineld ack ID``) at or before it. So a replay of a recorded crisis pages at the same event
times as the live daemon did, and a drill at ``--speed 60`` pages a minute after the first
notification of a 1-hour step. The escalation's outbox key names the alert, rule and step, so
re-processing after a crash never pages twice.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from sentineld.alerting import AlertEvent
from sentineld.changes import redact_alert
from sentineld.alertrules import LabelMatcher, alert_labels, matches_all, parse_matchers
from sentineld.hours import WeeklyHours
from sentineld.model import SEVERITIES, Alert, Severity, alert_from_dict, alert_to_dict
from sentineld.options import Duration, Options

__all__ = [
    "EscalationStep",
    "PlaybookError",
    "PlaybookRouter",
    "PlaybookRule",
    "PlaybooksOptions",
]

_encode = msgspec.json.Encoder().encode
#: Alerts whose acknowledgement was announced, remembered at most this many (oldest forgotten).
MAX_ANNOUNCED: Final = 10_000


class EscalationStep(Options):
    """One step of a rule: notify these notifiers `after` the alert opened."""

    #: Notifier ids (``[notifiers.ID]``) to notify at this step.
    notify: list[str]
    #: Event time after the alert opened when this step fires ("0s": with the first notification).
    after: Duration = Duration(0)
    #: Skip the step when someone acknowledged the alert before it fell due.
    unless_acknowledged: bool = True

    def __post_init__(self) -> None:
        if not self.notify:
            raise ValueError("notify: a step names at least one notifier id")


class PlaybookRule(Options):
    """Which alerts a rule takes, when, who owns them, and how they escalate."""

    #: A name for logs, notifications and outbox keys.
    name: str
    #: Alert label matchers that must all hold (kind, subject, subject_root, channel, severity,
    #: trigger); empty matches every alert.
    match: list[str] = []
    #: Only alerts at least this severe.
    min_severity: Severity | None = None
    #: Only while these hours are open (event time of the alert); unset: always.
    active_hours: WeeklyHours | None = None
    #: Who owns alerts of this rule (a person or a team; shown in notifications).
    owner: str = ""
    #: Escalation steps; the ones with ``after = "0s"`` go out with the first notification.
    steps: list[EscalationStep] = []
    #: Try the following rules too after this one matched.
    continue_matching: bool = False

    def __post_init__(self) -> None:
        parse_matchers(self.match)
        if not self.steps:
            raise ValueError(f"rule {self.name!r}: steps: at least one step is needed")

    @property
    def matchers(self) -> tuple[LabelMatcher, ...]:
        return _matchers(self.match)


_PARSED: dict[tuple[str, ...], tuple[LabelMatcher, ...]] = {}


def _matchers(texts: Sequence[str]) -> tuple[LabelMatcher, ...]:
    key = tuple(texts)
    found = _PARSED.get(key)
    if found is None:
        found = _PARSED[key] = parse_matchers(texts)
    return found


class PlaybooksOptions(Options):
    """The ``[playbooks]`` section."""

    #: The rules, tried in order.
    rules: list[PlaybookRule] = []
    #: Notifier ids for alerts that no rule matches; unset: every notifier.
    unmatched: list[str] | None = None
    #: Tell the notifiers that heard of an alert when someone acknowledges it.
    announce_acknowledged: bool = True

    def __post_init__(self) -> None:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rules: names must be unique; repeated: {', '.join(duplicates)}")

    @property
    def configured(self) -> bool:
        return bool(self.rules) or self.unmatched is not None

    def unknown_notifiers(self, known: Iterable[str]) -> list[tuple[str, str]]:
        """(key path, problem) for each notifier id the playbooks name that is not configured."""
        known = set(known)
        choices = ", ".join(sorted(known)) or "none configured"
        problems = []
        for i, rule in enumerate(self.rules):
            for j, step in enumerate(rule.steps):
                for name in step.notify:
                    if name not in known:
                        problems.append((f"playbooks.rules[{i}].steps[{j}].notify",
                                         f"no notifier {name!r} (configured: {choices})"))
        for name in self.unmatched or ():
            if name not in known:
                problems.append(("playbooks.unmatched", f"no notifier {name!r} (configured: {choices})"))
        return problems


class PlaybookError(ValueError):
    """The playbooks name something that is not configured (a notifier id)."""


@dataclass(slots=True)
class _Told:
    """Who has heard of one open alert, and the alert as they last heard of it."""

    destinations: set[str]
    alert: dict[str, Any]
    rules: set[str] = field(default_factory=set)


@dataclass(order=True, slots=True)
class _Escalation:
    due: float
    alert_id: str = field(compare=False)
    rule: str = field(compare=False)
    step: int = field(compare=False)
    members: list[str] = field(compare=False, default_factory=list)


class PlaybookRouter:
    """The pipeline's `Router` when ``[playbooks]`` is configured, plus the escalation clock.

    ``router(event)`` returns the deliveries for an alert event now; ``tick(now)`` returns the
    escalation (and acknowledgement) deliveries that fell due by event time `now`.
    """

    def __init__(
        self, options: PlaybooksOptions, notifier_ids: Sequence[str], configured: Iterable[str] | None = None
    ) -> None:
        """`notifier_ids`: the notifiers running; `configured`: all configured ones (disabled
        ones included), which the playbooks may name (deliveries to a disabled one are dropped)."""
        self.options = options
        self.notifier_ids = list(notifier_ids)
        problems = options.unknown_notifiers(configured if configured is not None else notifier_ids)
        if problems:
            raise PlaybookError("; ".join(f"{path}: {message}" for path, message in problems))
        self.rules = {rule.name: rule for rule in options.rules}
        self.told: dict[str, _Told] = {}
        self.pending: list[_Escalation] = []
        self.acks: dict[str, float] = {}
        self.announced: dict[str, None] = {}

    # ------------------------------------------------------------------ matching

    def matching(self, alert: Alert, moment: float) -> list[PlaybookRule]:
        """The rules that take `alert` at event time `moment` (first match, unless continued)."""
        labels = alert_labels(alert)
        found = []
        for rule in self.options.rules:
            if rule.min_severity is not None and (
                SEVERITIES.index(alert.severity) < SEVERITIES.index(rule.min_severity)
            ):
                continue
            if not matches_all(rule.matchers, labels):
                continue
            if rule.active_hours is not None and not rule.active_hours.contains(moment):
                continue
            found.append(rule)
            if not rule.continue_matching:
                break
        return found

    def _unmatched(self) -> list[str]:
        unmatched = self.options.unmatched
        return list(self.notifier_ids if unmatched is None else unmatched)

    def _running(self, deliveries: list[tuple[str, str, bytes]]) -> list[tuple[str, str, bytes]]:
        """Only the deliveries to notifiers that run (a playbook may name a disabled one)."""
        running = set(self.notifier_ids)
        return [d for d in deliveries if d[0] in running]

    # ------------------------------------------------------------------ routing

    def __call__(self, event: AlertEvent) -> list[tuple[str, str, bytes]]:
        return self._running(self._route(event))

    def _route(self, event: AlertEvent) -> list[tuple[str, str, bytes]]:
        if not event.notify:
            return []
        alert = event.alert
        if event.event == "opened":
            return self._opened(event)
        told = self.told.get(alert.id)
        if event.event == "resolved":
            self.told.pop(alert.id, None)
            self.acks.pop(alert.id, None)
            self.announced.pop(alert.id, None)
            self.pending = [e for e in self.pending if e.alert_id != alert.id]
            heapq.heapify(self.pending)
        if event.event == "updated":
            deliveries = self._deliver(event, told.destinations if told else set())
            deliveries += self._start(event, skip=told.rules if told else set())
            return deliveries
        if told is not None:
            destinations = set(told.destinations)
        elif event.event == "renotify":
            destinations = set()
            for member in _member_ids(event):
                known = self.told.get(member)
                if known is not None:
                    destinations |= known.destinations
        else:
            destinations = set()
        if not destinations:
            destinations = self._first_step(event.alert)
        return self._deliver(event, destinations)

    def _opened(self, event: AlertEvent) -> list[tuple[str, str, bytes]]:
        return self._start(event, skip=set())

    def _start(self, event: AlertEvent, skip: set[str]) -> list[tuple[str, str, bytes]]:
        """Match the rules, deliver their immediate steps and schedule the later ones."""
        alert = event.alert
        opened = alert.opened_at.timestamp()
        rules = [r for r in self.matching(alert, opened) if r.name not in skip]
        told = self.told.get(alert.id)
        if told is None:
            told = _Told(set(), alert_to_dict(alert))
        told.alert = alert_to_dict(alert)
        members = _member_ids(event)
        immediate: dict[str, PlaybookRule | None] = {}
        if not rules and not skip:
            immediate = {name: None for name in self._unmatched()}
        for rule in rules:
            told.rules.add(rule.name)
            for index, step in enumerate(rule.steps):
                if step.after <= 0:
                    for name in step.notify:
                        immediate.setdefault(name, rule)
                else:
                    heapq.heappush(
                        self.pending, _Escalation(opened + step.after, alert.id, rule.name, index, members)
                    )
        if not immediate and not told.rules:
            return []
        for member in members:
            if member != alert.id:
                other = self.told.setdefault(member, _Told(set(), told.alert))
                other.destinations |= set(immediate)
        self.told[alert.id] = told
        deliveries = []
        for name, rule in immediate.items():
            if name in told.destinations and event.event != "opened":
                continue
            meta = _rule_meta(rule)
            deliveries.append((name, f"{event.key}:{name}", _payload(event.event, told.alert, event.meta, meta)))
            told.destinations.add(name)
        return deliveries

    def _first_step(self, alert: Alert) -> set[str]:
        rules = self.matching(alert, alert.opened_at.timestamp())
        if not rules:
            return set(self._unmatched())
        return {n for r in rules for s in r.steps if s.after <= 0 for n in s.notify}

    def _deliver(self, event: AlertEvent, destinations: Iterable[str]) -> list[tuple[str, str, bytes]]:
        payload = _payload(event.event, alert_to_dict(event.alert), event.meta, {})
        return [(name, f"{event.key}:{name}", payload) for name in sorted(destinations)]

    def destinations(self, alert: Alert) -> list[str]:
        """Where news about `alert` goes (drafted replies): who heard of it, else its first step."""
        told = self.told.get(alert.id)
        if told is not None and told.destinations:
            return sorted(told.destinations)
        return sorted(self._first_step(alert))

    # ------------------------------------------------------------------ the escalation clock

    def set_acks(self, acks: Mapping[str, float]) -> None:
        """Acknowledgements known from the store: alert id → event time of the ack."""
        self.acks.update(acks)

    def acknowledged(self, alert_ids: Iterable[str], by: float) -> bool:
        return any(self.acks.get(i, float("inf")) <= by for i in alert_ids)

    def due_alert_ids(self, now: float) -> list[str]:
        """The alerts (and their group members) with an escalation step due by `now`."""
        ids: dict[str, None] = {}
        for escalation in self.pending:
            if escalation.due <= now:
                ids.update(dict.fromkeys([escalation.alert_id, *escalation.members]))
        return list(ids)

    def quoted_mentions(self, now: float, due: Iterable[str]) -> list[str]:
        """The mentions named by the alerts that `tick(now)` may quote: the `due` ones
        (`due_alert_ids(now)`) and, when acknowledgements are announced, those acknowledged."""
        ids = set(due)
        if self.options.announce_acknowledged:
            ids.update(alert_id for alert_id, at in self.acks.items() if at <= now and alert_id not in self.announced)
        quoted = {m for alert_id in ids if (told := self.told.get(alert_id)) for m in told.alert.get("mentions", ())}
        return sorted(quoted)

    def withhold(self, deleted: set[str]) -> None:
        """Redact the alerts as told that name a mention in `deleted` (`redact_alert`): an
        escalation or an acknowledgement sent after its author deleted the post must not quote it."""
        for told in self.told.values():
            names = deleted.intersection(told.alert.get("mentions", ()))
            if names:
                told.alert = alert_to_dict(redact_alert(alert_from_dict(told.alert), names))

    def tick(self, now: float) -> list[tuple[str, str, bytes]]:
        return self._running(self._tick(now))

    def _tick(self, now: float) -> list[tuple[str, str, bytes]]:
        deliveries: list[tuple[str, str, bytes]] = []
        while self.pending and self.pending[0].due <= now:
            escalation = heapq.heappop(self.pending)
            told = self.told.get(escalation.alert_id)
            rule = self.rules.get(escalation.rule)
            if told is None or rule is None or escalation.step >= len(rule.steps):
                continue
            step = rule.steps[escalation.step]
            if step.unless_acknowledged and self.acknowledged(
                [escalation.alert_id, *escalation.members], escalation.due
            ):
                continue
            meta = _rule_meta(rule) | {
                "escalation": {"step": escalation.step, "after": str(step.after), "rule": rule.name}
            }
            for name in step.notify:
                key = f"{escalation.alert_id}:escalation:{rule.name}:{escalation.step}:{name}"
                deliveries.append((name, key, _payload("opened", told.alert, {}, meta)))
                told.destinations.add(name)
        if self.options.announce_acknowledged:
            deliveries += self._announce(now)
        return deliveries

    def _announce(self, now: float) -> list[tuple[str, str, bytes]]:
        deliveries = []
        for alert_id, at in self.acks.items():
            if at > now or alert_id in self.announced:
                continue
            told = self.told.get(alert_id)
            if told is None or not told.destinations:
                continue
            self.announced[alert_id] = None
            payload = _payload("acknowledged", told.alert, {}, {})
            deliveries += [
                (name, f"{alert_id}:acknowledged:{name}", payload) for name in sorted(told.destinations)
            ]
        while len(self.announced) > MAX_ANNOUNCED:
            del self.announced[next(iter(self.announced))]
        return deliveries

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> dict[str, Any]:
        return {
            "told": [[k, sorted(t.destinations), t.alert, sorted(t.rules)] for k, t in self.told.items()],
            "pending": [[e.due, e.alert_id, e.rule, e.step, e.members] for e in self.pending],
            "announced": list(self.announced),
        }

    def restore(self, state: Mapping[str, Any] | None) -> None:
        self.told, self.pending, self.announced = {}, [], {}
        if not state:
            return
        for key, destinations, alert, rules in state.get("told", []):
            self.told[key] = _Told(set(destinations), dict(alert), set(rules))
        self.pending = [_Escalation(*row) for row in state.get("pending", []) if row[2] in self.rules]
        heapq.heapify(self.pending)
        self.announced = dict.fromkeys(state.get("announced", []))

    @property
    def open_alert_ids(self) -> list[str]:
        return list(self.told)


def _member_ids(event: AlertEvent) -> list[str]:
    ids = [event.alert.id]
    for listed in event.meta.get("alerts", ()):
        ident = listed.get("id") if isinstance(listed, Mapping) else None
        if ident and ident not in ids:
            ids.append(ident)
    return ids


def _rule_meta(rule: PlaybookRule | None) -> dict[str, Any]:
    if rule is None:
        return {}
    meta: dict[str, Any] = {"playbook": rule.name}
    if rule.owner:
        meta["owner"] = rule.owner
    return meta


def _payload(event: str, alert: dict[str, Any], meta: Mapping[str, Any], extra: Mapping[str, Any]) -> bytes:
    return _encode({"event": event, "alert": alert, "meta": {**meta, **extra}})
