"""The interchange formats: exactly DESIGN.md's shapes, unknown keys kept, clear errors."""

from __future__ import annotations

import json

import pytest

from sentineld.model import MentionError, decode_mention, encode_mention, mention_from_dict

DESIGN_EXAMPLE = {
    "id": "bluesky:at://did:plc:abc/app.bsky.feed.post/3k2", "source": "bluesky",
    "created_at": "2026-11-24T09:15:02Z", "text": "@acmeair lost my bag again",
    "author": {"id": "did:plc:abc", "handle": "jo.bsky.social", "name": "Jo",
               "followers": 1200, "following": 300, "posts": 5400},
    "url": "https://bsky.app/x", "lang": "en", "in_reply_to": None, "reshare_of": None,
    "metrics": {"likes": 3, "reshares": 1, "replies": 0},
}


def test_design_example_round_trips() -> None:
    mention = decode_mention(json.dumps(DESIGN_EXAMPLE))
    assert mention.author is not None and mention.author.followers == 1200
    assert json.loads(encode_mention(mention)) == DESIGN_EXAMPLE


def test_unknown_keys_are_kept_under_extra() -> None:
    data = {**DESIGN_EXAMPLE, "platform_flags": {"nsfw": False}, "thread": 7}
    mention = mention_from_dict(data)
    assert mention.extra == {"platform_flags": {"nsfw": False}, "thread": 7}
    assert json.loads(encode_mention(mention))["extra"] == mention.extra


def test_scored_form_adds_scores_labels_matches() -> None:
    mention = decode_mention(json.dumps(DESIGN_EXAMPLE))
    mention.scores["sentiment"] = -0.81
    mention.labels["sentiment"] = "negative"
    mention.matches = ["brand"]
    data = json.loads(encode_mention(mention, scored=True))
    assert data["scores"] == {"sentiment": -0.81}
    assert data["labels"] == {"sentiment": "negative"} and data["matches"] == ["brand"]
    assert "scores" not in json.loads(encode_mention(mention))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"source": "x", "created_at": "2026-11-24T09:15:02Z", "text": "t"}', "id: required field is missing"),
        ('{"id": "x", "source": "x", "created_at": "2026-11-24T09:15:02", "text": "t"}', "timezone"),
        ('{"id": "x", "source": "x", "created_at": "yesterday", "text": "t"}', "created_at"),
        ('{"id": 5, "source": "x", "created_at": "2026-11-24T09:15:02Z", "text": "t"}', "id: Expected str, got int"),
        ('[1, 2]', "must be a JSON object"),
        ('{"id": "x",', "not valid JSON"),
        ('{"id": "x", "source": "s", "created_at": "2026-11-24T09:15:02Z", "text": "t", "author": {"followers": "many"}}',
         "author.followers"),
    ],
)
def test_bad_mentions_say_why(line: str, reason: str) -> None:
    with pytest.raises(MentionError, match=reason):
        decode_mention(line)


def test_zones_are_normalised_to_utc() -> None:
    mention = decode_mention(json.dumps({**DESIGN_EXAMPLE, "created_at": "2026-11-24T10:15:02+01:00"}))
    assert json.loads(encode_mention(mention))["created_at"] == "2026-11-24T09:15:02Z"


def test_author_key_is_kept_outside_the_fields() -> None:
    """The author key is computed once per mention, and a mention whose key was read is still
    equal to, and encodes the same as, one whose key was not."""
    import msgspec

    read, unread = decode_mention(json.dumps(DESIGN_EXAMPLE)), decode_mention(json.dumps(DESIGN_EXAMPLE))
    assert read.author_key == "bluesky:did:plc:abc"
    assert read.author_key is read.author_key is decode_mention(json.dumps(DESIGN_EXAMPLE)).author_key
    assert read == unread
    assert encode_mention(read) == encode_mention(unread)
    assert msgspec.json.encode(read) == msgspec.json.encode(unread)
    assert b"author_key" not in msgspec.msgpack.encode(read)
    assert msgspec.structs.replace(read, source="mastodon").author_key == "mastodon:did:plc:abc"
    # A JSON line naming the key is not taken for it: the key comes from source and author.
    claimed = decode_mention(json.dumps({**DESIGN_EXAMPLE, "author_key": "bluesky:someone-else"}))
    assert claimed.author_key == "bluesky:did:plc:abc"
    assert claimed.extra == {"author_key": "bluesky:someone-else"}


def test_mention_lines_decode_in_bulk_only_one_object_per_line() -> None:
    from sentineld.model import decode_mention_lines

    line = json.dumps(DESIGN_EXAMPLE).encode()
    assert [m.id for m in decode_mention_lines(line + b"\n" + line + b"\r\n", 2) or []] == [DESIGN_EXAMPLE["id"]] * 2
    # msgspec's decode_lines alone takes values separated by any whitespace: these would pass it.
    assert decode_mention_lines(line + b" " + line + b"\n" + line + b"\n", 2) is None
    assert decode_mention_lines(line + b"\n\n" + line + b"\n", 3) is None
    split = line.replace(b', "text"', b',\n "text"')
    assert decode_mention_lines(split + b"\n" + line + b"\n", 3) is None
    blank_id = line.replace(json.dumps(DESIGN_EXAMPLE["id"]).encode(), b'" "')
    assert decode_mention_lines(blank_id + b"\n", 1) is None  # checked as decode_mention checks
    assert decode_mention_lines(line[:-1] + b', "thread": 7}\n', 1) is None  # decode_mention keeps it
