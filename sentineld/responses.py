"""Responses (the Transparency "T"): reply templates per situation, rendered safely; drafts
attached to alerts and cases; approval; posting of approved replies.

**Templates.** ``[responses.templates]`` adds to (or replaces) the built-in templates below, one
per situation: ``acknowledge``, ``apologise_private`` (apologise and move to a private channel),
``holding_statement`` (a crisis), ``follow_up``. A template is Jinja2 source written by the
operator; it is rendered in Jinja2's `SandboxedEnvironment` (no attribute access to Python
internals, no file or module access). What a *customer* wrote reaches a template only as a
variable's value (``{{ text }}``), never as template source, so ``{{ 7*7 }}`` or ``{% for %}`` in a
mention is printed as typed. A template's ``html`` form is rendered with autoescaping, so
``<script>`` in a mention becomes ``&lt;script&gt;`` there.

**Drafts.** When an alert opens, each configured responder proposes drafts (the ``template``
responder picks the template for the alert's kind and the mentions to answer); the core renders
the text, stores the draft (its id derives from the responder, the alert, the mention and the
template, so re-processing after a crash stores nothing twice), links it to the mention's case
and tells the notifiers (event ``drafted``). Nothing is posted before a person approves it
(``sentineld approve ID``).

**Posting.** While the daemon runs, approved drafts are handed to the responder that can post on
the draft's channel (``mastodon``, ``bluesky``), which is off unless configured and only logs
what it would post until ``dry_run = false``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Final

import msgspec

from sentineld.components import Draft, PermanentDeliveryError, Responder
from sentineld.logs import get_logger
from sentineld.model import Alert, Mention
from sentineld.options import Duration, Options
from sentineld.store.base import StoreError
from sentineld.store.crm import DraftRecord, short_hash

if TYPE_CHECKING:
    from sentineld.supervisor import Guard

__all__ = [
    "BUILTIN_TEMPLATES",
    "PostingWorker",
    "ResponseDesk",
    "ResponsesOptions",
    "TemplateBook",
    "TemplateSource",
    "draft_variables",
]

log = get_logger("sentineld.responses")

BUILTIN_TEMPLATES: Final[dict[str, str]] = {
    "acknowledge": (
        "Hi {{ author }}, thanks for reaching out to {{ brand }}. We're looking into this now "
        "and will get back to you shortly.{{ signature }}"
    ),
    "apologise_private": (
        "Hi {{ author }}, we're really sorry about this. Please send us a direct message"
        "{% if dm_link %} ({{ dm_link }}){% endif %} with your booking details so we can put it "
        "right privately.{{ signature }}"
    ),
    "holding_statement": (
        "We know some of our customers are having problems with {{ issue }}. Our team is on it "
        "and we will post an update here as soon as we know more. We're sorry for the "
        "trouble.{{ signature }}"
    ),
    "follow_up": (
        "Hi {{ author }}, just following up on your message: is everything sorted now? If not, "
        "reply here and we'll help.{{ signature }}"
    ),
}

#: Variables every template may use (`draft_variables`), besides `[responses] variables`.
TEMPLATE_VARIABLES: Final = frozenset({
    "author", "author_handle", "author_name", "text", "channel", "url", "mention_id",
    "case_id", "alert_kind", "alert_summary", "subject", "severity", "brand", "signature",
    "dm_link", "issue",
})
_DEFAULT_VARIABLES: Final = {"brand": "us", "signature": "", "dm_link": "", "issue": "our service"}


class TemplateSource(Options):
    """A template with a plain-text form (replies, posts) and an optional HTML form (e-mail)."""

    text: str
    html: str = ""


class ResponsesOptions(Options):
    """The ``[responses]`` section."""

    #: Ask the configured responders for drafts when an alert opens.
    enabled: bool = True
    #: Templates by name, added to (or replacing) the built-in ones: a string, or a table with
    #: `text` and `html`.
    templates: dict[str, str | TemplateSource] = {}
    #: Values every template can use: brand, signature, dm_link, issue, or your own names.
    variables: dict[str, str] = {}
    #: Tell the notifiers about each new draft waiting for approval.
    notify_drafts: bool = True
    #: How often the daemon looks for approved drafts to post.
    post_poll: Duration = Duration(2)
    #: Attempts at posting an approved draft before it is marked failed.
    max_attempts: int = 5
    #: Longest reply per channel, in characters; a longer draft is not posted.
    max_length: dict[str, int] = msgspec.field(default_factory=lambda: {"bluesky": 300, "mastodon": 500})

    def __post_init__(self) -> None:
        if self.templates or self.variables:
            TemplateBook(self)  # compile now: a broken template is a config error


class TemplateBook:
    """The templates, compiled once into two sandboxed Jinja2 environments (text and HTML)."""

    def __init__(self, options: ResponsesOptions | None = None) -> None:
        from jinja2 import TemplateSyntaxError, meta
        from jinja2.sandbox import SandboxedEnvironment

        options = options or ResponsesOptions()
        self.variables = {**_DEFAULT_VARIABLES, **options.variables}
        self._text_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
        self._html_env = SandboxedEnvironment(autoescape=True)
        sources: dict[str, TemplateSource] = {
            name: TemplateSource(text=text) for name, text in BUILTIN_TEMPLATES.items()
        }
        for name, value in options.templates.items():
            if isinstance(value, str):
                value = TemplateSource(text=value)
            elif isinstance(value, Mapping):
                value = msgspec.convert(value, TemplateSource)
            sources[name] = value
        allowed = TEMPLATE_VARIABLES | set(self.variables)
        self._text: dict[str, Any] = {}
        self._html: dict[str, Any] = {}
        for name, source in sources.items():
            for form, env, compiled in (("text", self._text_env, self._text), ("html", self._html_env, self._html)):
                body = getattr(source, form)
                if not body:
                    continue
                try:
                    unknown = meta.find_undeclared_variables(env.parse(body)) - allowed
                    compiled[name] = env.from_string(body)
                except TemplateSyntaxError as exc:
                    raise ValueError(f"templates.{name}.{form}: line {exc.lineno}: {exc.message}") from None
                if unknown:
                    raise ValueError(
                        f"templates.{name}.{form}: unknown variable(s) {', '.join(sorted(unknown))}; "
                        f"known: {', '.join(sorted(allowed))}"
                    )

    @property
    def names(self) -> list[str]:
        return sorted(self._text)

    def has_html(self, name: str) -> bool:
        return name in self._html

    def render(self, name: str, variables: Mapping[str, Any], *, html: bool = False) -> str:
        """Render template `name` with `variables` (data, never template source). Raises KeyError
        for an unknown template (or one without an HTML form when `html`)."""
        table = self._html if html else self._text
        if name not in table:
            raise KeyError(f"no {'HTML ' if html else ''}template {name!r}; known: {', '.join(self.names)}")
        return str(table[name].render({**self.variables, **variables})).strip()


def draft_variables(alert: Alert | None, mention: Mention | None, case_id: str | None) -> dict[str, Any]:
    """What a template sees about the alert, the mention it answers and its case."""
    data: dict[str, Any] = {"case_id": case_id or ""}
    if alert is not None:
        data |= {
            "alert_kind": alert.kind, "alert_summary": alert.summary, "subject": alert.subject,
            "severity": alert.severity,
        }
    if mention is not None:
        author = mention.author
        handle = (author.handle or "") if author else ""
        name = (author.name or "") if author else ""
        if mention.source == "email":
            shown = name
        else:
            shown = f"@{handle.lstrip('@')}" if handle else name
        data |= {
            "author": shown or "there", "author_handle": handle, "author_name": name,
            "text": mention.text, "channel": mention.source, "url": mention.url or "",
            "mention_id": mention.id,
        }
    else:
        data |= {"author": "there", "channel": alert.channel if alert else ""}
    return data


def draft_id(responder: str, alert_id: str | None, mention_id: str | None, template: str, channel: str) -> str:
    return "d-" + short_hash(responder, alert_id or "", mention_id or "", template, channel, size=6)


def reply_target(mention: Mention) -> dict[str, Any]:
    """What a posting responder needs to reply to `mention` on its platform."""
    target: dict[str, Any] = {"id": mention.id, "url": mention.url}
    for key in ("cid", "thread_root", "uri"):
        if key in mention.extra:
            target[key] = mention.extra[key]
    if mention.in_reply_to:
        target["in_reply_to"] = mention.in_reply_to
    if mention.author is not None:
        target["author"] = mention.author.handle or mention.author.id
    return target


class ResponseDesk:
    """The pipeline's drafting step: on each opened alert, ask the responders for drafts."""

    def __init__(
        self,
        options: ResponsesOptions | None,
        responders: Sequence[Guard],
        store: Any,
        destinations: Callable[[Alert], list[str]],
    ) -> None:
        self.options = options or ResponsesOptions()
        self.responders = list(responders)
        self.store = store
        self.destinations = destinations
        self._book: TemplateBook | None = None
        self.drafted = 0

    @property
    def book(self) -> TemplateBook:
        if self._book is None:
            self._book = TemplateBook(self.options)
        return self._book

    @property
    def active(self) -> bool:
        return self.options.enabled and bool(self.responders)

    async def on_opened(self, alert: Alert) -> list[str]:
        """Draft replies for a newly opened alert; returns the notifiers woken by new drafts."""
        if not self.active:
            return []
        mentions = [m for m in await self._call("mentions_by_id", list(alert.mentions)) if m is not None]
        records: list[DraftRecord] = []
        for guard in self.responders:
            ok, drafts = await guard.call("draft", alert, mentions, mentions=mentions)
            if not ok or not drafts:
                continue
            for draft in drafts:
                record = await self._record(guard.id, alert, draft, mentions)
                if record is not None:
                    records.append(record)
        if not records:
            return []
        added = set(await self._call("save_drafts", records))
        self.drafted += len(added)
        fresh = [r for r in records if r.id in added]
        if not fresh or not self.options.notify_drafts:
            return []
        deliveries = []
        destinations = self.destinations(alert)
        for record in fresh:
            payload = draft_payload(record)
            deliveries += [(name, f"draft-{record.id}:{name}", payload) for name in destinations]
        if deliveries:
            await self._call("enqueue", deliveries)
        return destinations

    async def _record(self, responder: str, alert: Alert, draft: Draft, mentions: Sequence[Mention]) -> DraftRecord | None:
        mention = next((m for m in mentions if m.id == draft.mention_id), None)
        case_id = await self._call("case_of_mention", draft.mention_id) if draft.mention_id else None
        meta = dict(draft.meta)
        text = draft.text
        if not text and draft.template:
            variables = {**draft_variables(alert, mention, case_id), **meta.pop("vars", {})}
            try:
                text = self.book.render(draft.template, variables)
                if self.book.has_html(draft.template):
                    meta["html"] = self.book.render(draft.template, variables, html=True)
            except Exception as exc:  # noqa: BLE001 - a template that fails to render is logged, not fatal
                log.error("cannot render a draft", responder=responder, template=draft.template,
                          alert=alert.id, error=f"{type(exc).__name__}: {exc}")
                return None
        if not text:
            return None
        if mention is not None and "reply_to" not in meta:
            meta["reply_to"] = reply_target(mention)
        ident = draft_id(responder, draft.alert_id or alert.id, draft.mention_id, draft.template, draft.channel)
        meta["id"] = ident
        return DraftRecord(
            id=ident, created_at=time.time(), state="pending", channel=draft.channel,
            responder=responder, template=draft.template, text=text,
            alert_id=draft.alert_id or alert.id, case_id=case_id, mention_id=draft.mention_id, meta=meta,
        )

    async def _call(self, method: str, *args: Any) -> Any:
        delay = 0.5
        while True:
            try:
                return await self.store.call(method, *args)
            except StoreError as exc:
                log.error("cannot store drafts; retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def draft_payload(record: DraftRecord) -> bytes:
    """The outbox payload telling a notifier about a draft waiting for approval."""
    draft = Draft(
        alert_id=record.alert_id, mention_id=record.mention_id, channel=record.channel,
        text=record.text, template=record.template, meta={"id": record.id, "case": record.case_id},
    )
    return msgspec.json.encode({
        "event": "drafted", "alert": None, "draft": asdict(draft),
        "meta": {"draft_id": record.id, "case_id": record.case_id, "approve": f"sentineld approve {record.id}"},
    })


def as_draft(record: DraftRecord) -> Draft:
    """The `Draft` a responder's `post` receives for an approved record."""
    return Draft(
        alert_id=record.alert_id, mention_id=record.mention_id, channel=record.channel,
        text=record.text, template=record.template,
        meta={**record.meta, "id": record.id, "created_at": record.created_at},
    )


class PostingWorker:
    """Hands approved drafts to the responder that posts on their channel (live daemon only)."""

    def __init__(self, options: ResponsesOptions | None, responders: Sequence[Guard], store: Any) -> None:
        self.options = options or ResponsesOptions()
        self.store = store
        self.posters: dict[str, Guard] = {}
        for guard in responders:
            component = guard.component
            if type(component).post is Responder.post:
                continue
            for channel in getattr(component, "post_channels", ()):
                self.posters.setdefault(channel, guard)
        self.wakeup = asyncio.Event()

    @property
    def active(self) -> bool:
        return bool(self.posters)

    async def run(self) -> None:
        while True:
            try:
                await self.post_approved()
            except StoreError as exc:
                log.error("cannot read approved drafts; retrying", error=str(exc))
            try:
                async with asyncio.timeout(self.options.post_poll):
                    await self.wakeup.wait()
            except TimeoutError:
                pass
            self.wakeup.clear()

    async def post_approved(self) -> int:
        """Post every approved draft once; returns how many were handled. Only drafts on a
        channel some responder posts on are read: approved drafts no responder can post (a
        statement for every channel, an e-mail reply) must not fill the page and starve the
        others."""
        approved: list[DraftRecord] = await self.store.call(
            "drafts", state="approved", channels=sorted(self.posters), limit=100,
        )
        for record in approved:
            await self._post(self.posters[record.channel], record)
        return len(approved)

    async def _post(self, guard: Guard, record: DraftRecord) -> None:
        limit = self.options.max_length.get(record.channel)
        if limit is not None and len(record.text) > limit:
            await self.store.call("draft_result", record.id, "failed",
                                  error=f"too long for {record.channel}: {len(record.text)} > {limit} characters")
            return
        component: Any = guard.component
        try:
            async with asyncio.timeout(guard.spec.timeout):
                remote = await component.post(as_draft(record))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the draft
            permanent = isinstance(exc, PermanentDeliveryError)
            give_up = permanent or record.attempts + 1 >= self.options.max_attempts
            error = f"{type(exc).__name__}: {exc}"
            log.error("posting a reply failed", draft=record.id, responder=guard.id, error=error,
                      final=give_up)
            await self.store.call("draft_result", record.id, "failed" if give_up else "approved", error=error)
            return
        if remote is None and getattr(component.options, "dry_run", False):
            await self.store.call("draft_result", record.id, "dry_run")
            return
        await self.store.call("draft_result", record.id, "posted", remote_id=remote)
        log.info("reply posted", draft=record.id, responder=guard.id, remote_id=remote)

