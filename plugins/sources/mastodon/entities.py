"""Mastodon's Status, Account and Notification entities (the fields sentineld uses) and how a
status becomes a Mention. Content is HTML; it is turned into plain text."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from sentineld.html_text import html_to_text
from sentineld.model import Author, Count, Mention, Metrics
from sentineld.sources_http import plausible_time

SOURCE: Final = "mastodon"


class Account(msgspec.Struct):
    id: str
    username: str
    acct: str
    display_name: str = ""
    url: str | None = None
    followers_count: Count | None = None
    following_count: Count | None = None
    statuses_count: Count | None = None
    created_at: datetime | None = None
    bot: bool = False


class MentionRef(msgspec.Struct):
    id: str
    username: str
    acct: str
    url: str | None = None


class Tag(msgspec.Struct):
    name: str


class Status(msgspec.Struct):
    id: str
    created_at: datetime
    account: Account
    content: str = ""
    uri: str | None = None
    url: str | None = None
    spoiler_text: str = ""
    visibility: str | None = None
    language: str | None = None
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    reblog: Status | None = None
    quote: dict[str, Any] | None = None  # Mastodon 4.4+: {"state", "quoted_status"}
    replies_count: Count = 0
    reblogs_count: Count = 0
    favourites_count: Count = 0
    mentions: list[MentionRef] = []
    tags: list[Tag] = []
    edited_at: datetime | None = None


class Notification(msgspec.Struct):
    id: str
    type: str
    created_at: datetime
    account: Account
    status: Status | None = None


def id_key(ident: str) -> tuple[int, str]:
    """Sort key for Mastodon ids: numeric strings (snowflakes) compare by length, then text."""
    return (len(ident), ident)


def newest(ids: list[str]) -> str | None:
    return max(ids, key=id_key) if ids else None


def qualified_acct(account: Account, host: str) -> str:
    """``user@domain`` for every account (local accounts' ``acct`` has no domain)."""
    return account.acct if "@" in account.acct else f"{account.acct}@{host}"


def to_author(account: Account, host: str) -> Author:
    return Author(
        id=qualified_acct(account, host),
        handle=account.acct,
        name=account.display_name or None,
        followers=account.followers_count,
        following=account.following_count,
        posts=account.statuses_count,
        created_at=plausible_time(account.created_at),
    )


def to_mention(status: Status, host: str, received: datetime) -> Mention:
    """A Mention from a status; a reblog's text is the reblogged status's, with `reshare_of`.

    `created_at` is capped at `received` (a remote server's clock may run ahead, and a future
    time would drag the event-time clock with it). Raises ValueError for an implausible time.
    """
    created = plausible_time(status.created_at)
    if created is None:
        raise ValueError(f"implausible created_at {status.created_at!r}")
    shown = status.reblog or status
    text = html_to_text(shown.content)
    if shown.spoiler_text:
        text = f"{shown.spoiler_text}\n\n{text}" if text else shown.spoiler_text
    reshare_of = None
    if status.reblog is not None:
        reshare_of = f"{SOURCE}:{host}:{status.reblog.id}"
    elif status.quote and isinstance(status.quote.get("quoted_status"), dict):
        quoted_id = status.quote["quoted_status"].get("id")
        if isinstance(quoted_id, str):
            reshare_of = f"{SOURCE}:{host}:{quoted_id}"
    extra: dict[str, Any] = {"visibility": status.visibility} if status.visibility else {}
    if shown.tags:
        extra["tags"] = [tag.name for tag in shown.tags]
    if status.uri:
        extra["uri"] = status.uri
    return Mention(
        id=f"{SOURCE}:{host}:{status.id}",
        source=SOURCE,
        created_at=min(created, received),
        text=text,
        author=to_author(status.account, host),
        url=status.url or status.uri,
        lang=shown.language,
        in_reply_to=f"{SOURCE}:{host}:{status.in_reply_to_id}" if status.in_reply_to_id else None,
        reshare_of=reshare_of,
        metrics=Metrics(
            likes=shown.favourites_count,
            reshares=shown.reblogs_count,
            replies=shown.replies_count,
        ),
        extra=extra,
    )
