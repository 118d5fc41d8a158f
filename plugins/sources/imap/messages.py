"""From an RFC 5322 message (as an IMAP server returns it) to a Mention."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

from sentineld.html_text import html_to_text
from sentineld.model import Author, Mention
from sentineld.sources_http import plausible_time

_MSG_ID = re.compile(r"<([^<>\s]+)>")
_QUOTED = re.compile(r"^[ \t]*>")


class MessageError(ValueError):
    """A message that cannot become a mention: the reason says why."""


def message_id(raw_header: str | None) -> str | None:
    """``<abc@host>`` → ``abc@host`` (the first id of the header)."""
    if not raw_header:
        return None
    match = _MSG_ID.search(raw_header)
    if match:
        return match.group(1)
    text = raw_header.strip()
    return text or None


def mention_id(msg_id: str) -> str:
    return f"email:{msg_id}"


def _header(message: EmailMessage, name: str) -> str | None:
    """A header as text; a header the parser chokes on is read raw instead."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    return None if value is None else _unescape(str(value))


def _unescape(text: str) -> str:
    """Header text without the parser's surrogate escapes of raw 8-bit bytes (RFC 6532 UTF-8
    headers, or a legacy charset): the bytes read as UTF-8, the undecodable ones as U+FFFD. A
    lone surrogate cannot be stored or sent as JSON."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _sender(message: EmailMessage) -> tuple[str | None, str | None]:
    """(address lowercased, display name) of the From header."""
    try:
        header = message["From"]
        addresses = getattr(header, "addresses", ()) if header is not None else ()
        if addresses and addresses[0].addr_spec and "@" in addresses[0].addr_spec:
            address, name = addresses[0].addr_spec, addresses[0].display_name
            return _unescape(address).lower(), _unescape(name) or None
    except (ValueError, IndexError, TypeError, AttributeError):
        pass
    raw = next((v for k, v in message.raw_items() if k.lower() == "from"), None)
    name, address = parseaddr(_unescape(str(raw))) if raw is not None else ("", "")
    return (address.lower() if "@" in address else None), (name or None)


def _date(message: EmailMessage) -> datetime | None:
    try:
        header = message["Date"]
        moment = getattr(header, "datetime", None) if header is not None else None
    except (ValueError, IndexError, TypeError, AttributeError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return moment


def _body(message: EmailMessage) -> str:
    """The text part, else the HTML part made plain; quoted lines (``> ...``) left out."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, TypeError, AttributeError):
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AttributeError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    lines = [line.rstrip() for line in content.splitlines() if not _QUOTED.match(line)]
    return "\n".join(lines).strip()


def message_to_mention(
    raw: bytes,
    *,
    internal_date: datetime | None,
    mailbox: str,
    uid: int,
    max_text: int = 20_000,
) -> Mention:
    """Parse one message. Raises MessageError for something that is not an e-mail at all
    (neither a sender address nor a Message-ID)."""
    message: Any = BytesParser(policy=policy.default).parsebytes(raw)
    address, display_name = _sender(message)
    msg_id = message_id(_header(message, "Message-ID"))
    if address is None and msg_id is None:
        raise MessageError("not an e-mail: no From address and no Message-ID")
    subject = (_header(message, "Subject") or "").strip()
    body = _body(message)
    if msg_id is None:
        # Stable across re-reads (a new UIDVALIDITY), so the message is still stored once.
        digest = hashlib.blake2b(raw, digest_size=12).hexdigest()
        msg_id = f"{digest}@no-message-id"
    text = f"{subject}\n\n{body}" if subject and body else subject or body
    created = plausible_time(_date(message)) or plausible_time(internal_date) or datetime.now(UTC)
    reply_to = message_id(_header(message, "In-Reply-To"))
    extra: dict[str, Any] = {"mailbox": mailbox, "uid": uid}
    if subject:
        extra["subject"] = subject
    recipients = [a.lower() for _, a in getaddresses([_header(message, "To") or ""]) if "@" in a]
    if recipients:
        extra["to"] = recipients
    references = _MSG_ID.findall(_header(message, "References") or "")
    if references:
        extra["references"] = references
    language = (_header(message, "Content-Language") or "").split(",")[0].strip()
    return Mention(
        id=mention_id(msg_id),
        source="email",
        created_at=created,
        text=text[:max_text],
        author=Author(id=address, handle=address, name=display_name) if address else None,
        lang=language.split("-")[0].lower() or None,
        in_reply_to=mention_id(reply_to) if reply_to else None,
        extra=extra,
    )
