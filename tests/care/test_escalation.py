"""Escalation through the real pipeline, in event time: the care team hears of an unanswered
customer at once; nobody acknowledges within 15 minutes, so on-call is paged; an
acknowledgement before then (``sentineld ack``) stops the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sentineld.store import open_store
from sentineld.testing import Harness
from tests.care.conftest import WATCH
from tests.care.helpers import at, email, filler
from tests.triggers.conftest import PresetPlugin


def drill(directory: Path) -> Harness:
    directory.mkdir(parents=True, exist_ok=True)
    return Harness(directory).with_plugins(PresetPlugin()).configure(
        watch=WATCH,
        sentineld={"tick": "1m", "checkpoint_interval": "50ms"},
        triggers={"waiting": {"type": "unanswered"}},
        cases={"first_response": "5m"},
        notifiers={
            "care_team": {"type": "file", "path": str(directory / "care_team.jsonl")},
            "oncall": {"type": "file", "path": str(directory / "oncall.jsonl")},
        },
        playbooks={"rules": [{
            "name": "waiting customers", "match": ["kind=unanswered"], "owner": "care lead",
            "steps": [{"notify": ["care_team"]}, {"after": "15m", "notify": ["oncall"]}],
        }]},
    )


def received(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


STREAM = [email("jo@example.com", "Where is my refund?", minutes=0), filler(10), filler(19), filler(21), filler(30)]


async def test_nobody_acknowledges_so_oncall_is_paged_at_15_minutes(tmp_path: Path) -> None:
    harness = drill(tmp_path)
    result = await harness.replay(STREAM, notify=True, keep_state=True)
    [alert] = result.opened
    assert alert.opened_at == at(5)
    care_team = received(tmp_path / "care_team.jsonl")
    oncall = received(tmp_path / "oncall.jsonl")
    assert [(n["event"], n["alert"]["id"]) for n in care_team] == [("opened", alert.id)]
    assert [(n["event"], n["alert"]["id"]) for n in oncall] == [("opened", alert.id)]
    assert oncall[0]["key"] == f"{alert.id}:escalation:waiting customers:1:oncall"


async def test_an_acknowledgement_before_15_minutes_stops_the_page(tmp_path: Path) -> None:
    first = await drill(tmp_path / "first").replay(STREAM, notify=True)
    [alert] = first.opened
    harness = drill(tmp_path / "second")
    store = open_store(harness.config().state_dir)
    store.ack_alert(alert.id, at(12).timestamp(), "sam")
    store.close()
    result = await harness.replay(STREAM, notify=True, keep_state=True)
    assert [a.id for a in result.opened] == [alert.id]  # the same alert: ids derive from the stream
    assert received(tmp_path / "second" / "oncall.jsonl") == []
    care_team = received(tmp_path / "second" / "care_team.jsonl")
    assert [n["event"] for n in care_team] == ["opened", "acknowledged"]


async def test_an_answer_before_15_minutes_resolves_and_nobody_is_paged(tmp_path: Path) -> None:
    from tests.care.helpers import bluesky

    post = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social refund?", minutes=0)
    answer = bluesky("did:plc:acme", "acme.bsky.social", "@jo.bsky.social DM us", minutes=12, reply_to=post.id)
    harness = drill(tmp_path)
    await harness.replay([post, filler(10), answer, filler(21), filler(30)], notify=True)
    assert [n["event"] for n in received(tmp_path / "care_team.jsonl")] == ["opened", "resolved"]
    assert received(tmp_path / "oncall.jsonl") == []


async def test_an_escalation_after_the_customer_deleted_the_post_does_not_quote_it(tmp_path: Path) -> None:
    """The care team heard of the complaint with its text at 5 minutes; its author deleted it
    at 8, with no alert event since. On-call's page at 20 says a post was deleted instead."""
    from sentineld.model import encode_mention, format_time
    from sentineld.replay import replay

    complaint = email("jo@example.com", "Where is my refund?", minutes=0)
    harness = drill(tmp_path)
    # One file: a replay reads several files as concurrent sources, in no set order.
    path = harness.write_jsonl([complaint, filler(7)])
    with path.open("ab") as handle:
        handle.write(json.dumps({"deleted": complaint.id, "at": format_time(at(8))}).encode() + b"\n")
        handle.writelines(encode_mention(m) + b"\n" for m in [filler(10), filler(19), filler(21), filler(30)])
    config = harness.config()
    await replay(config, [str(path)], notify=True, state_dir=config.state_dir)
    [told] = received(tmp_path / "care_team.jsonl")
    [paged] = received(tmp_path / "oncall.jsonl")
    assert "Where is my refund?" in json.dumps(told)
    assert paged["key"].endswith(":escalation:waiting customers:1:oncall")
    assert "Where is my refund?" not in json.dumps(paged)
    assert paged["alert"]["evidence"]["redacted_mentions"] == [complaint.id]
