"""Jetstream events and Bluesky records: their wire shapes and how a post becomes a Mention.

Jetstream sends one JSON object per websocket message::

    {"did": "did:plc:…", "time_us": 1732439702000000, "kind": "commit",
     "commit": {"rev": "…", "operation": "create", "collection": "app.bsky.feed.post",
                "rkey": "3k2…", "cid": "bafy…",
                "record": {"$type": "app.bsky.feed.post", "text": "…", "createdAt": "…",
                           "langs": ["en"], "reply": {"parent": {"uri", "cid"}, "root": {…}},
                           "embed": {"$type": "app.bsky.embed.record", "record": {"uri", "cid"}},
                           "facets": […]}}}

``operation`` may also be ``update`` (an edited post: the new record) or ``delete`` (no record,
no cid). ``kind`` may also be ``identity`` (a handle changed) or ``account``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from sentineld.model import Author, Count, Mention
from sentineld.sources_http import from_posix, plausible_time

POST_COLLECTION: Final = "app.bsky.feed.post"
SOURCE: Final = "bluesky"


class StrongRef(msgspec.Struct):
    uri: str
    cid: str = ""


class ReplyRef(msgspec.Struct):
    parent: StrongRef
    root: StrongRef | None = None


class PostRecord(msgspec.Struct):
    text: str
    createdAt: str = ""  # noqa: N815 - the lexicon's spelling
    reply: ReplyRef | None = None
    embed: dict[str, Any] | None = None
    langs: list[str] = []
    facets: list[dict[str, Any]] = []


class Commit(msgspec.Struct):
    operation: str
    collection: str
    rkey: str
    rev: str = ""
    cid: str = ""
    record: msgspec.Raw = msgspec.Raw()  # empty when the operation carries no record


class Identity(msgspec.Struct):
    did: str
    handle: str | None = None


class Event(msgspec.Struct):
    did: str
    time_us: int
    kind: str
    commit: Commit | None = None
    identity: Identity | None = None


class Profile(msgspec.Struct):
    """app.bsky.actor.defs#profileViewDetailed, the fields sentineld keeps."""

    did: str
    handle: str | None = None
    displayName: str | None = None  # noqa: N815
    followersCount: Count | None = None  # noqa: N815
    followsCount: Count | None = None  # noqa: N815
    postsCount: Count | None = None  # noqa: N815
    createdAt: str | None = None  # noqa: N815


class Profiles(msgspec.Struct):
    profiles: list[Profile]


decode_event = msgspec.json.Decoder(Event).decode
decode_post = msgspec.json.Decoder(PostRecord).decode


def post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def mention_id(did: str, rkey: str) -> str:
    """The id of the Mention made from the post `rkey` of `did` (what its edits and deletion
    name)."""
    return f"{SOURCE}:{post_uri(did, rkey)}"


def uri_did(uri: str) -> str | None:
    """The repository DID of an ``at://DID/collection/rkey`` URI."""
    if not uri.startswith("at://"):
        return None
    return uri[5:].split("/", 1)[0] or None


def quoted_uri(embed: dict[str, Any] | None) -> str | None:
    """The post a record embed quotes (plain quote, or quote with media), if it is a post."""
    if not embed:
        return None
    kind = embed.get("$type")
    inner: Any = None
    if kind == "app.bsky.embed.record":
        inner = embed.get("record")
    elif kind == "app.bsky.embed.recordWithMedia":
        wrapper = embed.get("record")
        inner = wrapper.get("record") if isinstance(wrapper, dict) else None
    uri = inner.get("uri") if isinstance(inner, dict) else None
    if isinstance(uri, str) and f"/{POST_COLLECTION}/" in uri:
        return uri
    return None


def mentioned_dids(facets: list[dict[str, Any]]) -> set[str]:
    """DIDs of ``app.bsky.richtext.facet#mention`` features."""
    found = set()
    for facet in facets:
        features = facet.get("features") if isinstance(facet, dict) else None
        for feature in features or ():
            if isinstance(feature, dict) and feature.get("$type") == "app.bsky.richtext.facet#mention":
                did = feature.get("did")
                if isinstance(did, str):
                    found.add(did)
    return found


def parse_datetime(text: str | None) -> datetime | None:
    """An AT Protocol datetime, or None when it is missing, naive or not plausible."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return plausible_time(moment)


def event_time(time_us: int) -> datetime | None:
    """When Jetstream saw the event, or None for a time_us that is not a plausible time."""
    return from_posix(time_us / 1_000_000)


def to_mention(event: Event, post: PostRecord, profile: Profile | None) -> Mention:
    """A Mention from a post. `created_at` is the earlier of the post's own ``createdAt`` and
    the time Jetstream saw it (AppView's "sortAt"), so a client clock set in the future cannot
    push the event-time clock ahead."""
    assert event.commit is not None
    seen = event_time(event.time_us)
    assert seen is not None, "events with an implausible time_us are rejected before"
    claimed = parse_datetime(post.createdAt)
    created = min(claimed, seen) if claimed is not None else seen
    quoted = quoted_uri(post.embed)
    author = Author(id=event.did)
    if profile is not None:
        author = Author(
            id=event.did,
            handle=profile.handle,
            name=profile.displayName or None,
            followers=profile.followersCount,
            following=profile.followsCount,
            posts=profile.postsCount,
            created_at=parse_datetime(profile.createdAt),
        )
    extra: dict[str, Any] = {"cid": event.commit.cid} if event.commit.cid else {}
    if post.reply is not None and post.reply.root is not None:
        extra["thread_root"] = f"{SOURCE}:{post.reply.root.uri}"
    return Mention(
        id=mention_id(event.did, event.commit.rkey),
        source=SOURCE,
        created_at=created,
        text=post.text,
        author=author,
        url=f"https://bsky.app/profile/{event.did}/post/{event.commit.rkey}",
        lang=post.langs[0] if post.langs else None,
        in_reply_to=f"{SOURCE}:{post.reply.parent.uri}" if post.reply is not None else None,
        reshare_of=f"{SOURCE}:{quoted}" if quoted else None,
        extra=extra,
    )
