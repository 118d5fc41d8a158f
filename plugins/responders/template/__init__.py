"""template responder: drafts replies from the `[responses]` templates, by situation.

For each opened alert it looks up the template for the alert's kind (`situations`). A template
listed in `statements` (a holding statement) gives one draft for the alert's channel, a public
post that answers nobody in particular. Any other template gives replies: one draft per customer
whose mentions the alert names (the latest mention of each, the brand's own accounts left out),
at most `max_replies`. The responder only *chooses*; the core renders the text in Jinja2's
sandbox with the mention as data and stores the drafts for approval (see `sentineld.responses`).
It never posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from sentineld import Alert, Draft, Mention, Options, Responder, hookimpl
from sentineld.watch import Matcher


def _default_situations() -> dict[str, str]:
    return {
        "unanswered": "acknowledge",
        "influencer_mention": "apologise_private",
        "negativity_spike": "holding_statement",
        "volume_spike": "holding_statement",
        "viral_post": "holding_statement",
    }


class TemplateResponderOptions(Options):
    #: Template to draft for each alert kind; kinds not listed get no draft.
    situations: dict[str, str] = msgspec.field(default_factory=_default_situations)
    #: Templates that are public statements (one draft per alert) rather than replies.
    statements: list[str] = msgspec.field(default_factory=lambda: ["holding_statement"])
    #: Most reply drafts per alert (the most recent customers first).
    max_replies: int = 5
    #: Only draft for these channels (mention sources); empty: all.
    channels: list[str] = []


class TemplateResponder(Responder):
    type_name = "template"
    description = "drafts replies from the [responses] templates, by alert kind, for approval"
    Options = TemplateResponderOptions

    def __init__(self, options: TemplateResponderOptions, context: Any) -> None:
        super().__init__(options, context)
        self.matcher = Matcher(context.watch)

    async def draft(self, alert: Alert, mentions: Sequence[Mention]) -> list[Draft]:
        options = self.options
        template = options.situations.get(alert.kind)
        if template is None:
            return []
        if template in options.statements:
            if options.channels and alert.channel not in options.channels:
                return []
            return [Draft(alert_id=alert.id, mention_id=None, channel=alert.channel, text="", template=template)]
        latest: dict[str, Mention] = {}
        for mention in mentions:
            if self.matcher.is_own_account(mention):
                continue
            if options.channels and mention.source not in options.channels:
                continue
            who = mention.author_key or mention.id
            if who not in latest or mention.timestamp >= latest[who].timestamp:
                latest[who] = mention
        chosen = sorted(latest.values(), key=lambda m: m.timestamp, reverse=True)[: options.max_replies]
        return [
            Draft(alert_id=alert.id, mention_id=m.id, channel=m.source, text="", template=template)
            for m in chosen
        ]


@hookimpl
def register_responders(register: Any) -> None:
    register(TemplateResponder)
