"""unanswered: a customer wrote to the brand and nobody from the brand's own accounts answered
within the first-response SLA.

A mention is *addressed to the brand* when the case step says so (``labels["addressed"]``,
see `sentineld.cases`), or, without cases, when it comes from a direct source (e-mail), replies
to a post of one of ``[watch] accounts``, or @-mentions one of them. Its due time is the case's
first-response SLA (``labels["sla_due"]``, per channel and severity, in business hours when
configured) unless this trigger sets its own `first_response`, `sla` or `business_hours`.

A reply from one of the brand's accounts (``in_reply_to``) answers that mention and the same
customer's earlier waiting mentions on that channel. One alert per customer and channel
(subject ``brand/customer:<customer>``): it fires, in event time, on the first clock tick at or
past the due time of a waiting mention, and resolves when every overdue mention of that customer
on that channel has been answered, or their case was resolved by hand (`settle`). The waiting
mentions are checkpointed, so a restart neither forgets nor repeats; at most `max_pending` are
kept (the oldest are dropped, and logged).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from sentineld import AlertSink, Mention, Options, Trigger, hookimpl
from sentineld.cases import (
    LABEL_ADDRESSED,
    LABEL_ANSWERS_AT,
    LABEL_CUSTOMER,
    LABEL_DUE,
    LABEL_SEVERITY,
    Addressing,
    SlaPolicy,
    SlaRule,
)
from sentineld.hours import WeeklyHours
from sentineld.model import SEVERITIES, Severity, format_time, from_timestamp, parse_time
from sentineld.options import Duration
from sentineld.watch import Matcher
from sentineld_plugins.triggers._common import excerpt

DEFAULT_FIRST_RESPONSE = 3600.0
MAX_MENTION_IDS = 20


class UnansweredOptions(Options):
    #: The subject alerts are raised under (their subject is "<subject>/customer:<customer>").
    subject: str = "brand"
    #: First-response target. Unset: the due time the case step computed from `[cases]`
    #: (one hour when cases are off).
    first_response: Duration | None = None
    #: First-response targets by channel and severity (as in `[cases]`); they override the
    #: case step's due times.
    sla: list[SlaRule] = []
    #: Count the SLA only in these business hours (overrides the case step's due times).
    business_hours: WeeklyHours | None = None
    #: Sources whose every mention is addressed to the brand (used when cases are off).
    direct_sources: list[str] = msgspec.field(default_factory=lambda: ["email"])
    #: Alert severity; unset: the most severe waiting mention's (its case severity), else medium.
    severity: Severity | None = None
    #: Waiting mentions followed at once; beyond, the oldest is dropped.
    max_pending: int = 100_000
    #: Recent posts of the brand's own accounts remembered (a reply to one is addressed to it).
    own_posts: int = 10_000


class _Waiting:
    __slots__ = ("mention_id", "customer", "channel", "created", "due", "severity", "fired", "who", "text")

    def __init__(self, mention_id: str, customer: str, channel: str, created: float, due: float,
                 severity: str, who: str, text: str, fired: bool = False) -> None:
        self.mention_id = mention_id
        self.customer = customer
        self.channel = channel
        self.created = created
        self.due = due
        self.severity = severity
        self.who = who
        self.text = text
        self.fired = fired

    def row(self) -> list[Any]:
        return [self.mention_id, self.customer, self.channel, self.created, self.due, self.severity,
                self.who, self.text, self.fired]


class Unanswered(Trigger):
    type_name = "unanswered"
    description = "a customer mention addressed to the brand that no brand reply answers within the SLA"
    Options = UnansweredOptions

    def __init__(self, options: UnansweredOptions, context: Any) -> None:
        super().__init__(options, context)
        self.addressing = Addressing(Matcher(context.watch), options.direct_sources)
        self.own_policy = options.first_response is not None or bool(options.sla) or (
            options.business_hours is not None
        )
        self.policy = SlaPolicy(
            options.first_response if options.first_response is not None else DEFAULT_FIRST_RESPONSE,
            options.sla, options.business_hours,
        )
        self._reset()

    def _reset(self) -> None:
        #: mention id -> the waiting mention, oldest first
        self.pending: OrderedDict[str, _Waiting] = OrderedDict()
        self.groups: dict[tuple[str, str], set[str]] = {}
        self.overdue: dict[tuple[str, str], set[str]] = {}
        self.heap: list[tuple[float, str]] = []
        self.own_posts: OrderedDict[str, None] = OrderedDict()

    # ------------------------------------------------------------------ the stream

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        for mention in mentions:
            if self.addressing.is_own(mention):
                self._remember_own(mention.id)
                if mention.in_reply_to:
                    self._answered(mention.in_reply_to, mention, alerts)
                continue
            addressed = mention.labels.get(LABEL_ADDRESSED) == "yes" or self.addressing.addressed(
                mention, replies_to_own=mention.in_reply_to in self.own_posts
            )
            if addressed and mention.id not in self.pending:
                self._wait(mention)

    def _remember_own(self, mention_id: str) -> None:
        self.own_posts[mention_id] = None
        while len(self.own_posts) > self.options.own_posts:
            self.own_posts.popitem(last=False)

    def _wait(self, mention: Mention) -> None:
        labels = mention.labels
        severity = labels.get(LABEL_SEVERITY) or self.options.severity or "medium"
        due_label = labels.get(LABEL_DUE)
        if due_label and not self.own_policy:
            due = parse_time(due_label).timestamp()
        else:
            due = self.policy.due(mention.timestamp, mention.source, severity)
        customer = labels.get(LABEL_CUSTOMER) or mention.author_key or f"mention:{mention.id}"
        author = mention.author
        who = (author.handle or author.name or author.id or customer) if author else customer
        waiting = _Waiting(mention.id, customer, mention.source, mention.timestamp, due, severity, who,
                           excerpt(mention.text, 200))
        self._add(waiting)
        while len(self.pending) > self.options.max_pending:
            _, dropped = self.pending.popitem(last=False)
            self._forget(dropped)
            self.log.warning("too many waiting mentions; the oldest is no longer followed",
                             mention=dropped.mention_id, max_pending=self.options.max_pending)

    def _add(self, waiting: _Waiting) -> None:
        self.pending[waiting.mention_id] = waiting
        self.groups.setdefault((waiting.customer, waiting.channel), set()).add(waiting.mention_id)
        if waiting.fired:
            self.overdue.setdefault((waiting.customer, waiting.channel), set()).add(waiting.mention_id)
        else:
            heapq.heappush(self.heap, (waiting.due, waiting.mention_id))

    def _forget(self, waiting: _Waiting) -> None:
        key = (waiting.customer, waiting.channel)
        for table in (self.groups, self.overdue):
            members = table.get(key)
            if members is not None:
                members.discard(waiting.mention_id)
                if not members:
                    del table[key]

    def _answered(self, target_id: str, reply: Mention, alerts: AlertSink) -> None:
        """The brand replied to `target_id`: that mention and the same customer's earlier ones on
        the channel are answered. A target that was not waiting (not addressed to the brand)
        still answers the customer when the case step says whose it was (labels)."""
        target = self.pending.get(target_id)
        if target is not None:
            key, upto = (target.customer, target.channel), target.created
        else:
            customer, answered_at = reply.labels.get(LABEL_CUSTOMER), reply.labels.get(LABEL_ANSWERS_AT)
            if not customer or not answered_at:
                return
            key, upto = (customer, reply.source), parse_time(answered_at).timestamp()
        was_overdue = bool(self.overdue.get(key))
        for mention_id in list(self.groups.get(key, ())):
            waiting = self.pending[mention_id]
            if waiting.created <= upto:
                del self.pending[mention_id]
                self._forget(waiting)
        if not was_overdue:
            return
        if self.overdue.get(key):
            self._fire(key, reply.created_at, alerts)
        else:
            alerts.clear(subject=self._subject(key[0]), channel=key[1], at=reply.created_at)

    async def settle(self, mention_ids: Sequence[str], at: datetime, alerts: AlertSink) -> None:
        """These mentions need no answer any more: their case was resolved by hand (the
        pipeline calls this for `sentineld resolve`, see `sentineld.cases.Resolutions`). An
        alert left with no overdue mention resolves; one with others still overdue is updated."""
        touched: dict[tuple[str, str], bool] = {}
        for mention_id in mention_ids:
            waiting = self.pending.pop(mention_id, None)
            if waiting is not None:
                key = (waiting.customer, waiting.channel)
                touched.setdefault(key, bool(self.overdue.get(key)))
                self._forget(waiting)
        for key, was_overdue in sorted(touched.items()):
            if not was_overdue:
                continue
            if self.overdue.get(key):
                self._fire(key, at, alerts)
            else:
                alerts.clear(subject=self._subject(key[0]), channel=key[1], at=at)

    # ------------------------------------------------------------------ the clock

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        moment = now.timestamp()
        touched: set[tuple[str, str]] = set()
        while self.heap and self.heap[0][0] <= moment:
            _, mention_id = heapq.heappop(self.heap)
            waiting = self.pending.get(mention_id)
            if waiting is None or waiting.fired:
                continue
            waiting.fired = True
            key = (waiting.customer, waiting.channel)
            self.overdue.setdefault(key, set()).add(mention_id)
            touched.add(key)
        for key in sorted(touched):
            self._fire(key, now, alerts)

    def _subject(self, customer: str) -> str:
        return f"{self.options.subject}/customer:{customer}"

    def _fire(self, key: tuple[str, str], at: datetime, alerts: AlertSink) -> None:
        overdue = sorted((self.pending[i] for i in self.overdue[key]), key=lambda w: w.created)
        oldest = overdue[0]
        severity = self.options.severity or max((w.severity for w in overdue), key=SEVERITIES.index)
        waited = Duration(max(0.0, at.timestamp() - oldest.created))
        alerts.fire(
            subject=self._subject(oldest.customer),
            channel=oldest.channel,
            at=at,
            severity=severity,  # type: ignore[arg-type]
            summary=(f"{oldest.who} has waited {waited} for an answer on {oldest.channel} "
                     f"(first response was due {format_time(from_timestamp(oldest.due))}): "
                     f"“{excerpt(oldest.text)}”"),
            evidence={
                "customer": oldest.customer,
                "who": oldest.who,
                "waiting": len(overdue),
                "observed": str(waited),
                "expected": str(Duration(oldest.due - oldest.created)),
                "window": str(waited),
                "oldest_at": format_time(from_timestamp(oldest.created)),
                "due_at": format_time(from_timestamp(oldest.due)),
                "overdue_by": str(Duration(max(0.0, at.timestamp() - oldest.due))),
                "text": oldest.text,
            },
            mentions=[w.mention_id for w in overdue[:MAX_MENTION_IDS]],
        )

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> Any:
        return {"pending": [w.row() for w in self.pending.values()], "own": list(self.own_posts)}

    def restore(self, state: Any) -> None:
        self._reset()
        if not state:
            return
        for row in state.get("pending", []):
            self._add(_Waiting(*row))
        for mention_id in state.get("own", []):
            self.own_posts[mention_id] = None


@hookimpl
def register_triggers(register: Any) -> None:
    register(Unanswered)
