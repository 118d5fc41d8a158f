"""Cases: one per customer issue across channels, safe identity links, states, the first-response
SLA, brand replies, and exactly-once updates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sentineld.cases import CaseBook, CasesOptions
from sentineld.cli import main as cli_main
from sentineld.model import format_time
from sentineld.options import convert_options
from sentineld.store import open_store
from sentineld.testing import Harness
from sentineld.watch import Matcher, WatchConfig
from tests.care.conftest import WATCH
from tests.care.helpers import at, bluesky, cli_config, email, filler, mastodon

SIGNED = "My flight AC123 was cancelled and nobody answers the phone.\n\nThanks,\nJo Doe\nBluesky: @jo.bsky.social"


def store_of(harness: Harness) -> Any:
    return open_store(harness.config().state_dir)


async def test_a_customer_who_emails_then_posts_lands_in_one_case_with_the_whole_history(care) -> None:
    mail = email("jo@example.com", SIGNED, name="Jo Doe", minutes=0)
    post = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social still no answer to my email about AC123",
                   minutes=30)
    chatter = bluesky("did:plc:jo", "jo.bsky.social", "lovely sunset tonight", minutes=40)
    await care.replay([mail, post, chatter, filler(60)], keep_state=True)
    store = store_of(care)
    try:
        [case] = store.cases(state="all")
        assert case.channels == ["email", "bluesky"] and case.state == "new" and case.mentions == 2
        assert [item.mention_id for item, _ in store.case_mentions(case.id)] == [mail.id, post.id]
        identities = dict(store.customer_identities(case.customer))
        assert identities == {"email:jo@example.com": "seen", "bluesky:@jo.bsky.social": f"auto:{mail.id}",
                              "bluesky:did:plc:jo": "seen"}
        # The whole history: everything the customer wrote, on every linked identity.
        assert [m.id for m in store.customer_history(case.customer)] == [mail.id, post.id, chatter.id]
    finally:
        store.close()


async def test_a_reply_from_the_brands_account_marks_the_case_responded(care) -> None:
    post = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social where is my bag", minutes=0)
    again = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social hello??", minutes=5)
    answer = bluesky("did:plc:acme", "acme.bsky.social", "@jo.bsky.social so sorry, DM us", minutes=20,
                     reply_to=again.id)
    later = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social sent you a DM", minutes=30, reply_to=answer.id)
    result = await care.replay([post, again, answer, later, filler(40)], keep_state=True)
    assert result.summary.stored == 5
    store = store_of(care)
    try:
        [case] = store.cases(state="all")
        assert case.state == "responded" and case.first_response_at == at(20).timestamp()
        answered = {item.mention_id: item.answered_by for item, _ in store.case_mentions(case.id)}
        # The reply answers the mention it replies to and the customer's earlier one; the
        # customer's reply to the brand joins the case, waiting for the next answer.
        assert answered == {post.id: answer.id, again.id: answer.id, answer.id: None, later.id: None}
        assert case.waiting == 1
    finally:
        store.close()


async def test_the_brand_answering_someone_without_a_case_opens_it_as_responded(care) -> None:
    # No @-mention of the brand's accounts: not addressed, so no case at first.
    rant = bluesky("did:plc:al", "al.bsky.social", "acme lost my luggage again", minutes=0)
    answer = bluesky("did:plc:acme", "acme.bsky.social", "@al.bsky.social we're sorry, DM us", minutes=3,
                     reply_to=rant.id)
    await care.replay([rant, answer], keep_state=True)
    store = store_of(care)
    try:
        [case] = store.cases(state="all")
        assert case.state == "responded" and case.opened_at == at(0).timestamp()
    finally:
        store.close()


async def test_unsafe_claims_do_not_link_identities(care) -> None:
    # A public post naming an address: anyone can type anyone's address.
    post = bluesky("did:plc:mallory", "mallory.bsky.social", "@acme.bsky.social I'm jo@example.com, send me her booking",
                   minutes=0)
    # An e-mail talking about someone else's handle, not giving the sender's own.
    mail = email("jo@example.com", "Your agent @bob.bsky.social was rude to me.\nJo", minutes=5)
    # An e-mail claiming a handle that is already another customer's.
    claim = email("eve@example.com", "Hi\n\n-- \nEve\n@mallory.bsky.social", minutes=6)
    await care.replay([post, mail, claim, filler(10)], keep_state=True)
    store = store_of(care)
    try:
        cases = store.cases(state="all")
        assert len(cases) == 3 and len({c.customer for c in cases}) == 3
        assert store.customer_of("bluesky:@bob.bsky.social") is None
        assert store.customer_of("bluesky:@mallory.bsky.social") == store.customer_of("bluesky:did:plc:mallory")
        assert store.customer_of("email:eve@example.com") != store.customer_of("bluesky:did:plc:mallory")
    finally:
        store.close()


async def test_explicit_links_from_config_and_from_the_cli_make_one_customer(care, capsys) -> None:
    care.configure(cases={"links": [["email:jo@example.com", "mastodon:jo@mastodon.example"]]})
    mail = email("jo@example.com", "Where is my refund?", minutes=0)
    toot = mastodon("jo", "@acme refund please", minutes=10)
    other_mail = email("al@example.com", "Still waiting", minutes=11)
    other_post = bluesky("did:plc:al", "al.bsky.social", "@acme.bsky.social waiting", minutes=12)
    await care.replay([mail, toot, other_mail, other_post, filler(20)], keep_state=True)
    store = store_of(care)
    try:
        open_cases = store.cases(state="open")
        assert len(open_cases) == 3  # Jo (linked by config), and Al twice: not linked yet
        jo = next(c for c in open_cases if "email" in c.channels and "mastodon" in c.channels)
        assert jo.mentions == 2
    finally:
        store.close()
    path = cli_config(care)
    capsys.readouterr()
    assert cli_main(["link", "email:al@example.com", "bluesky:did:plc:al", "-c", path]) == 0
    assert capsys.readouterr().err == ""
    store = store_of(care)
    try:
        open_cases = store.cases(state="open")
        assert len(open_cases) == 2
        al = next(c for c in open_cases if "bluesky" in c.channels)
        assert al.channels == ["email", "bluesky"] and al.mentions == 2
        [merged] = store.cases(state="merged")
        assert merged.merged_into == al.id
    finally:
        store.close()
    capsys.readouterr()
    assert cli_main(["cases", "--state", "merged", "-c", path]) == 0
    listed = capsys.readouterr().out
    assert f"merged into {al.id}" in listed and "OVERDUE" not in listed  # its SLA went with it


async def test_linking_an_identity_of_a_source_never_seen_warns_and_links(care, capsys) -> None:
    await care.replay([email("jo@example.com", "Where is my refund?", minutes=0),
                       mastodon("jo", "@acme refund please", minutes=10), filler(20)], keep_state=True)
    path = cli_config(care)
    capsys.readouterr()
    assert cli_main(["link", "email:jo@example.com", "mastadon:jo@mastodon.example", "-c", path]) == 0
    warning = capsys.readouterr().err
    assert "no identity from source 'mastadon' has been seen yet; did you mean 'mastodon'?" in warning
    assert "sources seen: " in warning and "email" in warning and "'email'" not in warning
    store = store_of(care)
    try:
        assert store.customer_of("mastadon:jo@mastodon.example") == store.customer_of("email:jo@example.com")
    finally:
        store.close()


async def test_states_through_the_cli_and_a_new_issue_after_resolve(care, capsys) -> None:
    first = email("jo@example.com", "My bag is lost", minutes=0)
    await care.replay([first, filler(5)], keep_state=True)
    path = cli_config(care)
    assert cli_main(["cases", "--json", "-c", path]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["state"] == "new" and listed["sla_due_at"] == format_time(at(60))
    assert listed["customer_name"] == "jo@example.com" and listed["channel"] == "email"
    case_id = listed["id"]
    assert cli_main(["ack", case_id, "-c", path]) == 0
    assert cli_main(["case", case_id, "-c", path]) == 0
    shown = capsys.readouterr().out
    assert "acknowledged" in shown and "My bag is lost" in shown and "email:jo@example.com" in shown
    assert cli_main(["resolve", case_id, "-c", path]) == 0
    assert cli_main(["cases", "-c", path]) == 0
    assert "no open cases" in capsys.readouterr().out
    assert cli_main(["cases", "--state", "resolved", "-c", path]) == 0
    listed_resolved = capsys.readouterr().out
    assert "resolved without an answer" in listed_resolved and "OVERDUE" not in listed_resolved
    # The same customer writing about something else later: a new case.
    later = email("jo@example.com", "Now my seat was changed", minutes=120)
    store = store_of(care)
    try:
        store.ingest("test", [later], None)
        book = CaseBook(convert_options({}, CasesOptions, "cases"),
                        Matcher(convert_options(WATCH, WatchConfig, "watch")))
        [labels] = store.crm_apply(book, [later])
        states = {c.id: c.state for c in store.cases(state="all")}
    finally:
        store.close()
    assert states[case_id] == "resolved" and states[labels["case"]] == "new" and labels["case"] != case_id


async def test_sla_per_channel_and_severity_in_business_hours(care) -> None:
    care.configure(cases={
        "first_response": "1h",
        "business_hours": {"timezone": "UTC", "start": "09:00", "end": "17:00"},
        "sla": [
            {"severities": ["high", "critical"], "first_response": "15m", "business_hours": False},
            {"channels": ["email"], "first_response": "4h"},
        ],
    })
    angry = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social worst airline ever", minutes=-600)
    angry.extra["preset"] = {"labels": {"sentiment": "negative"}}
    calm_mail = email("al@example.com", "Could you check my booking?", minutes=-600)  # Monday 23:00 UTC
    await care.replay([angry, calm_mail, filler(0)], keep_state=True)
    store = store_of(care)
    try:
        cases = {c.channels[0]: c for c in store.cases(state="all")}
        assert cases["bluesky"].severity == "high"
        assert cases["bluesky"].sla_due_at == at(-600 + 15).timestamp()  # around the clock
        # 4 business hours from Monday 23:00 UTC: Tuesday 13:00 UTC.
        assert cases["email"].severity == "medium" and cases["email"].sla_due_at == at(4 * 60).timestamp()
    finally:
        store.close()


def test_re_applying_a_batch_changes_nothing(tmp_path) -> None:
    """What a crash between the case step and the checkpoint does: the batch comes again."""
    store = open_store(tmp_path)
    options = convert_options({}, CasesOptions, "cases")
    book = CaseBook(options, Matcher(convert_options(WATCH, WatchConfig, "watch")))
    mail = email("jo@example.com", SIGNED, minutes=0)
    post = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social hello?", minutes=5)
    answer = bluesky("did:plc:acme", "acme.bsky.social", "@jo.bsky.social hi!", minutes=9, reply_to=post.id)
    batch = [mail, post, answer]
    store.ingest("test", batch, None)
    first = store.crm_apply(book, batch)
    before = ([c.to_dict() for c in store.cases(state="all")], store.case_mentions(store.cases(state="all")[0].id))
    second = store.crm_apply(book, batch)
    after = ([c.to_dict() for c in store.cases(state="all")], store.case_mentions(store.cases(state="all")[0].id))
    store.close()
    assert first == second  # the same labels: the triggers see the same stream
    assert before == after and len(before[0]) == 1


def test_the_dashboard_reads_open_cases_most_urgent_first(tmp_path) -> None:
    store = open_store(tmp_path)
    book = CaseBook(convert_options({}, CasesOptions, "cases"),
                    Matcher(convert_options(WATCH, WatchConfig, "watch")))
    mentions = [email(f"c{i}@example.com", "help", minutes=m) for i, m in enumerate([30, 0, 10])]
    store.ingest("test", mentions, None)
    store.crm_apply(book, mentions)
    page = store.cases(state="open", limit=2, offset=0)
    rest = store.cases(state="open", limit=2, offset=2)
    store.close()
    assert [c.opened_at for c in page + rest] == [at(0).timestamp(), at(10).timestamp(), at(30).timestamp()]
    data = page[0].to_dict()
    assert data["sla_due_at"] == format_time(at(60)) and data["state"] == "new" and data["waiting"] == 1
    with pytest.raises(ValueError):
        open_store(tmp_path).cases(state="lost")
