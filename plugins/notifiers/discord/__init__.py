"""Discord notifier: executes a channel webhook with one embed per notification.

The request is ``POST <webhook url>?wait=true`` with ``{"content", "embeds": [{"title",
"description", "color", "fields", "timestamp", "footer"}], "allowed_mentions": {"parse": []}}``,
kept within Discord's embed limits (title 256, description 4096, 25 fields of 256/1024, 6000 in
all). ``allowed_mentions`` is empty, so text from an alert can never ping @everyone or a role.
With ``wait=true`` Discord answers 200 with the created message, so an error is never silent. A
429 carries ``retry_after`` (seconds) in its JSON body and a ``Retry-After`` header; both are
honoured.

Discord cannot de-duplicate (at least once). The webhook URL is the credential: a Secret option.
"""

from __future__ import annotations

from typing import Any, Final

from sentineld import Notification, Options, Secret, hookimpl
from sentineld.model import format_time
from sentineld_plugins.notifiers._format import Message, clip, message_for
from sentineld_plugins.notifiers._http import HttpAnswer, HttpNotifier, classify

__all__ = ["DiscordNotifier", "discord_message"]

CONTENT_LIMIT: Final = 2000
TITLE_LIMIT: Final = 256
DESCRIPTION_LIMIT: Final = 4096
MAX_FIELDS: Final = 25
FIELD_NAME_LIMIT: Final = 256
FIELD_VALUE_LIMIT: Final = 1024
FOOTER_LIMIT: Final = 2048
EMBED_TOTAL_LIMIT: Final = 6000


class DiscordOptions(Options):
    #: The channel webhook URL (https://discord.com/api/webhooks/ID/TOKEN), e.g.
    #: { env = "DISCORD_WEBHOOK_URL" }.
    webhook_url: Secret
    #: The name the messages are posted under (empty: the webhook's own name).
    username: str = ""


def discord_message(message: Message, *, username: str = "") -> dict[str, Any]:
    """The execute-webhook payload for a message."""
    title = clip(message.title, TITLE_LIMIT)
    footer = clip(message.footer, FOOTER_LIMIT)
    budget = EMBED_TOTAL_LIMIT - len(title) - len(footer)
    description = clip(message.summary, min(DESCRIPTION_LIMIT, budget))
    budget -= len(description)
    fields = []
    for name, value in message.facts[:MAX_FIELDS]:
        name = clip(name, FIELD_NAME_LIMIT) or "-"
        value = clip(value, FIELD_VALUE_LIMIT) or "-"
        if len(name) + len(value) > budget:
            break
        budget -= len(name) + len(value)
        fields.append({"name": name, "value": value, "inline": True})
    embed: dict[str, Any] = {"title": title, "color": message.color, "fields": fields}
    if description:
        embed["description"] = description
    if footer:
        embed["footer"] = {"text": footer}
    if message.timestamp is not None:
        embed["timestamp"] = format_time(message.timestamp)
    payload: dict[str, Any] = {
        "content": clip(message.title, CONTENT_LIMIT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }
    if username:
        payload["username"] = username
    return payload


class DiscordNotifier(HttpNotifier):
    type_name = "discord"
    description = "posts alerts to a Discord channel webhook as embeds"
    Options = DiscordOptions
    service = "Discord"

    async def notify(self, notification: Notification) -> None:
        options: DiscordOptions = self.options
        payload = discord_message(message_for(notification), username=options.username)
        await self.post_json(options.webhook_url.reveal(), payload, params={"wait": "true"})

    def check(self, answer: HttpAnswer) -> None:
        retry_after = None
        if answer.status == 429:
            body = answer.json()
            if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
                retry_after = float(body["retry_after"])
        classify(answer, self.service, retry_after=retry_after)


@hookimpl
def register_notifiers(register: Any) -> None:
    register(DiscordNotifier)
