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

Under a backlog, at most `max_customer_alerts` customers of a channel have an alert of their
own at once; the other overdue customers of the channel are counted and listed in one alert
(subject ``brand/backlog``) that resolves when none of them waits any more
(see docs/decisions/0217-unanswered-backlog-alert.md).
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from operator import attrgetter
from typing import Any

import msgspec

from sentineld import AlertSink, Mention, Options, Trigger, hookimpl
from sentineld.components import StateParts
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
from sentineld.state_parts import ChunkedState, ChunkMemo, decoded_chunks
from sentineld.watch import Matcher
from sentineld_plugins.triggers._common import excerpt

DEFAULT_FIRST_RESPONSE = 3600.0
MAX_MENTION_IDS = 20
#: Characters of a waiting mention's text kept for the alert (its summary quotes them).
TEXT_CHARS = 100

#: Customers a backlog alert lists (longest waiting first) and mention ids it quotes.
BACKLOG_LISTED = 20

_encode_state = msgspec.msgpack.Encoder().encode
_decode_state = msgspec.msgpack.Decoder().decode

WAITING, OVERDUE, GONE = 0, 1, 2
#: How a customer's overdue mentions are alerted: not (none overdue), in an alert of their own,
#: or in their channel's backlog alert.
UNLISTED, OWN, BACKLOG = 0, 1, 2


def _label_seconds(text: str) -> float:
    """`parse_time(text).timestamp()` for the case step's due-time label: Python reads its "Z"
    itself, so the text is not rewritten first (anything else goes through `parse_time`)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = parse_time(text)
    if moment.tzinfo is None:
        moment = parse_time(text)  # raises: no zone
    return moment.timestamp()


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
    #: Customers per channel with an alert of their own at once. Beyond, the channel's other
    #: overdue customers are counted and listed in one backlog alert ("<subject>/backlog"),
    #: which takes every customer falling overdue until none of them waits any more.
    #: 0: no backlog alert, one alert per customer however many.
    max_customer_alerts: int = 20

    def __post_init__(self) -> None:
        if self.max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        if self.max_customer_alerts < 0:
            raise ValueError("max_customer_alerts must be 0 (no limit) or more")


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
    """A customer's waiting mentions on one channel (oldest first), how many are overdue, and
    how they are alerted (`listed`: UNLISTED, OWN or BACKLOG). `row` is who they are as the
    checkpoint writes it (customer, channel, who), kept so that a checkpoint builds no rows."""

    __slots__ = ("key", "who", "row", "waiting", "overdue", "listed")

    def __init__(self, key: tuple[str, str], who: str) -> None:
        self.key = key
        self.who = who
        self.row = (*key, who)
        self.waiting: list[_Waiting] = []
        self.overdue = 0
        self.listed = UNLISTED


class _Backlog:
    """A channel's overdue customers without an alert of their own: in the order they fell
    overdue (longest waiting first), with their overdue mentions counted by severity."""

    __slots__ = ("members", "severities")

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], None] = {}
        self.severities: Counter[str] = Counter()


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
        self._parts = ChunkedState()
        self._unfollowed_reason = (f"no longer followed: more than {options.max_pending} mentions "
                                   "waited for an answer and this one was overdue for longest")
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
        #: customers with an alert of their own, per channel
        self.own_alerts: Counter[str] = Counter()
        #: channel -> its backlog (present while its backlog alert is open)
        self.backlogs: dict[str, _Backlog] = {}
        #: channels whose backlog changed since it last fired (it fires at the next tick)
        self._backlog_changes: set[str] = set()
        #: mentions not followed because `max_pending` was reached (since the last log line)
        self.not_followed = 0
        self.unfollowed = 0
        self._next_report = -float("inf")
        #: the chunks of the last checkpoint, per sequence (a waiting mention never changes while
        #: it is in the same sequence: being overdue moves it from "waiting" to "overdue")
        self._memos = {name: ChunkMemo() for name in _CHUNKED}

    # ------------------------------------------------------------------ the stream

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        addressing = self.addressing
        is_own, names_own = addressing.is_own, addressing.names_own
        direct, own_posts, pending = addressing.direct, self.own_posts, self.pending
        for mention in mentions:
            if is_own(mention):
                self._remember_own(mention.id)
                if mention.in_reply_to:
                    self._answered(mention.in_reply_to, mention, alerts)
                continue
            # Addressing.addressed without asking is_own again.
            addressed = (mention.labels.get(LABEL_ADDRESSED) == "yes" or mention.source in direct
                         or mention.in_reply_to in own_posts or names_own(mention))
            if addressed and mention.id not in pending:
                self._wait(mention, alerts)

    def _remember_own(self, mention_id: str) -> None:
        self.own_posts[mention_id] = None
        while len(self.own_posts) > self.options.own_posts:
            self.own_posts.popitem(last=False)

    def _wait(self, mention: Mention, alerts: AlertSink) -> None:
        moment = mention.timestamp
        if len(self.pending) >= self.options.max_pending and not self._make_room(mention, moment, alerts):
            return
        labels = mention.labels
        severity = labels.get(LABEL_SEVERITY) or self.options.severity or "medium"
        due_label = labels.get(LABEL_DUE)
        if due_label and not self.own_policy:
            due = _label_seconds(due_label)
        else:
            due = self.policy.due(moment, mention.source, severity)
        customer_id = labels.get(LABEL_CUSTOMER) or mention.author_key or f"mention:{mention.id}"
        author = mention.author
        who = (author.handle or author.name or author.id or customer_id) if author else customer_id
        customer = self._customer((customer_id, mention.source), who)
        if customer.who != who:
            customer.who, customer.row = who, (*customer.key, who)
        self._add(customer, _Waiting(due, mention.id, moment, customer.key[0],
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

    def _make_room(self, mention: Mention, moment: float, alerts: AlertSink) -> bool:
        """`max_pending` is reached: stop following the mention overdue for longest (its
        customer's alert resolves, or goes on with their other overdue mentions); if none is
        overdue, the new mention is not followed. False if it is not."""
        while self.overdue and self.overdue[0].state != OVERDUE:
            self.overdue.popleft()
        if not self.overdue:
            self.not_followed += 1
            self._report(moment)
            return False
        oldest = self.overdue.popleft()
        key = (oldest.customer, oldest.channel)
        listed = self.customers[key].listed
        self._remove(oldest)
        self.unfollowed += 1
        self._report(moment)
        self._settled(key, listed, mention.created_at, alerts, reason=self._unfollowed_reason)
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
            if customer.listed == BACKLOG:
                self.backlogs[waiting.channel].severities[waiting.severity] -= 1
        waiting.state = GONE
        if not customer.waiting:
            del self.customers[customer.key]
        # Drop the timer and overdue entries of mentions gone once they are most of them.
        if len(self.heap) > 2 * (len(self.pending) - self.overdue_count) + 1024:
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
        listed = customer.listed
        for waiting in [w for w in customer.waiting if w.created <= upto]:
            self._remove(waiting)
        if listed != UNLISTED:
            self._settled(key, listed, reply.created_at, alerts)

    def _settled(self, key: tuple[str, str], listed: int, at: datetime, alerts: AlertSink,
                 reason: str | None = None) -> None:
        """Some of an overdue customer's mentions are no longer waiting: the alert they are in
        (`listed`: their own or their channel's backlog) goes on with the others still overdue,
        or the customer leaves it (their own alert clears)."""
        customer = self.customers.get(key)
        still_overdue = customer is not None and customer.overdue > 0
        if listed == BACKLOG:
            if not still_overdue:
                self._leave_backlog(key, customer, at, alerts, reason)
            else:
                self._backlog_changes.add(key[1])
        elif still_overdue:
            assert customer is not None
            self._fire(customer, at, alerts)
        else:
            if customer is not None:
                customer.listed = UNLISTED
            self.own_alerts[key[1]] -= 1
            alerts.clear(subject=self._subject(key[0]), channel=key[1], at=at, reason=reason)

    async def settle(self, mention_ids: Sequence[str], at: datetime, alerts: AlertSink) -> None:
        """These mentions need no answer any more: their case was resolved by hand (the
        pipeline calls this for `sentineld resolve`, see `sentineld.cases.Resolutions`). An
        alert left with no overdue mention resolves; one with others still overdue is updated."""
        touched: dict[tuple[str, str], int] = {}
        for mention_id in mention_ids:
            waiting = self.pending.get(mention_id)
            if waiting is not None:
                key = (waiting.customer, waiting.channel)
                touched.setdefault(key, self.customers[key].listed)
                self._remove(waiting)
        for key, listed in sorted(touched.items()):
            if listed != UNLISTED:
                self._settled(key, listed, at, alerts)

    # ------------------------------------------------------------------ the clock

    async def tick(self, now: datetime, alerts: AlertSink) -> None:
        moment = now.timestamp()
        touched: dict[tuple[str, str], None] = {}  # in the order they fell due
        heap = self.heap
        while heap and heap[0].due <= moment:
            waiting = heapq.heappop(heap)
            if waiting.state != WAITING:
                continue
            waiting.state = OVERDUE
            key = (waiting.customer, waiting.channel)
            customer = self.customers[key]
            customer.overdue += 1
            self.overdue_count += 1
            self.overdue.append(waiting)
            if customer.listed == BACKLOG:
                self.backlogs[waiting.channel].severities[waiting.severity] += 1
            touched[key] = None
        own: list[tuple[str, str]] = []
        for key in touched:
            customer = self.customers[key]
            if customer.listed == UNLISTED:
                self._list(customer)
            if customer.listed == OWN:
                own.append(key)
            else:
                self._backlog_changes.add(key[1])
        for key in sorted(own):
            self._fire(self.customers[key], now, alerts)
        if self._backlog_changes:
            self._fire_backlogs(now, alerts)

    def _list(self, customer: _Customer) -> None:
        """A customer fell overdue: an alert of their own, unless their channel has its limit
        of those or an open backlog alert, which then takes them."""
        channel = customer.key[1]
        limit = self.options.max_customer_alerts
        if channel not in self.backlogs and (limit == 0 or self.own_alerts[channel] < limit):
            customer.listed = OWN
            self.own_alerts[channel] += 1
            return
        backlog = self.backlogs.get(channel)
        if backlog is None:
            backlog = self.backlogs[channel] = _Backlog()
        customer.listed = BACKLOG
        backlog.members[customer.key] = None
        severities = backlog.severities
        for waiting in customer.waiting:
            if waiting.state == OVERDUE:
                severities[waiting.severity] += 1

    def _leave_backlog(self, key: tuple[str, str], customer: _Customer | None, at: datetime,
                       alerts: AlertSink, reason: str | None) -> None:
        """A customer no longer waits past the SLA: out of the backlog, which then fires at the
        next tick, or clears now if they were the last."""
        if customer is not None:
            customer.listed = UNLISTED
        channel = key[1]
        backlog = self.backlogs[channel]
        del backlog.members[key]
        if backlog.members:
            self._backlog_changes.add(channel)
            return
        del self.backlogs[channel]
        self._backlog_changes.discard(channel)
        alerts.clear(subject=self._backlog_subject, channel=channel, at=at, reason=reason)

    def _subject(self, customer: str) -> str:
        return f"{self.options.subject}/customer:{customer}"

    def _fire(self, customer: _Customer, at: datetime, alerts: AlertSink) -> None:
        overdue = sorted((w for w in customer.waiting if w.state == OVERDUE), key=lambda w: w.created)
        oldest = overdue[0]
        severity = self.options.severity or max((w.severity for w in overdue), key=SEVERITIES.index)
        waited = Duration(max(0.0, at.timestamp() - oldest.created))
        who = customer.who
        due_at = format_time(from_timestamp(oldest.due))
        alerts.fire(
            subject=self._subject(oldest.customer),
            channel=oldest.channel,
            at=at,
            severity=severity,  # type: ignore[arg-type]
            summary=(f"{who} has waited {waited} for an answer on {oldest.channel} "
                     f"(first response was due {due_at}): “{oldest.text}”"),
            evidence={
                "customer": oldest.customer,
                "who": who,
                "waiting": len(overdue),
                "observed": str(waited),
                "expected": str(Duration(oldest.due - oldest.created)),
                "window": str(waited),
                "oldest_at": format_time(from_timestamp(oldest.created)),
                "due_at": due_at,
                "overdue_by": str(Duration(max(0.0, at.timestamp() - oldest.due))),
                "text": oldest.text,
            },
            mentions=[w.mention_id for w in overdue[:MAX_MENTION_IDS]],
        )

    # ------------------------------------------------------------------ backlog alerts

    @property
    def _backlog_subject(self) -> str:
        return f"{self.options.subject}/backlog"

    def _fire_backlogs(self, now: datetime, alerts: AlertSink) -> None:
        """Fire the backlog alerts whose customers changed since the last tick: once per tick
        at most, so that a backlog of hundreds answered one by one is not an update each."""
        changes, self._backlog_changes = self._backlog_changes, set()
        for channel in sorted(changes):
            self._fire_backlog(channel, self.backlogs[channel], now, alerts)

    def _fire_backlog(self, channel: str, backlog: _Backlog, at: datetime, alerts: AlertSink) -> None:
        moment = at.timestamp()
        listed = []
        for key in islice(backlog.members, BACKLOG_LISTED):
            customer = self.customers[key]
            first = next(w for w in customer.waiting if w.state == OVERDUE)
            listed.append((customer, first))
        customer, oldest = listed[0]
        count, mentions = len(backlog.members), sum(backlog.severities.values())
        waited = Duration(max(0.0, moment - oldest.created))
        severity = self.options.severity or max(
            (s for s, n in backlog.severities.items() if n > 0), key=SEVERITIES.index, default="medium")
        alerts.fire(
            subject=self._backlog_subject,
            channel=channel,
            at=at,
            severity=severity,  # type: ignore[arg-type]
            summary=(f"{count} customers have waited past their first response on {channel} "
                     f"({mentions} mentions); the longest, {customer.who}, for {waited}: "
                     f"“{oldest.text}”"),
            evidence={
                "customers": count,
                "waiting": mentions,
                "customer_alerts": self.own_alerts[channel],
                "max_customer_alerts": self.options.max_customer_alerts,
                "observed": str(waited),
                "expected": str(Duration(oldest.due - oldest.created)),
                "window": str(waited),
                "oldest_at": format_time(from_timestamp(oldest.created)),
                "due_at": format_time(from_timestamp(oldest.due)),
                "overdue_by": str(Duration(max(0.0, moment - oldest.due))),
                "text": oldest.text,
                "longest_waiting": [
                    {"customer": c.key[0], "who": c.who, "waited": str(Duration(max(0.0, moment - w.created))),
                     "waiting": c.overdue, "text": w.text}
                    for c, w in listed
                ],
            },
            mentions=[w.mention_id for _, w in listed],
        )

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> bytes:
        """The waiting mentions (msgspec structs: encoded at C speed), the overdue ones in the
        order they fell due, who each customer is, the backlogs' members in order (the other
        overdue customers have an alert of their own), and the brand's recent posts. Encoded
        now: the pipeline writes it later, while later ticks change the waiting mentions."""
        return _encode_state(self._state())

    def snapshot_parts(self, complete: bool) -> StateParts:
        """`snapshot`'s state with the waiting and overdue mentions and the customers in
        chunks, of which a checkpoint writes those that changed (decision 0015)."""
        state = self._state()
        sequences = {name: self._memos[name].chunks(state.pop(name), key, _encode_state, complete)
                     for name, key in _CHUNKED.items()}
        return self._parts.snapshot(_encode_state(state), sequences, complete)

    def restore_parts(self, parts: dict[str, bytes]) -> None:
        head, sequences = self._parts.restore(parts)
        state = _decode_state(head)
        for name, chunks in sequences.items():
            state[name] = decoded_chunks(chunks, _decode_state)
        self.restore(state)

    def _state(self) -> dict[str, Any]:
        if len(self.overdue) != self.overdue_count:  # entries of mentions answered meanwhile
            self.overdue = deque(w for w in self.overdue if w.state == OVERDUE)
        return {
            "version": 3,
            "waiting": [w for w in self.pending.values() if w.state == WAITING],
            "overdue": list(self.overdue),
            "who": [c.row for c in self.customers.values()],
            "backlogs": [[channel, [key[0] for key in backlog.members], channel in self._backlog_changes]
                         for channel, backlog in self.backlogs.items()],
            "own": list(self.own_posts),
        }

    def restore(self, state: Any) -> None:
        self._reset()
        if isinstance(state, bytes):
            state = _decode_state(state)
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
        for channel, members, changed in state.get("backlogs", []):
            if changed:
                self._backlog_changes.add(channel)
            backlog = self.backlogs[channel] = _Backlog()
            for customer_id in members:
                customer = self.customers[(customer_id, channel)]
                customer.listed = BACKLOG
                backlog.members[customer.key] = None
                backlog.severities.update(w.severity for w in customer.waiting if w.state == OVERDUE)
        for customer in self.customers.values():
            if customer.overdue and customer.listed == UNLISTED:  # before version 3: all of them
                customer.listed = OWN
                self.own_alerts[customer.key[1]] += 1
        for mention_id in state.get("own", []):
            self.own_posts[mention_id] = None


#: The state's long lists, checkpointed in chunks: each with what names an item (None: itself).
_CHUNKED = {"waiting": attrgetter("mention_id"), "overdue": attrgetter("mention_id"), "who": None}


@hookimpl
def register_triggers(register: Any) -> None:
    register(Unanswered)
