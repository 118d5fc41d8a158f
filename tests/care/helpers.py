"""Mentions shaped as the real sources make them, and small helpers for the care tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sentineld.model import Author, Mention

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday
_ids = itertools.count(1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def email(address: str, text: str, *, minutes: float = 0.0, name: str | None = None,
          reply_to: str | None = None, subject: str = "Help", ident: str | None = None) -> Mention:
    """A mention as the IMAP source makes it: source "email", author id and handle = the address."""
    msg = ident or f"<{next(_ids)}@mail.example>"
    return Mention(
        id=f"email:{msg}", source="email", created_at=at(minutes), text=f"{subject}\n\n{text}",
        author=Author(id=address, handle=address, name=name),
        in_reply_to=reply_to,
        extra={"mailbox": "INBOX", "uid": next(_ids), "subject": subject, "to": ["care@acme.example"]},
    )


def bluesky(did: str, handle: str, text: str, *, minutes: float = 0.0, rkey: str | None = None,
            reply_to: str | None = None, cid: str | None = None, root: str | None = None,
            **scores: Any) -> Mention:
    """A post as the bluesky source makes it: the AT URI in the id, the CID in extra."""
    key = rkey or f"3k{next(_ids):05d}"
    extra: dict[str, Any] = {"cid": cid or f"bafyrei{key}"}
    if root:
        extra["thread_root"] = root
    mention = Mention(
        id=f"bluesky:at://{did}/app.bsky.feed.post/{key}", source="bluesky", created_at=at(minutes),
        text=text, author=Author(id=did, handle=handle),
        url=f"https://bsky.app/profile/{did}/post/{key}", in_reply_to=reply_to, extra=extra,
    )
    mention.scores.update(scores)
    return mention


def mastodon(acct: str, text: str, *, host: str = "mastodon.example", minutes: float = 0.0,
             status: str | None = None, reply_to: str | None = None) -> Mention:
    ident = status or str(110000000000000000 + next(_ids))
    return Mention(
        id=f"mastodon:{host}:{ident}", source="mastodon", created_at=at(minutes), text=text,
        author=Author(id=acct if "@" in acct else f"{acct}@{host}", handle=acct),
        url=f"https://{host}/@{acct}/{ident}", in_reply_to=reply_to, extra={"visibility": "public"},
    )


def filler(minutes: float, text: str = "weather is nice") -> Mention:
    """A mention about nothing, only to move event time along."""
    return Mention(id=f"test:{next(_ids)}", source="test", created_at=at(minutes), text=text,
                   author=Author(id=f"bystander{next(_ids)}"))


def cli_config(harness: Any) -> str:
    """A config for the CLI on the harness's state directory (without the test-only plugins)."""
    import tomli_w

    tables = {name: harness.tables[name] for name in ("sentineld", "watch", "cases") if name in harness.tables}
    path = harness.directory / "cli.toml"
    path.write_text(tomli_w.dumps(tables))
    return str(path)
