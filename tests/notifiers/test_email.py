"""The email notifier against aiosmtpd: a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sentineld import PermanentDeliveryError, RetryableDeliveryError
from sentineld.testing import make_alert


class Mailbox:
    """An aiosmtpd handler: keeps what it receives; refuses some recipients like a real MTA."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
        if address.startswith("full@"):
            return "452 4.2.2 Mailbox full, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 Ok: queued"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login, auth_data.password))
            ok = auth_data.password == b"right-password"
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=free_port(),
        authenticator=mailbox.authenticate, auth_require_tls=False,
    )
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def mail_harness(smtp, sentineld_harness, monkeypatch):
    controller, _ = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "right-password")

    def configure(**options: Any):
        base = {"type": "email", "host": "127.0.0.1", "port": controller.port, "security": "none",
                "sender": "sentineld@acme.example", "to": ["care@acme.example", "lead@acme.example"]}
        sentineld_harness.configure(notifiers={"mail": {**base, **options}})
        return sentineld_harness

    return configure


async def test_alert_mail_has_text_and_html_parts(smtp, mail_harness) -> None:
    _, mailbox = smtp
    harness = mail_harness(username="sentineld", password={"env": "SMTP_PASSWORD"})
    alert = make_alert(summary="<script>alert(1)</script> & spike", severity="critical",
                       evidence={"observed": 62})
    notification = await harness.notify("mail", alert)

    [(sender, recipients, message)] = mailbox.messages
    assert sender == "sentineld@acme.example"
    assert recipients == ["care@acme.example", "lead@acme.example"]
    assert mailbox.logins == [(b"sentineld", b"right-password")]
    assert message["Subject"].startswith("[sentineld] 🔴 Volume spike opened")
    assert message["X-Sentineld-Key"] == notification.key
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script> & spike" in text and "Observed: 62" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; spike" in html
    assert "<script>" not in html
    assert "#d32f2f" in html


async def test_mails_of_one_alert_form_a_thread(smtp, mail_harness) -> None:
    _, mailbox = smtp
    harness = mail_harness()
    alert = make_alert()
    await harness.notify("mail", alert, "opened")
    await harness.notify("mail", alert, "resolved")
    await harness.notify("mail", alert, "opened")  # a retry: same Message-ID as the first
    opened, resolved, again = (m for _, _, m in mailbox.messages)
    assert resolved["In-Reply-To"] == resolved["References"] == opened["Message-ID"]
    assert resolved["Message-ID"] != opened["Message-ID"]
    assert again["Message-ID"] == opened["Message-ID"]
    assert opened["Message-ID"].endswith("@acme.example>")


async def test_unknown_recipient_is_permanent(smtp, mail_harness) -> None:
    harness = mail_harness(to=["nobody@example.com"])
    with pytest.raises(PermanentDeliveryError, match="550"):
        await harness.notify("mail", make_alert())


async def test_full_mailbox_is_retried(smtp, mail_harness) -> None:
    harness = mail_harness(to=["full@example.com"])
    with pytest.raises(RetryableDeliveryError, match="452"):
        await harness.notify("mail", make_alert())


async def test_partly_refused_recipients_do_not_resend_to_the_others(smtp, mail_harness) -> None:
    _, mailbox = smtp
    harness = mail_harness(to=["care@acme.example", "nobody@example.com"])
    await harness.notify("mail", make_alert())  # delivered: a retry would duplicate it for care@
    assert [r for _, r, _ in mailbox.messages] == [["care@acme.example"]]


async def test_wrong_password_is_permanent(smtp, mail_harness, monkeypatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    harness = mail_harness(username="sentineld", password={"env": "SMTP_PASSWORD"})
    with pytest.raises(PermanentDeliveryError, match="535"):
        await harness.notify("mail", make_alert())


async def test_missing_starttls_is_a_configuration_error(smtp, mail_harness) -> None:
    harness = mail_harness(security="starttls")
    with pytest.raises(PermanentDeliveryError, match="security"):
        await harness.notify("mail", make_alert())


async def test_server_down_is_retried(mail_harness) -> None:
    harness = mail_harness(port=free_port())
    with pytest.raises(RetryableDeliveryError, match="SMTP"):
        await harness.notify("mail", make_alert())


def test_options_are_checked(sentineld_harness) -> None:
    from sentineld.config import ConfigError

    sentineld_harness.configure(
        notifiers={"mail": {"type": "email", "host": "h", "sender": "nope", "to": []}}
    )
    with pytest.raises(ConfigError, match="notifiers.mail"):
        sentineld_harness.config()
