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
followed (see `_make_room` and the README for which ones give way).
"""

from __future__ import annotations

import heapq
import sys
from collections import OrderedDict, deque
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
#: Characters of a waiting mention's text kept for the alert (its summary quotes them).
TEXT_CHARS = 100

WAITING, OVERDUE, GONE = 0, 1, 2


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
    #: Waiting mentions followed at once (about 400 bytes each). When full, a new one takes the
    #: place of the mention overdue for longest (its alert resolves as no longer followed), or
    #: is not followed if none is overdue yet.
    max_pending: int = 20_000
    #: Recent posts of the brand's own accounts remembered (a reply to one is addressed to it).
    own_posts: int = 10_000

    def __post_init__(self) -> None:
        if self.max_pending < 1:
            raise ValueError("max_pending must be at least 1")


class _Waiting(msgspec.Struct, array_like=True, gc=False, order=True):
    """A mention waiting for an answer; ordered by due time (the timer heap holds these)."""

    due: float
    mention_id: str
    created: float
    customer: str
    channel: str
    severity: str
    text: str
    state: int = WAITING


class _Customer:
    """A customer's waiting mentions on one channel (oldest first) and how many are overdue."""

    __slots__ = ("key", "who", "waiting", "overdue")

    def __init__(self, key: tuple[str, str], who: str) -> None:
        self.key = key
        self.who = who
        self.waiting: list[_Waiting] = []
        self.overdue = 0


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
        #: mention id -> the mention waiting for an answer (or overdue)
        self.pending: dict[str, _Waiting] = {}
        self.customers: dict[tuple[str, str], _Customer] = {}
        #: due timers of the mentions not overdue yet (entries of mentions gone are skipped)
        self.heap: list[_Waiting] = []
        #: overdue mentions, in the order they fell due (entries of mentions gone are skipped)
        self.overdue: deque[_Waiting] = deque()
        self.overdue_count = 0
        self.own_posts: OrderedDict[str, None] = OrderedDict()
        #: mentions not followed because `max_pending` was reached (since the last log line)
        self.not_followed = 0
        self.unfollowed = 0
        self._next_report = -float("inf")

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
                self._wait(mention, alerts)

    def _remember_own(self, mention_id: str) -> None:
        self.own_posts[mention_id] = None
        while len(self.own_posts) > self.options.own_posts:
            self.own_posts.popitem(last=False)

    def _wait(self, mention: Mention, alerts: AlertSink) -> None:
        if len(self.pending) >= self.options.max_pending and not self._make_room(mention, alerts):
            return
        labels = mention.labels
        severity = labels.get(LABEL_SEVERITY) or self.options.severity or "medium"
        due_label = labels.get(LABEL_DUE)
        if due_label and not self.own_policy:
            due = parse_time(due_label).timestamp()
        else:
            due = self.policy.due(mention.timestamp, mention.source, severity)
        customer_id = labels.get(LABEL_CUSTOMER) or mention.author_key or f"mention:{mention.id}"
        author = mention.author
        who = (author.handle or author.name or author.id or customer_id) if author else customer_id
        customer = self._customer((customer_id, mention.source), who)
        customer.who = who
        self._add(customer, _Waiting(due, mention.id, mention.timestamp, customer.key[0],
                                     customer.key[1], sys.intern(severity),
                                     excerpt(mention.text, TEXT_CHARS)))

    def _customer(self, key: tuple[str, str], who: str) -> _Customer:
        customer = self.customers.get(key)
        if customer is None:
            key = (key[0], sys.intern(key[1]))
            customer = self.customers[key] = _Customer(key, who)
        return customer

    def _add(self, customer: _Customer, waiting: _Waiting) -> None:
        self.pending[waiting.mention_id] = waiting
        customer.waiting.append(waiting)
        if waiting.state == OVERDUE:
            customer.overdue += 1
            self.overdue_count += 1
            self.overdue.append(waiting)
        else:
            heapq.heappush(self.heap, waiting)

    def _make_room(self, mention: Mention, alerts: AlertSink) -> bool:
        """`max_pending` is reached: stop following the mention overdue for longest (its
        customer's alert resolves, or goes on with their other overdue mentions); if none is
        overdue, the new mention is not followed. False if it is not."""
        while self.overdue and self.overdue[0].state != OVERDUE:
            self.overdue.popleft()
        if not self.overdue:
            self.not_followed += 1
            self._report(mention.timestamp)
            return False
        oldest = self.overdue.popleft()
        key = (oldest.customer, oldest.channel)
        self._remove(oldest)
        self.unfollowed += 1
        self._report(mention.timestamp)
        self._settled(key, mention.created_at, alerts, reason=(
            f"no longer followed: more than {self.options.max_pending} mentions waited for an "
            "answer and this one was overdue for longest"))
        return True

    def _report(self, moment: float) -> None:
        """Say, at most once an hour of event time, how many mentions `max_pending` left out."""
        if moment < self._next_report:
            return
        self._next_report = moment + 3600
        self.log.warning(
            "too many mentions wait for an answer: some are not followed",
            max_pending=self.options.max_pending, not_followed=self.not_followed,
            overdue_no_longer_followed=self.unfollowed)
        self.not_followed = self.unfollowed = 0

    def _remove(self, waiting: _Waiting) -> None:
        """Stop following a waiting mention (answered, settled or left out)."""
        del self.pending[waiting.mention_id]
        customer = self.customers[(waiting.customer, waiting.channel)]
        customer.waiting.remove(waiting)
        if waiting.state == OVERDUE:
            customer.overdue -= 1
            self.overdue_count -= 1
        waiting.state = GONE
        if not customer.waiting:
            del self.customers[customer.key]
        self._compact()

    def _compact(self) -> None:
        """Drop the timer and overdue entries of mentions gone once they are most of them."""
        live = len(self.pending) - self.overdue_count
        if len(self.heap) > 2 * live + 1024:
            self.heap = [w for w in self.heap if w.state == WAITING]
            heapq.heapify(self.heap)
        if len(self.overdue) > 2 * self.overdue_count + 1024:
            self.overdue = deque(w for w in self.overdue if w.state == OVERDUE)

    def _answered(self, target_id: str, reply: Mention, alerts: AlertSink) -> None:
        """The brand replied to `target_id`: that mention and the same customer's earlier ones on
        the channel are answered. A target that was not waiting (not addressed to the brand)
        still answers the customer when the case step says whose it was (labels)."""
        target = self.pending.get(target_id)
        if target is not None:
            key, upto = (target.customer, target.channel), target.created
        else:
            customer_id, answered_at = reply.labels.get(LABEL_CUSTOMER), reply.labels.get(LABEL_ANSWERS_AT)
            if not customer_id or not answered_at:
                return
            key, upto = (customer_id, reply.source), parse_time(answered_at).timestamp()
        customer = self.customers.get(key)
        if customer is None:
            return
        was_overdue = customer.overdue > 0
        for waiting in [w for w in customer.waiting if w.created <= upto]:
            self._remove(waiting)
        if was_overdue:
            self._settled(key, reply.created_at, alerts)

    def _settled(self, key: tuple[str, str], at: datetime, alerts: AlertSink,
                 reason: str | None = None) -> None:
        """Some of an overdue customer's mentions are no longer waiting: their alert goes on
        with the others still overdue, or clears."""
        customer = self.customers.get(key)
        if customer is not None and customer.overdue:
            self._fire(customer, at, alerts)
        else:
            alerts.clear(subject=self._subject(key[0]), channel=key[1], at=at, reason=reason)

    async def settle(self, mention_ids: Sequence[str], at: datetime, alerts: AlertSink) -> None:
        """These mentions need no answer any more: their case was resolved by hand (the
        pipeline calls this for `sentineld resolve`, see `sentineld.cases.Resolutions`). An
        alert left with no overdue mention resolves; one with others still overdue is updated."""
        touched: dict[tuple[str, str], bool] = {}
        for mention_id in mention_ids:
            waiting = self.pending.get(mention_id)
            if waiting is not None:
                key = (waiting.customer, waiting.channel)
                touched.setdefault(key, self.customers[key].overdue > 0)
                self._remove(waiting)
        for key, was_overdue in sorted(touched.items()):
            if was_overdue:
                self._settled(key, at, alerts)

    # ------------------------------------------------------------------ the clock

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        moment = now.timestamp()
        touched: set[tuple[str, str]] = set()
        heap = self.heap
        while heap and heap[0].due <= moment:
            waiting = heapq.heappop(heap)
            if waiting.state != WAITING:
                continue
            waiting.state = OVERDUE
            key = (waiting.customer, waiting.channel)
            self.customers[key].overdue += 1
            self.overdue_count += 1
            self.overdue.append(waiting)
            touched.add(key)
        for key in sorted(touched):
            self._fire(self.customers[key], now, alerts)

    def _subject(self, customer: str) -> str:
        return f"{self.options.subject}/customer:{customer}"

    def _fire(self, customer: _Customer, at: datetime, alerts: AlertSink) -> None:
        overdue = sorted((w for w in customer.waiting if w.state == OVERDUE), key=lambda w: w.created)
        oldest = overdue[0]
        severity = self.options.severity or max((w.severity for w in overdue), key=SEVERITIES.index)
        waited = Duration(max(0.0, at.timestamp() - oldest.created))
        who = customer.who
        alerts.fire(
            subject=self._subject(oldest.customer),
            channel=oldest.channel,
            at=at,
            severity=severity,  # type: ignore[arg-type]
            summary=(f"{who} has waited {waited} for an answer on {oldest.channel} "
                     f"(first response was due {format_time(from_timestamp(oldest.due))}): "
                     f"“{oldest.text}”"),
            evidence={
                "customer": oldest.customer,
                "who": who,
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
        """The waiting mentions (msgspec structs: encoded at C speed), the overdue ones in the
        order they fell due, who each customer is, and the brand's recent posts."""
        overdue = deque(w for w in self.overdue if w.state == OVERDUE)
        self.overdue = overdue
        return {
            "version": 2,
            "waiting": [w for w in self.pending.values() if w.state == WAITING],
            "overdue": list(overdue),
            "who": [[*c.key, c.who] for c in self.customers.values()],
            "own": list(self.own_posts),
        }

    def restore(self, state: Any) -> None:
        self._reset()
        if not state:
            return
        if "pending" in state:  # version 1: one list per mention, `who` in each
            rows = [(row[1], row[2], row[6],
                     _Waiting(row[4], row[0], row[3], row[1], row[2], row[5], row[7],
                              OVERDUE if row[8] else WAITING))
                    for row in state["pending"]]
            rows.sort(key=lambda r: (r[3].state != OVERDUE, r[3].due, r[3].mention_id))
        else:
            who = {(c, ch): name for c, ch, name in state.get("who", [])}
            rows = [(w.customer, w.channel, who.get((w.customer, w.channel), w.customer), w)
                    for w in (msgspec.convert(data, _Waiting) for data in
                              [*state.get("overdue", []), *state.get("waiting", [])])]
        for customer_id, channel, who_name, waiting in rows:
            customer = self._customer((customer_id, channel), who_name)
            waiting.customer, waiting.channel = customer.key
            waiting.severity = sys.intern(waiting.severity)
            self._add(customer, waiting)
        for customer in self.customers.values():
            customer.waiting.sort(key=lambda w: w.created)
        for mention_id in state.get("own", []):
            self.own_posts[mention_id] = None


@hookimpl
def register_triggers(register: Any) -> None:
    register(Unanswered)
