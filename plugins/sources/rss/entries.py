"""From feedparser's view of an RSS or Atom document to Mentions."""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from typing import Any

from sentineld.html_text import html_to_text
from sentineld.model import Author, Mention

#: Entries whose text is longer are cut (a full article is not a mention).
MAX_TEXT = 10_000


class EntryError(ValueError):
    """An entry that cannot become a mention (nothing to read)."""


def feed_key(url: str) -> str:
    """A short stable name for a feed URL, used in mention ids."""
    return hashlib.blake2b(url.encode(), digest_size=6).hexdigest()


def entry_key(entry: Any) -> str | None:
    """What identifies an entry across fetches: its guid (RSS) or id (Atom), else its link."""
    for name in ("id", "link"):
        value = entry.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def fingerprint(key: str) -> str:
    """A short hash of an entry key, as remembered in the cursor."""
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def _moment(parsed: Any) -> datetime | None:
    """feedparser's ``*_parsed`` values are `time.struct_time` in UTC."""
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _body(entry: Any) -> str:
    """The entry's text: its full content if given, else its summary; HTML made plain."""
    for part in entry.get("content") or ():
        value = part.get("value") or ""
        if value.strip():
            return _plain(value, part.get("type", ""))
    summary = entry.get("summary") or ""
    detail = entry.get("summary_detail") or {}
    return _plain(summary, detail.get("type", "text/html"))


def _plain(value: str, media_type: str) -> str:
    return value.strip() if media_type == "text/plain" else html_to_text(value)


def _author(entry: Any, feed: Any, url: str) -> Author:
    """The entry's author; failing that the feed's; failing that the feed itself (a blog, a
    news site) is the author."""
    for detail in (entry.get("author_detail"), feed.get("author_detail")):
        if detail and (detail.get("email") or detail.get("name")):
            email = detail.get("email")
            name = detail.get("name")
            ident = email.lower() if email else name
            return Author(id=ident, name=name, handle=email.lower() if email else None)
    for name in (entry.get("author"), feed.get("author")):
        if name:
            return Author(id=name, name=name)
    return Author(id=feed.get("link") or url, name=feed.get("title") or None)


def _language(tag: str | None) -> str | None:
    """``en-us`` (RSS <language>) as ``en``."""
    if not tag or not tag.strip():
        return None
    return tag.strip().split("-")[0].lower()


def entry_to_mention(entry: Any, feed: Any, url: str, fetched_at: datetime) -> Mention:
    """One feed entry as a Mention. Raises EntryError for an entry with nothing to read."""
    key = entry_key(entry)
    title = html_to_text(entry.get("title") or "")
    body = _body(entry)
    if key is None:
        if not (title or body):
            raise EntryError("entry has no id, link, title or text")
        key = "sha:" + fingerprint(f"{title}\n{body}")
    if not (title or body):
        raise EntryError(f"entry {key!r} has neither a title nor any text")
    text = body if not title or body.startswith(title) else f"{title}\n\n{body}" if body else title
    created = (
        _moment(entry.get("published_parsed"))
        or _moment(entry.get("updated_parsed"))
        or _moment(entry.get("created_parsed"))
        or fetched_at
    )
    extra: dict[str, Any] = {"feed_url": url}
    if feed.get("title"):
        extra["feed_title"] = feed["title"]
    if title:
        extra["title"] = title
    tags = [t.get("term") for t in entry.get("tags") or () if t.get("term")]
    if tags:
        extra["tags"] = tags
    return Mention(
        id=f"rss:{feed_key(url)}:{key}",
        source="rss",
        created_at=created,
        text=text[:MAX_TEXT],
        author=_author(entry, feed, url),
        url=entry.get("link") or None,
        lang=_language(feed.get("language")),
        extra=extra,
    )
