"""Drafts through the real pipeline: drafted when an alert opens, stored for approval, linked to
the case, announced to the notifiers; posted only once approved, or only logged in a dry run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import structlog.testing

from sentineld.cli import main as cli_main
from sentineld.responses import PostingWorker
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld.supervisor import Guard
from sentineld.testing import Harness
from tests.care.helpers import cli_config, filler, mastodon
from tests.care.platforms import MastodonInstance

TOKEN = "mastodon-token"
HOSTILE = "@acme my bag {{ 7*7 }} is lost <script>alert(1)</script>"


def configure(care: Harness, instance_url: str, *, dry_run: bool) -> Harness:
    return care.configure(
        triggers={"waiting": {"type": "unanswered"}},
        cases={"first_response": "5m"},
        responders={
            "drafts": {"type": "template"},
            "toot": {"type": "mastodon", "base_url": instance_url, "access_token": {"env": "MASTODON_TOKEN"},
                     "host": "mastodon.example", "dry_run": dry_run},
        },
        responses={"templates": {"acknowledge": "Hi {{ author }}, about “{{ text }}”: we're on it."}},
        notifiers={"log": {"type": "file", "path": str(care.directory / "notified.jsonl")}},
    )


async def replay_complaint(care: Harness) -> tuple[Any, str]:
    complaint = mastodon("jo", HOSTILE, status="110000000000000042", minutes=0)
    result = await care.replay([complaint, filler(10)], notify=True, keep_state=True)
    return result, complaint.id


async def post_approved(care: Harness) -> int:
    config = care.config()
    worker = StoreWorker(open_store(config.state_dir))
    guards = [Guard(spec, config) for spec in config.of_kind("responder").values()]
    try:
        return await PostingWorker(config.sections["responses"], guards, worker).post_approved()
    finally:
        for guard in guards:
            await guard.stop()
        worker.close()


def drafts(care: Harness, state: str | None = None) -> list[Any]:
    store = open_store(care.config().state_dir)
    try:
        return store.drafts(state=state)
    finally:
        store.close()


async def test_a_draft_is_not_posted_until_approved(care, serve, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    instance = await serve(MastodonInstance(TOKEN, {"110000000000000042"}))
    configure(care, instance.url, dry_run=False)
    result, complaint = await replay_complaint(care)
    assert [a.kind for a in result.opened] == ["unanswered"]

    [draft] = drafts(care)
    assert draft.state == "pending" and draft.mention_id == complaint and draft.channel == "mastodon"
    assert draft.text == f"Hi @jo, about “{HOSTILE}”: we're on it."  # the mention stayed data
    assert draft.alert_id == result.opened[0].id and draft.case_id and draft.case_id.startswith("c-")
    # The notifiers heard of the draft waiting for approval.
    notified = [json.loads(line) for line in (care.directory / "notified.jsonl").read_text().splitlines()]
    assert [n["draft"]["text"] for n in notified if n["event"] == "drafted"] == [draft.text]

    assert await post_approved(care) == 0
    assert instance.requests == []

    assert cli_main(["approve", draft.id, "--by", "sam", "-c", cli_config(care)]) == 0
    assert "approved by sam" in capsys.readouterr().out
    assert await post_approved(care) == 1
    [posted] = drafts(care, "posted")
    assert posted.id == draft.id and posted.remote_id and posted.approved_by == "sam"
    assert [body["in_reply_to_id"] for body in instance.accepted] == ["110000000000000042"]
    assert await post_approved(care) == 0 and len(instance.statuses) == 1  # never twice


async def test_an_edited_approval_posts_the_edited_text(care, serve, monkeypatch) -> None:
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    instance = await serve(MastodonInstance(TOKEN, {"110000000000000042"}))
    configure(care, instance.url, dry_run=False)
    await replay_complaint(care)
    [draft] = drafts(care)
    with pytest.raises(SystemExit) as blank:
        cli_main(["approve", draft.id, "--text", "  ", "-c", cli_config(care)])
    assert blank.value.code == 2 and [d.state for d in drafts(care)] == ["pending"]
    assert cli_main(["approve", draft.id, "--text", "Hi Jo, DM us please.", "-c",
                     cli_config(care)]) == 0
    await post_approved(care)
    assert [body["status"] for body in instance.accepted] == ["Hi Jo, DM us please."]


async def test_approved_drafts_no_responder_posts_do_not_starve_the_others(care, serve, monkeypatch,
                                                                         capsys) -> None:
    """A page of approved drafts on channels nobody posts on (statements for every channel,
    e-mail replies) stays approved for ever; the reply behind them is still posted."""
    import tomli_w

    from sentineld.store.crm import DraftRecord

    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    instance = await serve(MastodonInstance(TOKEN, {"110000000000000042"}))
    configure(care, instance.url, dry_run=False)
    await replay_complaint(care)
    [draft] = drafts(care)
    store = open_store(care.config().state_dir)
    store.save_drafts([
        DraftRecord(id=f"d-stuck{n:03d}", created_at=draft.created_at - 1000 + n, state="approved",
                    channel="*" if n % 2 else "email", responder="drafts", template="holding_statement",
                    text="We are on it.")
        for n in range(150)
    ])
    store.save_drafts([DraftRecord(id="d-statement", created_at=draft.created_at, state="pending",
                                   channel="*", responder="drafts", template="holding_statement",
                                   text="We are on it.")])
    store.close()
    config = care.directory / "with-responders.toml"
    config.write_text(tomli_w.dumps({name: care.tables[name] for name in ("sentineld", "watch", "responders")}))
    assert cli_main(["approve", "d-statement", "-c", str(config)]) == 0
    assert "no configured responder posts on '*'" in capsys.readouterr().out
    assert cli_main(["approve", draft.id, "-c", str(config)]) == 0
    assert "posts it on mastodon through responder toot" in capsys.readouterr().out
    assert await post_approved(care) == 1
    assert [d.id for d in drafts(care, "posted")] == [draft.id]
    assert len(instance.accepted) == 1


async def test_dry_run_logs_instead_of_posting(care, serve, monkeypatch) -> None:
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    instance = await serve(MastodonInstance(TOKEN, {"110000000000000042"}))
    configure(care, instance.url, dry_run=True)
    await replay_complaint(care)
    [draft] = drafts(care)
    store = open_store(care.config().state_dir)
    store.approve_draft(draft.id, "sam")
    store.close()
    with structlog.testing.capture_logs() as logs:
        assert await post_approved(care) == 1
    assert instance.requests == []
    assert [d.id for d in drafts(care, "dry_run")] == [draft.id]
    assert any(entry["event"].startswith("dry run") and entry["draft"] == draft.id for entry in logs)
    # What the dry run showed is posted for real once dry_run is off and the draft approved again.
    configure(care, instance.url, dry_run=False)
    store = open_store(care.config().state_dir)
    store.approve_draft(draft.id, "sam")
    store.close()
    assert await post_approved(care) == 1
    assert [d.id for d in drafts(care, "posted")] == [draft.id] and len(instance.accepted) == 1


async def test_a_refused_reply_fails_the_draft_after_a_permanent_error(care, serve, monkeypatch) -> None:
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)
    instance = await serve(MastodonInstance(TOKEN, set()))  # the status is unknown there: 404
    configure(care, instance.url, dry_run=False)
    await replay_complaint(care)
    [draft] = drafts(care)
    store = open_store(care.config().state_dir)
    store.approve_draft(draft.id, "sam")
    store.close()
    await post_approved(care)
    [failed] = drafts(care, "failed")
    assert "404" in (failed.error or "") and failed.attempts == 1


def test_drafts_cli_lists_and_rejects(care, tmp_path: Path, capsys) -> None:
    from sentineld.store.crm import DraftRecord

    care.config()
    store = open_store(care.config().state_dir)
    store.save_drafts([DraftRecord(id="d-1", created_at=1.0, state="pending", channel="bluesky",
                                   responder="drafts", template="acknowledge", text="Hi there")])
    store.close()
    path = cli_config(care)
    assert cli_main(["drafts", "-c", path]) == 0
    assert "d-1" in capsys.readouterr().out
    assert cli_main(["drafts", "--reject", "d-1", "-c", path]) == 0
    assert cli_main(["drafts", "--json", "--state", "rejected", "-c", path]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1])["state"] == "rejected"
    try:
        cli_main(["approve", "d-1", "-c", path])
    except SystemExit as exc:
        assert exc.code == 1
    else:
        raise AssertionError("a rejected draft was approved")
