"""Reddit's Listing shape and how its things (t3 posts, t1 comments) become Mentions.

A listing is ``{"kind": "Listing", "data": {"after": "t3_…"|null, "before": …, "children":
[{"kind": "t3", "data": {"name": "t3_abc", "id": "abc", "created_utc": 1732439702.0,
"author": "…", "title": "…", "selftext": "…", "permalink": "/r/…", "subreddit": "…",
"score": 12, "num_comments": 3, …}}, …]}}``, newest first. Comments (``t1``) carry ``body``,
``parent_id``, ``link_id`` and ``link_title`` instead of a title.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from sentineld.model import Author, Count, Mention, Metrics
from sentineld.sources_http import from_posix

SOURCE: Final = "reddit"
SITE: Final = "https://www.reddit.com"


class Thing(msgspec.Struct):
    """The fields of a t3 (post) or t1 (comment) that sentineld uses."""

    name: str
    id: str
    created_utc: float
    author: str | None = None
    author_fullname: str | None = None
    title: str | None = None
    selftext: str | None = None
    body: str | None = None
    permalink: str | None = None
    subreddit: str | None = None
    score: Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | None = None  # negative: downvoted
    num_comments: Count | None = None
    url: str | None = None
    is_self: bool | None = None
    parent_id: str | None = None
    link_id: str | None = None
    link_title: str | None = None


class Child(msgspec.Struct):
    kind: str
    data: dict[str, Any]


class ListingData(msgspec.Struct):
    children: list[Child]
    after: str | None = None
    before: str | None = None


class Listing(msgspec.Struct):
    kind: str
    data: ListingData


def to_mention(kind: str, thing: Thing) -> Mention:
    """A Mention from a t3 or t1; raises ValueError for an implausible ``created_utc``."""
    created = from_posix(thing.created_utc)
    if created is None:
        raise ValueError(f"implausible created_utc {thing.created_utc}")
    if kind == "t1":
        text = thing.body or ""
    else:
        text = "\n\n".join(part for part in (thing.title or "", thing.selftext or "") if part)
    author = None
    if thing.author and thing.author != "[deleted]":
        author = Author(id=thing.author_fullname or thing.author, handle=thing.author)
    extra: dict[str, Any] = {"kind": "comment" if kind == "t1" else "post"}
    if thing.subreddit:
        extra["subreddit"] = thing.subreddit
    if kind == "t3" and thing.url and not thing.is_self:
        extra["link"] = thing.url
    if kind == "t1" and thing.link_id:
        extra["post_id"] = f"{SOURCE}:{thing.link_id}"
        if thing.link_title:
            extra["post_title"] = thing.link_title
    return Mention(
        id=f"{SOURCE}:{thing.name}",
        source=SOURCE,
        created_at=created,
        text=text,
        author=author,
        url=f"{SITE}{thing.permalink}" if thing.permalink else None,
        in_reply_to=f"{SOURCE}:{thing.parent_id}" if kind == "t1" and thing.parent_id else None,
        # A downvoted thing's score is negative: it has no likes to speak of.
        metrics=Metrics(likes=max(thing.score or 0, 0), replies=thing.num_comments or 0),
        extra=extra,
    )
