"""Microsoft Teams notifier: posts an Adaptive Card to a Teams workflow webhook (the Workflows
app's "When a Teams webhook request is received" trigger, which replaced Office 365 connectors).

The request body is a message with one Adaptive Card attachment::

    {"type": "message",
     "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                      "contentUrl": null,
                      "content": {"type": "AdaptiveCard", "version": "1.4", "body": [...]}}]}

The card shows the title, the summary, a FactSet and a subtle footer. The workflow answers 202
Accepted. Teams cannot de-duplicate (at least once). The workflow URL carries its signature, so
it is a Secret option.
"""

from __future__ import annotations

from typing import Any, Final

from sentineld import Notification, Options, Secret, hookimpl
from sentineld_plugins.notifiers._format import Message, message_for
from sentineld_plugins.notifiers._http import HttpNotifier

__all__ = ["TeamsNotifier", "teams_message"]

CARD_CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION: Final = "1.4"
#: Adaptive Card text colours by severity.
SEVERITY_TEXT_COLOR: Final = {
    "critical": "Attention", "high": "Attention", "medium": "Warning", "low": "Accent",
    "info": "Default",
}


class TeamsOptions(Options):
    #: The workflow's HTTP POST URL, e.g. { env = "TEAMS_WORKFLOW_URL" }.
    webhook_url: Secret


def escape_markdown(text: str) -> str:
    """Adaptive Card TextBlocks render a Markdown subset: show alert text literally."""
    for char in "\\*_[]`~#>":
        text = text.replace(char, "\\" + char)
    return text


def teams_message(message: Message, *, resolved: bool = False) -> dict[str, Any]:
    """The workflow-webhook payload for a message."""
    color = "Good" if resolved else SEVERITY_TEXT_COLOR.get(message.severity, "Default")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": escape_markdown(message.title),
            "size": "Large",
            "weight": "Bolder",
            "color": color,
            "wrap": True,
        }
    ]
    if message.summary.strip():
        body.append({"type": "TextBlock", "text": escape_markdown(message.summary), "wrap": True})
    if message.facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": name, "value": escape_markdown(value)} for name, value in message.facts
                ],
            }
        )
    if message.footer:
        body.append(
            {
                "type": "TextBlock",
                "text": escape_markdown(message.footer),
                "isSubtle": True,
                "size": "Small",
                "wrap": True,
            }
        )
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": {
                    "$schema": CARD_SCHEMA,
                    "type": "AdaptiveCard",
                    "version": CARD_VERSION,
                    "body": body,
                    "msteams": {"width": "Full"},
                },
            }
        ],
    }


class TeamsNotifier(HttpNotifier):
    type_name = "teams"
    description = "posts alerts to a Microsoft Teams workflow webhook as Adaptive Cards"
    Options = TeamsOptions
    service = "Teams workflow"

    async def notify(self, notification: Notification) -> None:
        options: TeamsOptions = self.options
        payload = teams_message(message_for(notification), resolved=notification.event == "resolved")
        await self.post_json(options.webhook_url.reveal(), payload)


@hookimpl
def register_notifiers(register: Any) -> None:
    register(TeamsNotifier)
