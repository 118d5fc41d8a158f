"""Email notifier: each notification as a multipart/alternative mail (plain text and HTML) over
SMTP, with aiosmtplib.

Every mail of one alert belongs to one thread: the ``opened`` mail's Message-ID is derived from
the alert id and the later ones refer to it (In-Reply-To, References). A mail's Message-ID is
derived from its idempotency key, and the key is also sent as ``X-Sentineld-Key``, so a retried
notification carries the same Message-ID and a mail store that drops duplicate Message-IDs shows
it once; SMTP itself is at least once.

SMTP answers map onto the outbox: 4xx replies, refused or dropped connections and timeouts are
retried; 5xx replies (unknown mailbox, authentication failed, message refused) are permanent.
"""

from __future__ import annotations

import hashlib
import html
from typing import TYPE_CHECKING, Any, Literal

from sentineld import (
    Notification,
    Options,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Secret,
    hookimpl,
)
from sentineld.components import Notifier
from sentineld_plugins.notifiers._format import Message, message_for

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = ["EmailNotifier", "build_email"]


class EmailOptions(Options):
    #: The SMTP server (a relay or the provider's submission server).
    host: str
    #: The sender address (From:), e.g. "sentineld@example.com".
    sender: str
    #: The recipients (To:).
    to: list[str]
    #: 587 for STARTTLS submission, 465 for implicit TLS, 25 for a local relay.
    port: int = 587
    #: "starttls" (upgrade the connection; refuse to send without it), "tls" (implicit TLS) or
    #: "none" (plain text, only for a relay on the same host).
    security: Literal["starttls", "tls", "none"] = "starttls"
    #: The login, if the server wants one.
    username: str = ""
    #: The password, e.g. { env = "SMTP_PASSWORD" }.
    password: Secret | None = None
    #: Put before every subject.
    subject_prefix: str = "[sentineld]"

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("to: give at least one recipient")
        for address in (self.sender, *self.to):
            if "@" not in address:
                raise ValueError(f"{address!r} is not an email address")
        if self.password is not None and not self.username:
            raise ValueError("a password needs a username")


def _domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1].strip(" >") or "sentineld.invalid"


def _message_id(token: str, domain: str) -> str:
    return f"<{hashlib.sha256(token.encode()).hexdigest()[:32]}@{domain}>"


def build_email(notification: Notification, options: EmailOptions) -> EmailMessage:
    """The mail for a notification: headers, a text part and an HTML part."""
    from email.message import EmailMessage
    from email.utils import formatdate

    message = message_for(notification)
    domain = _domain(options.sender)
    mail = EmailMessage()
    mail["Subject"] = f"{options.subject_prefix} {message.title}".strip()
    mail["From"] = options.sender
    mail["To"] = ", ".join(options.to)
    mail["Date"] = formatdate(usegmt=True)
    mail["X-Sentineld-Key"] = notification.key
    mail["X-Sentineld-Event"] = notification.event
    alert = notification.alert
    if alert is not None:
        thread = _message_id(f"alert:{alert.id}", domain)
        if notification.event == "opened":
            mail["Message-ID"] = thread
        else:
            mail["Message-ID"] = _message_id(notification.key, domain)
            mail["In-Reply-To"] = thread
            mail["References"] = thread
        mail["X-Sentineld-Severity"] = alert.severity
    else:
        mail["Message-ID"] = _message_id(notification.key, domain)
    mail.set_content(message.plain)
    mail.add_alternative(_html(message), subtype="html")
    return mail


def _html(message: Message) -> str:
    """A small, self-contained HTML body; every piece of text is escaped."""
    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{e(name)}</th>'
        f"<td>{e(value)}</td></tr>"
        for name, value in message.facts
    )
    summary = f"<p>{e(message.summary)}</p>" if message.summary else ""
    footer = f'<p style="color:#777;font-size:small">{e(message.footer)}</p>' if message.footer else ""
    return (
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">"
        f'<h2 style="border-left:6px solid #{message.color:06x};padding-left:8px">'
        f"{e(message.title)}</h2>{summary}<table>{rows}</table>{footer}</body></html>"
    )


class EmailNotifier(Notifier):
    type_name = "email"
    description = "mails alerts over SMTP (plain text and HTML), threaded per alert"
    Options = EmailOptions

    async def notify(self, notification: Notification) -> None:
        import aiosmtplib

        options: EmailOptions = self.options
        mail = build_email(notification, options)
        where = f"SMTP {options.host}:{options.port}"
        client = aiosmtplib.SMTP(
            hostname=options.host,
            port=options.port,
            use_tls=options.security == "tls",
            start_tls=False,
            timeout=30,
        )
        try:
            async with client:
                if options.security == "starttls":
                    await client.ehlo()
                    if not client.supports_extension("starttls"):
                        raise PermanentDeliveryError(
                            f"{where} does not offer STARTTLS (check `security`)"
                        )
                    await client.starttls()
                if options.username:
                    password = options.password.reveal() if options.password else ""
                    await client.login(options.username, password)
                refused, _ = await client.send_message(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _by_code([r.code for r in exc.recipients], _refusals(exc.recipients)) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code([exc.code], f"{where}: {exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise RetryableDeliveryError(f"{where}: {exc}") from None
        if refused:
            # The others have the mail already: sending again would duplicate it for them.
            self.log.warning("some recipients refused the mail", refused=sorted(refused))


def _refusals(recipients: list[Any]) -> str:
    return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in recipients)


def _by_code(codes: list[int], detail: str) -> Exception:
    """4xx SMTP replies are transient (try again); 5xx are permanent."""
    if any(400 <= code < 500 for code in codes):
        return RetryableDeliveryError(f"SMTP refused for now: {detail}")
    return PermanentDeliveryError(f"SMTP refused: {detail}")


@hookimpl
def register_notifiers(register: Any) -> None:
    register(EmailNotifier)
