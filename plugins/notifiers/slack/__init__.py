"""Slack notifier: posts each notification to an incoming webhook as a Block Kit message.

The message is ``{"text": <fallback>, "blocks": [header, section (summary), section (fields),
context]}``, kept within Block Kit's limits (header 150 characters, 10 fields of at most 2000,
section text 3000) so Slack never answers ``invalid_blocks``. Text from alerts is escaped for
mrkdwn (``&``, ``<``, ``>``), so a summary cannot ping ``<!channel>`` or forge a link.

Slack cannot de-duplicate: a notification retried after a lost answer may appear twice (at least
once). The incoming-webhook URL is the credential, so it is a Secret option.
"""

from __future__ import annotations

from typing import Any, Final

from sentineld import Notification, Options, Secret, hookimpl
from sentineld_plugins.notifiers._format import Message, clip, message_for
from sentineld_plugins.notifiers._http import HttpNotifier

__all__ = ["SlackNotifier", "slack_message"]

HEADER_LIMIT: Final = 150
SECTION_TEXT_LIMIT: Final = 3000
FIELD_LIMIT: Final = 2000
MAX_FIELDS: Final = 10
FALLBACK_LIMIT: Final = 3000


class SlackOptions(Options):
    #: The incoming-webhook URL (https://hooks.slack.com/services/…), e.g.
    #: { env = "SLACK_WEBHOOK_URL" }: whoever has it can post to the channel.
    webhook_url: Secret
    #: Put before the fallback text for critical alerts, e.g. "<!here>" (empty: nobody is pinged).
    mention_on_critical: str = ""


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(message: Message, *, mention: str = "") -> dict[str, Any]:
    """The incoming-webhook payload for a message."""
    fallback = message.title + (f": {message.summary}" if message.summary else "")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": clip(message.title, HEADER_LIMIT), "emoji": True},
        }
    ]
    if message.summary.strip():
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": clip(escape_mrkdwn(message.summary), SECTION_TEXT_LIMIT),
                },
            }
        )
    if message.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": clip(f"*{escape_mrkdwn(name)}*\n{escape_mrkdwn(value)}", FIELD_LIMIT),
                    }
                    for name, value in message.facts[:MAX_FIELDS]
                ],
            }
        )
    if message.footer:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": clip(escape_mrkdwn(message.footer), 3000)}],
            }
        )
    text = escape_mrkdwn(fallback)
    if mention:
        text = f"{mention} {text}"
    return {"text": clip(text, FALLBACK_LIMIT), "blocks": blocks}


class SlackNotifier(HttpNotifier):
    type_name = "slack"
    description = "posts alerts to a Slack incoming webhook as Block Kit messages"
    Options = SlackOptions
    service = "Slack"

    async def notify(self, notification: Notification) -> None:
        options: SlackOptions = self.options
        message = message_for(notification)
        critical = notification.alert is not None and notification.alert.severity == "critical"
        mention = options.mention_on_critical if critical and notification.event != "resolved" else ""
        await self.post_json(options.webhook_url.reveal(), slack_message(message, mention=mention))


@hookimpl
def register_notifiers(register: Any) -> None:
    register(SlackNotifier)
