"""Deletions and edits applied by a real SQLite store (`SQLiteStore.ingest_changes`): what a
deleted post leaves readable (nothing of its text: mention, case title, drafts, alerts as the API
reads them), what an edit stores, and that each change is applied once."""

from __future__ import annotations

import json
from datetime import timedelta

from sentineld.cases import CaseBook, CasesOptions
from sentineld.changes import DELETED_MARK, MentionChange
from sentineld.http.api import _alert_with_mentions, mention_to_dict
from sentineld.model import Alert, format_time
from sentineld.options import convert_options
from sentineld.store import open_store
from sentineld.store.crm import DraftRecord
from sentineld.watch import Matcher, WatchConfig
from tests.care.conftest import WATCH
from tests.care.helpers import at, bluesky

COMPLAINT = "@acme.bsky.social my bag never arrived in Lisbon, third time this year"


def _store_with_a_complaint(path):
    store = open_store(path)
    post = bluesky("did:plc:jo", "jo.bsky.social", COMPLAINT, minutes=0)
    other = bluesky("did:plc:al", "al.bsky.social", "@acme.bsky.social thanks for the upgrade", minutes=1)
    store.ingest("bsky", [post, other], "c1")
    book = CaseBook(convert_options({}, CasesOptions, "cases"), Matcher(convert_options(WATCH, WatchConfig, "watch")))
    store.crm_apply(book, [post, other])
    store.save_drafts([DraftRecord(
        id="d1", created_at=at(2).timestamp(), state="pending", channel="bluesky", responder="r",
        template="t", text=f"Hi Jo, about “{COMPLAINT}”: we are on it.", mention_id=post.id,
    )])
    alert = Alert(id="a1", kind="influencer_mention", severity="high", subject="brand", channel="bluesky",
                  opened_at=at(0), summary=f"bluesky: “{COMPLAINT}”",
                  evidence={"text": COMPLAINT, "followers": 5000, "author": {"handle": "jo", "score": 0.9}},
                  mentions=[post.id], trigger="influencers")
    store.record_alerts([alert], [])
    return store, post, other


def test_a_deletion_redacts_the_mention_and_what_quotes_it(tmp_path) -> None:
    store, post, other = _store_with_a_complaint(tmp_path)
    try:
        [case] = [c for c in store.cases(state="all") if c.title.startswith("@acme.bsky.social my bag")]
        deleted_at = at(3)
        fresh, counts = store.ingest_changes([("bsky", [], "c2")], [MentionChange.deleted(post.id, deleted_at)])
        assert fresh == [[]] and (counts.deleted, counts.unknown, counts.repeated) == (1, 0, 0)
        assert store.cursor("bsky") == "c2"  # in the same transaction

        gone = store.mention(post.id)
        assert gone is not None and gone.text == ""
        assert gone.extra == {"cid": post.extra["cid"], "deleted_at": format_time(deleted_at)}
        assert "Lisbon" not in str(mention_to_dict(gone, scored=True))  # what the API serves
        assert all("Lisbon" not in m.text for _, m in store.recent_mentions(limit=10))
        row = store.db.execute("SELECT deleted_us FROM mention_rows WHERE id = ?", (post.id,)).fetchone()
        assert row[0] == int(deleted_at.timestamp() * 1_000_000)
        assert store.mention(other.id).text == other.text  # the other mention is untouched

        assert store.case(case.id).title == DELETED_MARK
        assert all("Lisbon" not in (m.text if m else "") for _, m in store.case_mentions(case.id))
        draft = store.draft("d1")
        assert "Lisbon" not in draft.text and DELETED_MARK in draft.text

        shown = store.alert("a1")
        assert "Lisbon" not in str(shown.summary) + str(shown.evidence)
        assert shown.evidence["followers"] == 5000 and shown.evidence["author"] == {"score": 0.9}
        assert shown.evidence["redacted_mentions"] == [post.id]
        assert "Lisbon" not in str(store.alerts())
        found = _alert_with_mentions(store, "a1")  # GET /api/alerts/a1: (the alert, what is served)
        assert found is not None and "Lisbon" not in json.dumps(found[1])
        assert [m["extra"].get("deleted_at") for m in found[1]["mention_details"]] == [format_time(deleted_at)]
        # The alert stays as raised for the alert manager (it rewrites open alerts from memory).
        assert store.alerts_by_id(["a1"])["a1"].evidence["text"] == COMPLAINT
    finally:
        store.close()


def test_an_edit_stores_the_new_text_once_and_never_revives_a_deleted_post(tmp_path) -> None:
    store, post, other = _store_with_a_complaint(tmp_path)
    try:
        first, second = at(5), at(6)
        _, counts = store.ingest_changes([("bsky", [], "c2")], [
            MentionChange.edited(other.id, "@acme.bsky.social thanks for the upgrade!! (seat 2A)", second),
            MentionChange.edited(other.id, "an older edit delivered late", first),  # stale
            MentionChange.deleted(post.id, first),
            MentionChange.edited(post.id, "text after the deletion", second),  # cannot revive it
            MentionChange.deleted("bluesky:at://did:plc:nobody/app.bsky.feed.post/3kx", first),
        ])
        assert (counts.edited, counts.deleted, counts.unknown, counts.repeated) == (1, 1, 1, 2)
        edited = store.mention(other.id)
        assert edited.text == "@acme.bsky.social thanks for the upgrade!! (seat 2A)"
        assert edited.extra["edited_at"] == format_time(second)
        assert store.mention(post.id).text == ""
        assert store.count_mentions() == 2  # the unknown id was not made up into a mention
    finally:
        store.close()

    # The same changes delivered again after a restart (a source rewinding): nothing moves.
    store = open_store(tmp_path)
    try:
        _, counts = store.ingest_changes([("bsky", [], "c3")], [
            MentionChange.edited(other.id, "@acme.bsky.social thanks for the upgrade!! (seat 2A)", at(6)),
            MentionChange.deleted(post.id, at(5)),
        ])
        assert (counts.edited, counts.deleted, counts.repeated) == (0, 0, 2)
        # A re-delivered copy of the deleted post is recognised by id: its text does not return.
        assert store.ingest("bsky", [post], "c4") == []
        assert store.mention(post.id).text == ""
    finally:
        store.close()


def test_old_stores_are_migrated(tmp_path) -> None:
    store = open_store(tmp_path)
    try:
        columns = {row[1] for row in store.db.execute("PRAGMA table_info(mention_rows)")}
        assert {"deleted_us", "edited_us"} <= columns
        assert "0012_mention_deletions_and_edits" in {
            row[0] for row in store.db.execute("SELECT name FROM migrations")}
    finally:
        store.close()


def test_times_are_kept_to_the_microsecond(tmp_path) -> None:
    store, post, _ = _store_with_a_complaint(tmp_path)
    try:
        when = at(7) + timedelta(microseconds=123)
        store.ingest_changes([("bsky", [], None)], [MentionChange.deleted(post.id, when)])
        assert store.mention(post.id).extra["deleted_at"].endswith(".000123Z")
    finally:
        store.close()


def test_the_case_cli_says_a_post_was_deleted_instead_of_showing_it(tmp_path, capsys) -> None:
    import tomli_w

    from sentineld.cli import main as cli_main

    store, post, _ = _store_with_a_complaint(tmp_path / "state")
    try:
        [case] = [c for c in store.cases(state="all") if c.title.startswith("@acme.bsky.social my bag")]
        store.ingest_changes([("bsky", [], None)], [MentionChange.deleted(post.id, at(3))])
    finally:
        store.close()
    config = tmp_path / "cli.toml"
    config.write_text(tomli_w.dumps({"sentineld": {"state_dir": str(tmp_path / "state")}, "watch": WATCH}))
    capsys.readouterr()
    assert cli_main(["case", case.id, "-c", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "Lisbon" not in shown
    assert f"(deleted by its author at {format_time(at(3))})" in shown
