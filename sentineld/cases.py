"""Cases, the social CRM (the Technology "T"): one case per customer issue, whatever the channel.

**Which mentions make cases.** A customer mention *addressed to the brand*: one from a direct
channel (`direct_sources`, e-mail by default: the brand's mailbox only receives what is written
to it), a reply to a post of one of the brand's own ``[watch] accounts``, or a post that
@-mentions one of them. A reply *from* one of those accounts to a customer's mention joins that
customer's case and marks it responded (a case is opened on the spot when the brand answered
someone who had no case yet: the answer shows that it was a customer issue).

**Who the customer is.** A customer is a set of identities: ``email:jo@example.com``,
``bluesky:did:plc:…`` (with ``bluesky:@jo.bsky.social``), ``mastodon:jo@mastodon.social``. They are
linked explicitly (``[cases] links``, ``sentineld link A B``) or automatically, only where that is
safe (see `claimed_handles` and docs/decisions/0412-safe-identity-links.md): an e-mail whose
sender writes, in the signature or as "I'm @jo.bsky.social", a handle qualified with its
platform, when that handle belongs to nobody yet. A public post naming an address is never
trusted: anyone can type anyone's address.

**States.** new → acknowledged (``sentineld ack``) → responded (the brand's first reply) →
resolved (``sentineld resolve``). A customer who writes again after their case was resolved
opens a new case.

**First-response SLA.** Each addressed customer mention gets a due time from the first `sla`
rule matching its channel and severity (else `first_response`), counted in business hours when
`business_hours` is set (a rule may opt out). The case shows the earliest due time until the
first response. The mention carries it to the triggers in its labels (``addressed``, ``case``,
``customer``, ``sla_due``, ``case_severity``; a brand reply carries ``case`` and ``answers``):
the `unanswered` trigger fires on them in event time.

**Exactly once.** Every change is derived from one mention and keyed by its id
(``case_mentions.mention_id``), and a batch's changes are one transaction. A mention re-fed after
a crash finds its row and only gets its labels back, so cases never count a mention twice.

**Cost.** A batch reads what it needs with one query per table and writes with ``executemany``
(`CrmTables`); mentions that are neither addressed to the brand nor replies never reach the
store. Customer and case ids sort by the minute they were made, so new rows are appended to
their indexes (docs/decisions/0416 and 0417).

**Resolved by hand.** `sentineld resolve` records the resolution in the store; the daemon reads
it (`Resolutions`) and tells the triggers that wait for answers, so the case's ``unanswered``
alert resolves (docs/decisions/0418).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import re
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

import msgspec

from sentineld.hours import WeeklyHours
from sentineld.logs import get_logger
from sentineld.model import Mention, Severity
from sentineld.options import Duration, Options
from sentineld.store.base import StoreError
from sentineld.store.crm import CaseMention, CaseRecord, CrmTables, more_severe, ordered_id
from sentineld.watch import Matcher

__all__ = [
    "Addressing",
    "CaseBook",
    "CaseStep",
    "CasesOptions",
    "Resolutions",
    "SlaPolicy",
    "SlaRule",
    "claimed_handles",
    "identity_keys",
]

log = get_logger("sentineld.cases")

#: Labels the case step sets on mentions (the unanswered trigger reads them).
LABEL_ADDRESSED: Final = "addressed"
LABEL_CASE: Final = "case"
LABEL_CUSTOMER: Final = "customer"
LABEL_DUE: Final = "sla_due"
LABEL_SEVERITY: Final = "case_severity"
LABEL_ANSWERS: Final = "answers"
LABEL_ANSWERS_AT: Final = "answers_at"
TITLE_LENGTH: Final = 120

# What a mention of a batch is to the cases (`CaseBook._plan`).
_KNOWN: Final = "known"  # already in a case: re-fed after a crash, it only gets its labels back
_BRAND: Final = "brand"  # a reply from the brand's own accounts
_CUSTOMER: Final = "customer"  # a customer's mention addressed to the brand
_NONE: Final = "none"


# --------------------------------------------------------------------------- configuration


class SlaRule(Options):
    """A first-response target for mentions of some channels and severities."""

    #: How long the brand has to answer.
    first_response: Duration
    #: Mention sources (channels) the rule applies to; empty: all.
    channels: list[str] = []
    #: Severities the rule applies to; empty: all.
    severities: list[Severity] = []
    #: Count only business hours (`[cases] business_hours`); unset: whenever those are set.
    business_hours: bool | None = None


class CasesOptions(Options):
    """The ``[cases]`` section."""

    #: Keep cases (and label addressed mentions for the unanswered trigger).
    enabled: bool = True
    #: First-response target when no `sla` rule matches.
    first_response: Duration = Duration(3600)
    #: First-response targets by channel and severity; the first match wins.
    sla: list[SlaRule] = []
    #: Business hours the SLA clock runs in (unset: around the clock).
    business_hours: WeeklyHours | None = None
    #: Sources whose every mention is addressed to the brand (its own inboxes).
    direct_sources: list[str] = msgspec.field(default_factory=lambda: ["email"])
    #: Identities that are one customer, each group a list of keys such as
    #: ["email:jo@example.com", "bluesky:@jo.bsky.social"].
    links: list[list[str]] = []
    #: Link an e-mail's sender to a platform handle the e-mail names as the sender's own.
    auto_link: bool = True
    #: Severity of a customer mention…
    severity: Severity = "medium"
    #: …of a negative one (labels["sentiment"] == "negative")…
    negative_severity: Severity = "high"
    #: …and of one whose author's connector, maven or influence score reaches `influencer_score`.
    influencer_severity: Severity = "critical"
    influencer_score: float = 0.8

    def __post_init__(self) -> None:
        for index, group in enumerate(self.links):
            if len(group) < 2:
                raise ValueError(f"links[{index}]: a link names at least two identities")
            for key in group:
                check_identity_key(key)


def check_identity_key(key: str) -> str:
    """Raise ValueError unless `key` looks like ``source:id`` (``email:jo@example.com``)."""
    source, sep, rest = key.partition(":")
    if not sep or not source or not rest or " " in key:
        raise ValueError(
            f"identity {key!r} is not SOURCE:ID, e.g. email:jo@example.com, "
            "bluesky:@jo.bsky.social, mastodon:jo@mastodon.social"
        )
    return normalize_key(key)


def normalize_key(key: str) -> str:
    """Handles and addresses compare without case; platform ids (DIDs) are kept as written."""
    source, _, rest = key.partition(":")
    return _source_key(source, rest)


# --------------------------------------------------------------------------- who is addressed


def _account_pattern(accounts: Iterable[str]) -> re.Pattern[str] | None:
    names = sorted({a.strip().lstrip("@").lower() for a in accounts if a.strip().lstrip("@")}, key=len,
                   reverse=True)
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in names)
    # "@" first, then whether the character before it may start a handle: with the literal first,
    # the search skips ahead to each "@" instead of trying the look-behind at every position.
    return re.compile(rf"@(?<![\w@.]@)(?:{alternatives})(?![\w]|\.\w|@\w)", re.IGNORECASE)


class Addressing:
    """Decides whether a mention is written *to* the brand (see the module docstring)."""

    def __init__(self, matcher: Matcher, direct_sources: Sequence[str]) -> None:
        self.matcher = matcher
        self.direct = frozenset(direct_sources)
        self._accounts = _account_pattern(matcher.watch.accounts)
        self._own = frozenset(a.strip().lower().lstrip("@") for a in matcher.watch.accounts if a.strip())
        #: The accounts written as a source-qualified key: an author key ("source:id") can only
        #: be one of these, and is not looked at when there are none (the usual case).
        self._own_keys = frozenset(a for a in self._own if ":" in a)
        #: Where `names_own` keeps its answer in a mention's ``__dict__``: one name per set of
        #: accounts, so that the case step, the case book and `unanswered` search a text once.
        self._names_own_key = f"names own account {self._accounts.pattern if self._accounts else ''}"

    def is_own(self, mention: Mention) -> bool:
        """`Matcher.is_own_account`, with the accounts normalised once (it runs per mention)."""
        author = mention.author
        own = self._own
        if author is None or not own:
            return False
        handle, ident = author.handle, author.id
        if (handle and handle.lower().lstrip("@") in own) or (ident and ident.lower().lstrip("@") in own):
            return True
        if not self._own_keys:
            return False
        key = mention.author_key
        return key is not None and key.lower() in self._own_keys

    def names_own_account(self, text: str) -> bool:
        return self._accounts is not None and self._accounts.search(text) is not None

    def names_own(self, mention: Mention) -> bool:
        """`names_own_account(mention.text)`, searched once per mention: kept in the mention's
        ``__dict__`` as `Mention.author_key` is (a mention's text is not changed in place)."""
        memo = mention.__dict__
        found = memo.get(self._names_own_key)
        if found is None:
            found = memo[self._names_own_key] = (self._accounts is not None
                                                 and self._accounts.search(mention.text) is not None)
        return found

    def addressed(self, mention: Mention, *, replies_to_own: bool) -> bool:
        """True for a customer's mention written to the brand (never for the brand's own)."""
        if self.is_own(mention):
            return False
        return mention.source in self.direct or replies_to_own or self.names_own(mention)


# --------------------------------------------------------------------------- identities


def identity_keys(mention: Mention) -> list[str]:
    """The identities a mention's author is known by: ``source:author id`` first, then
    ``source:@handle`` when the handle is another name for the same account (Bluesky's domain
    handles). A local alias of a qualified id (Mastodon's ``jo`` for ``jo@host``) is left out:
    it is not unique across instances."""
    author = mention.author
    if author is None:
        return []
    source = mention.source
    ident = author.id
    handle = (author.handle or "").strip().lstrip("@")
    if not ident:
        return [_source_key(source, f"@{handle}")] if handle else []
    if handle and handle.lower() != ident.lower() and not ("@" in ident and "@" not in handle):
        return [_source_key(source, ident), _source_key(source, f"@{handle}")]
    return [_source_key(source, ident)]


def _source_key(source: str, rest: str) -> str:
    """The key of `rest` on `source` as `normalize_key` gives it, from its two halves (identity
    keys are built from them for every addressed mention: no key built to be split again)."""
    if ":" in source:  # the key's first colon is in the source name: split where it would be
        source, _, head = source.partition(":")
        rest = f"{head}:{rest}"
    if source == "email" or rest.startswith("@") or source == "mastodon":
        return f"{source}:{rest.lower()}"
    return f"{source}:{rest}"


_FEDIVERSE: Final = re.compile(r"(?<![\w@.])@([a-z0-9_]{1,64})@([a-z0-9-]+(?:\.[a-z0-9-]+)+)\b", re.I)
_DOMAIN_HANDLE: Final = re.compile(r"(?<![\w@.])@((?:[a-z0-9-]+\.)+[a-z]{2,})(?![\w@.-])", re.I)
_BSKY_PROFILE: Final = re.compile(r"\bbsky\.app/profile/((?:[a-z0-9-]+\.)+[a-z]{2,})\b", re.I)
_SELF: Final = re.compile(
    r"(?:\b(?:i'm|i’m|i am) on \w+ as|\bi am|\bi'm|\bi’m|\bmy (?:\w+ ){0,2}(?:handle|account|username|profile)"
    r"(?: is)?|\b(?:find|follow) me(?: on \w+)?(?: at)?|\bme on \w+(?: at)?|\bi post as)\s*:?\s*$",
    re.I,
)
SIGNATURE_LINES: Final = 5
#: A line that is only a handle, perhaps after a short label ("Bluesky: @jo.bsky.social").
_HANDLE_LINE: Final = re.compile(r"^\s*(?:[\w .]{0,24}[:–—-]\s*)?(?P<handle>\S+)\s*$")


def claimed_handles(text: str) -> list[str]:
    """Platform handles an e-mail's sender gives as their own, as identity keys.

    Only handles qualified with their platform count (``@jo.bsky.social``, a Bluesky domain
    handle, or ``bsky.app/profile/…``; ``@jo@mastodon.social``, a fediverse address): a bare
    ``@jo`` says nothing about where. And only where the sender speaks of themself: anywhere in
    a signature block (after a ``--`` line), on a line of its own near the end ("Bluesky:
    @jo.bsky.social"), or right after "I'm", "my handle is", "find me", "me on". A handle merely
    talked about ("your agent @bob.bsky.social was rude") is not the sender's.
    """
    lines = text.splitlines()
    delimiter = next((i for i, line in enumerate(lines) if line.strip() in ("--", "—")), len(lines))
    non_empty = [i for i, line in enumerate(lines) if line.strip()]
    tail = set(non_empty[-SIGNATURE_LINES:])
    found: list[str] = []
    for index, line in enumerate(lines):
        whole_line = _HANDLE_LINE.match(line)
        for kind, pattern in (("mastodon", _FEDIVERSE), ("bluesky", _DOMAIN_HANDLE), ("bluesky", _BSKY_PROFILE)):
            for match in pattern.finditer(line):
                own_line = (
                    whole_line is not None and index in tail
                    and whole_line.start("handle") <= match.start() and match.end() >= whole_line.end("handle") - 1
                )
                if not (index > delimiter or own_line or _SELF.search(line[: match.start()])):
                    continue
                if kind == "mastodon":
                    key = f"mastodon:{match.group(1)}@{match.group(2)}"
                elif _FEDIVERSE.match(line, match.start()):
                    continue
                else:
                    key = f"bluesky:@{match.group(1)}"
                key = normalize_key(key)
                if key not in found:
                    found.append(key)
    return found


# --------------------------------------------------------------------------- first-response SLA


class SlaPolicy:
    """Due times for first responses, from `[cases]` (or a trigger's own rules)."""

    def __init__(
        self, first_response: float, rules: Sequence[SlaRule] = (), hours: WeeklyHours | None = None
    ) -> None:
        self.first_response = first_response
        self.rules = list(rules)
        self.hours = hours

    def rule_for(self, channel: str, severity: str) -> tuple[float, bool]:
        for rule in self.rules:
            if rule.channels and channel not in rule.channels:
                continue
            if rule.severities and severity not in rule.severities:
                continue
            return rule.first_response, rule.business_hours is not False
        return self.first_response, True

    def due(self, created: float, channel: str, severity: str) -> float:
        seconds, business = self.rule_for(channel, severity)
        if business and self.hours is not None:
            return self.hours.deadline(created, seconds)
        return created + seconds


def mention_severity(mention: Mention, options: CasesOptions) -> str:
    severity = options.severity
    if mention.labels.get("sentiment") == "negative":
        severity = more_severe(severity, options.negative_severity)
    scores = mention.scores
    if scores and max(scores.get("connector", 0.0), scores.get("maven", 0.0),
                      scores.get("influence", 0.0)) >= options.influencer_score:
        severity = more_severe(severity, options.influencer_severity)
    return severity


# --------------------------------------------------------------------------- the case book


def _title(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_LENGTH else flat[: TITLE_LENGTH - 1].rstrip() + "…"


def label_time(seconds: float) -> str:
    """`format_time(from_timestamp(seconds))`, the text of a label's time (one or two per
    addressed mention), without a datetime each time: the text up to the minute is kept for
    the minutes asked last, which a stream's times, coming in order, mostly share. The
    microseconds are rounded as `datetime.fromtimestamp` rounds them (half to even)."""
    fraction, whole = math.modf(seconds)
    micro = round(fraction * 1_000_000)
    if micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1.0
    elif micro < 0:
        micro += 1_000_000
        whole -= 1.0
    minute, second = divmod(int(whole), 60)
    prefix = _minute_text(minute)
    if micro:
        return f"{prefix}{second:02d}.{micro:06d}Z"
    return f"{prefix}{second:02d}Z"


@lru_cache(maxsize=256)
def _minute_text(minute: int) -> str:
    """``YYYY-MM-DDTHH:MM:`` of a minute since the epoch."""
    return datetime.fromtimestamp(minute * 60, UTC).isoformat()[:17]


def _display_name(mention: Mention) -> str:
    author = mention.author
    if author is None:
        return ""
    return author.handle or author.name or author.id or ""


class CaseBook:
    """The case logic, run by the store inside one transaction per batch (`crm_apply`)."""

    def __init__(self, options: CasesOptions, matcher: Matcher) -> None:
        self.options = options
        self.addressing = Addressing(matcher, options.direct_sources)
        self.sla = SlaPolicy(options.first_response, options.sla, options.business_hours)

    # ------------------------------------------------------------------ a batch

    def apply(self, tables: CrmTables, mentions: Sequence[Mention]) -> list[dict[str, str] | None]:
        """Labels for each mention (None: not a case matter), after updating the cases."""
        results: list[dict[str, str] | None] = []
        roles, keys, claims = self._plan(tables, mentions)
        for mention, role, own_keys, claimed in zip(mentions, roles, keys, claims, strict=True):
            if role == _KNOWN:
                results.append(self._known_labels(tables, tables.case_mention(mention.id)))  # type: ignore[arg-type]
            elif role == _BRAND:
                results.append(self._brand_reply(tables, mention))
            elif role == _CUSTOMER:
                results.append(self._customer_mention(tables, mention, own_keys, claimed))
            else:
                results.append(None)
        return results

    def _plan(
        self, tables: CrmTables, mentions: Sequence[Mention]
    ) -> tuple[list[str], list[list[str]], list[list[str]]]:
        """What each mention is to the cases, its author's identity keys and the handles an
        e-mail claims (`claimed_handles`, for `_auto_link`), with what the batch will read
        loaded at once (one query per table). Whether a mention is addressed
        does not depend on the mentions before it in the batch (a reply's target is stored
        before the case step runs), so it is decided here, once."""
        targets = [m.in_reply_to for m in mentions if m.in_reply_to]
        seen = tables.known_mentions([m.id for m in mentions])
        tables.load_case_mentions(targets)
        tables.load_mentions([t for t in targets if tables.cached_case_mention(t) is None])
        roles: list[str] = []
        authors: list[list[str]] = []
        claims: list[list[str]] = []
        keys: list[str] = []
        case_ids: list[str] = []
        addressing = self.addressing
        direct = addressing.direct
        no_keys: list[str] = []  # shared, never changed
        for mention in mentions:
            own_keys = claimed = no_keys
            if mention.id in seen:
                roles.append(_KNOWN)
                case_ids.append(tables.case_mention(mention.id).case_id)  # type: ignore[union-attr]
            elif addressing.is_own(mention):
                if not mention.in_reply_to:
                    roles.append(_NONE)
                else:
                    roles.append(_BRAND)
                    target = tables.cached_case_mention(mention.in_reply_to)
                    stored = tables.cached_mention(mention.in_reply_to)
                    if target is not None:
                        case_ids.append(target.case_id)
                    elif stored is not None:
                        keys += identity_keys(stored)
            elif (mention.source in direct or (mention.in_reply_to and self._replies_to_own(tables, mention))
                  or addressing.names_own(mention)):
                roles.append(_CUSTOMER)
                own_keys = identity_keys(mention)
                keys += own_keys
                if mention.source in direct and self.options.auto_link:
                    claimed = claimed_handles(mention.text)
                    keys += claimed
            else:
                roles.append(_NONE)
            authors.append(own_keys)
            claims.append(claimed)
        tables.load_identities(keys)
        tables.load_cases(case_ids, tables.cached_customers(keys))
        return roles, authors, claims

    def _known_labels(self, tables: CrmTables, item: CaseMention) -> dict[str, str]:
        """The labels a mention got the first time (it is re-fed after a crash)."""
        labels = self._labels(item)
        case = tables.case(item.case_id)
        if case is not None:
            labels[LABEL_CUSTOMER] = case.customer
        if item.answers:
            target = tables.case_mention(item.answers)
            if target is not None:
                labels[LABEL_ANSWERS_AT] = label_time(target.created_at)
        return labels

    @staticmethod
    def _labels(item: CaseMention) -> dict[str, str]:
        if item.role == "brand":
            labels = {LABEL_CASE: item.case_id}
            if item.answers:
                labels[LABEL_ANSWERS] = item.answers
            return labels
        labels = {LABEL_ADDRESSED: "yes", LABEL_CASE: item.case_id}
        if item.due_at is not None:
            labels[LABEL_DUE] = label_time(item.due_at)
        if item.severity:
            labels[LABEL_SEVERITY] = item.severity
        return labels

    def _replies_to_own(self, tables: CrmTables, mention: Mention) -> bool:
        if not mention.in_reply_to:
            return False
        known = tables.case_mention(mention.in_reply_to)
        if known is not None:
            return known.role == "brand"
        target = tables.mention(mention.in_reply_to)
        return target is not None and self.addressing.is_own(target)

    def _customer_mention(
        self, tables: CrmTables, mention: Mention, keys: list[str], claimed: list[str]
    ) -> dict[str, str] | None:
        """A customer's mention addressed to the brand (`keys`: its author's identities;
        `claimed`: the handles it claims, to link when auto_link is on): into their case."""
        customer = self._customer(tables, mention, keys)
        if customer is None:
            return None
        if claimed:
            self._auto_link(tables, mention, customer, claimed)
        item = self._attach(tables, customer, mention)
        labels = self._labels(item)
        labels[LABEL_CUSTOMER] = customer
        return labels

    def _attach(self, tables: CrmTables, customer: str, mention: Mention) -> CaseMention:
        """Put a customer's addressed mention into their open case (opening one if needed)."""
        moment = mention.timestamp
        severity = mention_severity(mention, self.options)
        due = self.sla.due(moment, mention.source, severity)
        case = tables.open_case(customer)
        if case is None:
            case = CaseRecord(
                id=ordered_id("c-", moment, customer, mention.id, size=5),
                customer=customer, state="new", severity=severity, opened_at=moment,
                updated_at=moment, sla_due_at=due, customer_name=_display_name(mention),
                channels=[mention.source], title=_title(mention.text),
            )
        else:
            case.severity = more_severe(case.severity, severity)
            if case.first_response_at is None:
                case.sla_due_at = due if case.sla_due_at is None else min(case.sla_due_at, due)
            if mention.source not in case.channels:
                case.channels.append(mention.source)
            case.updated_at = max(case.updated_at, moment)
        item = CaseMention(
            mention_id=mention.id, case_id=case.id, role="customer", channel=mention.source,
            created_at=moment, due_at=due, severity=severity,
        )
        tables.add_case_mention(item)
        tables.save_case(case)
        return item

    def _brand_reply(self, tables: CrmTables, mention: Mention) -> dict[str, str] | None:
        """The brand answered `mention.in_reply_to`: join that case and mark it responded."""
        assert mention.in_reply_to is not None
        target_id = mention.in_reply_to
        target = tables.case_mention(target_id)
        if target is None:
            stored = tables.mention(target_id)
            if stored is None or self.addressing.is_own(stored):
                return None
            customer = self._customer(tables, stored)
            if customer is None:
                return None
            target = self._attach(tables, customer, stored)
        case = tables.case(target.case_id)
        if case is None:
            return None
        moment = mention.timestamp
        answers = target.mention_id if target.role == "customer" else None
        tables.add_case_mention(CaseMention(
            mention_id=mention.id, case_id=case.id, role="brand", channel=mention.source,
            created_at=moment, answers=answers,
        ))
        if answers is not None:
            tables.answer(case.id, target.channel, target.created_at, mention.id)
            if case.first_response_at is None or moment < case.first_response_at:
                case.first_response_at = moment
            if case.state in ("new", "acknowledged"):
                case.state = "responded"
        case.updated_at = max(case.updated_at, moment)
        tables.save_case(case)
        labels = {LABEL_CASE: case.id, LABEL_CUSTOMER: case.customer}
        if answers is not None:
            labels[LABEL_ANSWERS] = answers
            labels[LABEL_ANSWERS_AT] = label_time(target.created_at)
        return labels

    # ------------------------------------------------------------------ identities

    def _customer(self, tables: CrmTables, mention: Mention, keys: list[str] | None = None) -> str | None:
        """The customer the mention's author is (created on first sight). Keys of the same
        account (a DID and its handle) that name different customers make them one."""
        if keys is None:
            keys = identity_keys(mention)
        if not keys:
            return None
        moment = mention.timestamp
        known = tables.customers_of(keys)
        customers = set(known.values())
        if not customers:
            customer = ordered_id("cu-", moment, keys[0], size=6)
            tables.add_customer(customer, _display_name(mention), moment)
        elif len(customers) == 1:
            customer = customers.pop()
        else:
            customer = tables.merge_customers(customers)
            log.info("one account under two customers: merged", keys=keys, customer=customer)
        author_key = mention.author_key
        for index, key in enumerate(keys):
            own_key = author_key if index == 0 else None
            if key not in known:
                tables.add_identity(key, customer, own_key, "seen", moment)
            elif own_key:
                tables.set_author_key(key, own_key)
        return customer

    def _auto_link(self, tables: CrmTables, mention: Mention, customer: str, claimed: list[str]) -> None:
        for key in claimed:
            if self._is_own_key(key):
                continue
            holder = tables.customers_of([key]).get(key)
            if holder is None:
                tables.add_identity(key, customer, None, f"auto:{mention.id}", mention.timestamp)
                log.info("identity linked from an e-mail", customer=customer, identity=key, mention=mention.id)
            elif holder != customer:
                log.info("e-mail names a handle that is another customer's; not linked (use sentineld link)",
                         customer=customer, identity=key, holder=holder, mention=mention.id)

    def _is_own_key(self, key: str) -> bool:
        handle = key.partition(":")[2].lstrip("@").lower()
        accounts = {a.strip().lstrip("@").lower() for a in self.addressing.matcher.watch.accounts}
        return handle in accounts

    def link(self, tables: CrmTables, keys: Sequence[str], origin: str) -> str:
        """Make the identities `keys` one customer (explicit links: config, CLI, API)."""
        normalized = [check_identity_key(k) for k in keys]
        now = time.time()
        known = tables.customers_of(normalized)
        customers = set(known.values())
        if not customers:
            customer = ordered_id("cu-", now, normalized[0], size=6)
            tables.add_customer(customer, normalized[0].partition(":")[2], now)
        elif len(customers) == 1:
            customer = next(iter(customers))
        else:
            customer = tables.merge_customers(customers)
        for key in normalized:
            if key not in known:
                author_key = key if not key.partition(":")[2].startswith("@") else None
                tables.add_identity(key, customer, author_key, origin, now)
        return customer


# --------------------------------------------------------------------------- the pipeline step


class CaseStep:
    """The pipeline's case step: after scoring, each batch updates the cases (one store
    transaction) and its mentions get the case labels the triggers read."""

    def __init__(self, options: CasesOptions | None, matcher: Matcher, store: Any) -> None:
        self.options = options or CasesOptions()
        self.book = CaseBook(self.options, matcher)
        self.store = store
        self.enabled = self.options.enabled

    async def start(self) -> None:
        """Apply the configured links (idempotent)."""
        if not self.enabled:
            return
        for group in self.options.links:
            await self._retrying("crm_link", self.book, group, "config")

    async def after_scoring(self, batch: Sequence[tuple[int, Mention]]) -> None:
        if not self.enabled:
            return
        # Replies, direct channels and mentions naming the brand's accounts: the rest cannot
        # make or join a case (this runs for every mention of the stream).
        direct, names_own = self.book.addressing.direct, self.book.addressing.names_own
        mentions = [m for _, m in batch if m.in_reply_to or m.source in direct or names_own(m)]
        if not mentions:
            return
        results = await self._retrying("crm_apply", self.book, mentions)
        for mention, labels in zip(mentions, results, strict=True):
            if labels:
                mention.labels.update(labels)

    async def _retrying(self, method: str, *args: Any) -> Any:
        delay = 0.5
        while True:
            try:
                return await self.store.call(method, *args)
            except StoreError as exc:
                log.error("cannot update cases; retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)



# --------------------------------------------------------------------------- resolved by hand


class Resolutions:
    """Cases resolved by hand (`sentineld resolve`), on their way to the triggers that wait for
    an answer (they define ``async settle(mention_ids, at, alerts)``, as `unanswered` does).

    The store numbers each resolution in commit order. The daemon reads the new ones now and
    then (`poll`) and hands each over at the first clock tick at or after the moment it was
    made (`due`): a person's action counts in event time from when it happened, as an alert
    acknowledgement does, so the unanswered alert resolves in order with the mentions around
    it. What was read and what still waits for its tick are checkpointed with the stream
    position (`snapshot`), so a restart neither loses nor repeats one.
    """

    def __init__(self, store: Any, interval: float) -> None:
        self.store = store
        self.interval = interval
        #: the number of the last resolution read
        self.after = 0
        #: (when, number, customer mention ids), earliest first
        self.waiting: list[tuple[float, int, list[str]]] = []
        self._next_poll = 0.0

    async def poll(self) -> None:
        """Read the resolutions made since the last read (at most every `interval` seconds)."""
        if time.monotonic() < self._next_poll:
            return
        self._next_poll = time.monotonic() + self.interval
        try:
            rows = await self.store.call("case_resolutions", self.after)
        except StoreError as exc:
            log.error("cannot read resolved cases; trying again later", error=str(exc))
            return
        for seq, _case_id, at, mention_ids in rows:
            heapq.heappush(self.waiting, (at, seq, mention_ids))
            self.after = max(self.after, seq)

    def due(self, now: float) -> list[list[str]]:
        """The mention ids of each resolution made at or before `now`, oldest first."""
        settled = []
        while self.waiting and self.waiting[0][0] <= now:
            settled.append(heapq.heappop(self.waiting)[2])
        return settled

    def snapshot(self) -> Any:
        return {"after": self.after, "waiting": [list(item) for item in self.waiting]}

    def restore(self, state: Any) -> None:
        self.after = state.get("after", 0) if state else 0
        self.waiting = [(at, seq, list(ids)) for at, seq, ids in (state or {}).get("waiting", [])]
        heapq.heapify(self.waiting)
