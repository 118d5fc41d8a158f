"""Resolving a case by hand (`sentineld resolve`) closes its open `unanswered` alert: the daemon
reads the resolution from the store and settles the case's mentions at the first clock tick at
or after the moment it was made, once, across restarts."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentineld.cli import main as cli_main
from sentineld.config import load_config
from sentineld.daemon import Daemon
from sentineld.model import Author, Mention, encode_mention
from sentineld.store import open_store
from sentineld.testing import Harness
from tests.care.helpers import at, bluesky, email, filler
from tests.running import append_lines


class Stream:
    """A recorded stream that grows: each replay resumes where the last one stopped (the replay
    source's cursor is a position in the file, so the file is written again with more lines)."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.mentions: list[Mention] = []

    async def replay(self, *more: Mention) -> Any:
        self.mentions += more
        return await self.harness.replay(self.mentions, keep_state=True)


def resolve_by_hand(harness: Harness, minutes: float) -> str:
    """What `sentineld resolve` does, at a chosen moment: the one open case becomes resolved."""
    store = open_store(harness.config().state_dir)
    try:
        [case] = store.cases(state="open")
        store.set_case_state(case.id, "resolved", at(minutes).timestamp())
    finally:
        store.close()
    return case.id


async def test_resolving_a_case_resolves_its_unanswered_alert_at_the_next_tick(care: Harness) -> None:
    care.configure(triggers={"waiting": {"type": "unanswered"}}, cases={"first_response": "30m"})
    stream = Stream(care)
    first = await stream.replay(email("jo@example.com", "My refund?", minutes=0), filler(45))
    [alert] = first.opened
    assert alert.opened_at == at(30)

    resolve_by_hand(care, 50.5)
    later = await stream.replay(filler(49), filler(55), filler(70))
    assert later.opened == []
    [resolved] = later.resolved
    # The clock ticks every minute: the first tick at or after 50m30s is 51m.
    assert resolved.id == alert.id and resolved.resolved_at == at(51)


async def test_a_case_resolved_before_its_sla_raises_nothing(care: Harness) -> None:
    care.configure(triggers={"waiting": {"type": "unanswered"}}, cases={"first_response": "30m"})
    stream = Stream(care)
    await stream.replay(bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social where is my bag", minutes=0),
                        filler(5))
    resolve_by_hand(care, 10)
    later = await stream.replay(filler(20), filler(90))
    assert later.opened == [] and later.resolved == []


async def test_a_resolution_waiting_for_its_tick_survives_a_restart_and_counts_once(care: Harness) -> None:
    care.configure(triggers={"waiting": {"type": "unanswered"}}, cases={"first_response": "30m"})
    stream = Stream(care)
    [alert] = (await stream.replay(email("jo@example.com", "My refund?", minutes=0), filler(45))).opened
    resolve_by_hand(care, 100)
    # Read before its time in the stream: it waits in the checkpoint for the clock to get there.
    early = await stream.replay(filler(50), filler(60))
    assert early.resolved == []
    due = await stream.replay(filler(99), filler(120))
    assert [(a.id, a.resolved_at) for a in due.resolved] == [(alert.id, at(100))]
    after = await stream.replay(filler(130), filler(200))
    assert after.opened == [] and after.resolved == []


async def test_only_the_resolved_customers_alert_resolves(care: Harness) -> None:
    care.configure(triggers={"waiting": {"type": "unanswered"}}, cases={"first_response": "30m"})
    stream = Stream(care)
    jo = email("jo@example.com", "My refund?", minutes=0)
    al = bluesky("did:plc:al", "al.bsky.social", "@acme.bsky.social my seat?", minutes=1)
    first = await stream.replay(jo, al, filler(45))
    assert len(first.opened) == 2
    store = open_store(care.config().state_dir)
    try:
        jos = next(c for c in store.cases(state="open") if c.channels == ["email"])
        store.set_case_state(jos.id, "resolved", at(50).timestamp())
    finally:
        store.close()
    later = await stream.replay(filler(60), filler(80))
    [resolved] = later.resolved
    assert resolved.channel == "email" and resolved.resolved_at == at(50)


# --------------------------------------------------------------------------- the live daemon

LIVE = """
[sentineld]
state_dir = "state"
checkpoint_interval = "100ms"
tick = "200ms"

[watch]
brand = ["acme"]
accounts = ["acme"]

[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "20ms"

[triggers.waiting]
type = "unanswered"

[cases]
first_response = "1s"

[alerting]
silence_poll = "100ms"

[notifiers.log]
type = "file"
path = "notified.jsonl"
"""


async def until(check: Any, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def notified(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_sentineld_resolve_on_a_running_daemon_resolves_the_alert_and_notifies_once(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.chdir(tmp_path)
    config_path = tmp_path / "sentineld.toml"
    config_path.write_text(LIVE)
    (tmp_path / "inbox.jsonl").touch()
    daemon = Daemon(load_config(config_path))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop=stop))
    log = tmp_path / "notified.jsonl"
    try:
        complaint = Mention(
            id="mastodon:mastodon.example:110000000000000077", source="mastodon",
            created_at=datetime.now(UTC), text="@acme where is my refund?",
            author=Author(id="jo@mastodon.example", handle="jo"),
        )
        append_lines(tmp_path / "inbox.jsonl", [encode_mention(complaint).decode()])

        async def opened() -> list[dict[str, Any]]:
            return [n for n in notified(log) if n["event"] == "opened"]

        [opening] = await until(opened)  # the 1-second SLA passed on the live clock
        assert opening["alert"]["kind"] == "unanswered"
        [case] = await daemon.pipeline.store.call("cases", state="open")

        # The command line, as a person runs it beside the daemon (its own store connection).
        assert await asyncio.to_thread(cli_main, ["resolve", case.id, "-c", str(config_path)]) == 0

        async def resolved() -> list[dict[str, Any]]:
            return [n for n in notified(log) if n["event"] == "resolved"]

        [resolution] = await until(resolved)
        assert resolution["alert"]["id"] == opening["alert"]["id"]
        await asyncio.sleep(1.0)  # several more ticks and polls: nothing is sent twice
        assert [n["event"] for n in notified(log)] == ["opened", "resolved"]
        [stored] = await daemon.pipeline.store.call("alerts")
        assert stored.id == opening["alert"]["id"] and stored.resolved_at is not None
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
