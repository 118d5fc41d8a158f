"""`identity_keys` and `Addressing.is_own` run for every addressed mention (is_own for every
mention in the unanswered trigger) and were rewritten to do less; they must answer as the
straightforward forms below do, for every shape of author the sources make and a few no
source makes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import msgspec

from sentineld.cases import Addressing, identity_keys, normalize_key
from sentineld.model import Author, Mention
from sentineld.watch import Matcher, WatchConfig


def reference_keys(mention: Mention) -> list[str]:
    """identity_keys as first written: each key built whole, then normalised."""
    author = mention.author
    if author is None:
        return []
    keys = []
    ident = author.id or None
    if ident:
        keys.append(normalize_key(f"{mention.source}:{ident}"))
    handle = (author.handle or "").strip().lstrip("@")
    if handle and handle.lower() != (ident or "").lower() and not ("@" in (ident or "") and "@" not in handle):
        keys.append(normalize_key(f"{mention.source}:@{handle}"))
    if not keys and handle:
        keys.append(normalize_key(f"{mention.source}:@{handle}"))
    return keys


def reference_is_own(own: frozenset[str], mention: Mention) -> bool:
    author = mention.author
    if author is None or not own:
        return False
    for value in (author.handle, author.id):
        if value and value.lower().lstrip("@") in own:
            return True
    key = mention.author_key
    return key is not None and key.lower() in own


SOURCES = ["bluesky", "mastodon", "email", "rss", "custom:feed", ""]
IDS = [None, "", "did:plc:Jo", "Jo@Mastodon.Social", "jo@example.com", "@Acme", "acme", "12345", "Jo.Bsky.Social"]
HANDLES = [None, "", "  ", "@Jo.bsky.social", "jo.bsky.social", "Jo@Mastodon.Social", "jo", " @@Acme ",
           "jo@example.com", "ACME", "12345"]


def mentions() -> list[Mention]:
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    found = [Mention(id="x:none", source="bluesky", created_at=moment, text="t")]
    for number, (source, ident, handle) in enumerate(itertools.product(SOURCES, IDS, HANDLES)):
        found.append(Mention(id=f"x:{number}", source=source, created_at=moment, text="t",
                             author=Author(id=ident, handle=handle)))
    return found


def test_identity_keys_as_built_whole_and_normalised() -> None:
    for mention in mentions():
        assert identity_keys(mention) == reference_keys(mention), mention.author


def test_is_own_as_the_loop_over_handle_and_id() -> None:
    for accounts in (["acme"], ["@Acme", "care@acme.example"], ["bluesky:did:plc:jo"], [],
                     ["acme", "Custom:Feed:12345"], ["@email:JO@example.com"], ["rss::acme"]):
        addressing = Addressing(Matcher(WatchConfig(brand=["acme"], accounts=accounts)), ["email"])
        own = frozenset(a.strip().lower().lstrip("@") for a in accounts if a.strip())
        for mention in mentions():
            assert addressing.is_own(mention) == reference_is_own(own, mention), (accounts, mention.author)


TEXTS = ["@acme my bag never arrived", "thanks @Acme!", "mail care@acme.example", "@acmeair is late",
         "@jo@acme.social hi", "nothing to see", "", "@ACME", "re: @acme.", "@acme_fan says"]


def test_names_own_answers_as_names_own_account_once_per_mention() -> None:
    """The case step, the case book and unanswered each ask whether a text names the brand's
    accounts; `names_own` searches it once per mention and answers as the search does."""
    acme = Addressing(Matcher(WatchConfig(brand=["acme"], accounts=["acme"])), ["email"])
    other = Addressing(Matcher(WatchConfig(brand=["acme"], accounts=["acmeair"])), ["email"])
    nobody = Addressing(Matcher(WatchConfig(brand=["acme"], accounts=[])), ["email"])
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    for number, text in enumerate(TEXTS):
        mention = Mention(id=f"x:{number}", source="bluesky", created_at=moment, text=text)
        for addressing in (acme, other, nobody, acme, other, nobody):  # asked again: kept
            assert addressing.names_own(mention) == addressing.names_own_account(text), text
        # A second Addressing with the same accounts (unanswered's own) finds the same answer.
        twin = Addressing(Matcher(WatchConfig(brand=["x"], accounts=["@ACME"])), [])
        assert twin.names_own(mention) == acme.names_own_account(text)
        # An edit is a new struct (msgspec.structs.replace): its text is searched again.
        edited = msgspec.structs.replace(mention, text="@acme answer me")
        assert acme.names_own(edited) and not other.names_own(edited)
