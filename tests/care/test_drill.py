"""Drills: ``sentineld replay --speed 600 --notify`` plays a recorded crisis through the real
notifiers in accelerated real time. The SLA timers and escalations fire between mentions, on the
paced clock, so the receiver hears of each event at (event time − first event time) / speed.

The timing assertions are deliberately loose (a loaded machine delays things): this checks the
pace, not the speed of anything."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pytest

from sentineld.model import encode_mention
from tests.care.helpers import email, filler
from tests.notifiers.receivers import WebhookReceiver

SECRET = "drill-secret"
SPEED = 600
TOLERANCE = 0.6  # seconds of wall clock


@pytest.mark.slow
async def test_a_recorded_crisis_plays_through_the_notifiers_at_600x(tmp_path: Path, serve) -> None:
    receiver = await serve(WebhookReceiver(SECRET))
    jo = email("jo@example.com", "My flight was cancelled, refund?", minutes=0)
    crisis = [
        jo,
        filler(10),
        email("al@example.com", "Same here, nobody answers", minutes=30),
        email("care@acme.example", "Dear Jo, your refund is on its way.", minutes=45, reply_to=jo.id),
        filler(48),  # before Al's escalation at 50m
    ]
    recorded = tmp_path / "crisis.jsonl"
    recorded.write_bytes(b"".join(encode_mention(m) + b"\n" for m in crisis))
    config = tmp_path / "drill.toml"
    config.write_text(textwrap.dedent(f"""
        [sentineld]
        tick = "1m"
        log_level = "warning"
        [watch]
        brand = ["acme"]
        accounts = ["acme", "care@acme.example"]
        [triggers.waiting]
        type = "unanswered"
        [cases]
        first_response = "5m"
        [notifiers.care_team]
        type = "webhook"
        url = "{receiver.url}/care_team"
        secret = {{ env = "HOOK_SECRET" }}
        [notifiers.oncall]
        type = "webhook"
        url = "{receiver.url}/oncall"
        secret = {{ env = "HOOK_SECRET" }}
        [[playbooks.rules]]
        name = "waiting"
        match = ["kind=unanswered"]
        steps = [{{ notify = ["care_team"] }}, {{ after = "15m", notify = ["oncall"] }}]
    """))
    started = asyncio.get_running_loop().time()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sentineld", "replay", "--speed", str(SPEED), "--notify",
        "-c", str(config), str(recorded),
        env={**os.environ, "HOOK_SECRET": SECRET}, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    elapsed = asyncio.get_running_loop().time() - started
    assert process.returncode == 0, stderr.decode()

    heard = [(request.path.strip("/"), payload["event"])
             for (request, _), payload in zip(receiver.requests, receiver.processed.values(), strict=True)]
    # Event times: Jo waits past 5m (opened), nobody acknowledges by 20m (on-call paged),
    # Al waits past 35m (opened), Jo is answered at 45m (resolved, to both who heard of it).
    assert heard == [
        ("care_team", "opened"), ("oncall", "opened"), ("care_team", "opened"),
        ("care_team", "resolved"), ("oncall", "resolved"),
    ] or heard == [
        ("care_team", "opened"), ("oncall", "opened"), ("care_team", "opened"),
        ("oncall", "resolved"), ("care_team", "resolved"),
    ]
    event_minutes = [5, 20, 35, 45, 45]
    expected = [(m - event_minutes[0]) * 60 / SPEED for m in event_minutes]
    actual = [t - receiver.times[0] for t in receiver.times]
    for want, got in zip(expected, actual, strict=True):
        assert abs(got - want) <= TOLERANCE, (expected, actual)
    # Paced, not as fast as possible: 48 minutes of event time take about 5 seconds.
    assert elapsed >= 48 * 60 / SPEED * 0.8


def test_a_drill_says_which_notifications_its_recording_ended_before(tmp_path: Path, cli) -> None:
    """A replay stops at its last mention: five customers left waiting, one notification (the
    others wait for the group's next one, 5m later in event time) and one escalation step 15m
    later. The drill said nothing of them; now its summary counts them."""
    stream = [email(f"c{k}@example.com", "Where is my refund?", minutes=k * 0.2) for k in range(5)]
    stream.append(filler(8))
    recorded = tmp_path / "crisis.jsonl"
    recorded.write_bytes(b"".join(encode_mention(m) + b"\n" for m in stream))
    config = tmp_path / "drill.toml"
    config.write_text(textwrap.dedent("""
        [sentineld]
        tick = "1m"
        [watch]
        brand = ["acme"]
        accounts = ["care@acme.example"]
        [triggers.waiting]
        type = "unanswered"
        [cases]
        first_response = "5m"
        [notifiers.log]
        type = "file"
        path = "notified.jsonl"
        [[playbooks.rules]]
        name = "waiting"
        match = ["kind=unanswered"]
        steps = [{ notify = ["log"] }, { after = "15m", notify = ["log"] }]
    """))
    result = cli("replay", "--notify", "-c", str(config), str(recorded))
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "notified.jsonl").read_text().splitlines()) == 1
    assert ("alerts 5 opened, 0 resolved; never notified, due after the last recorded mention: 4 alerts "
            "held for their group's next notification (group_interval), 1 escalation steps") in result.stderr
    quiet = cli("replay", "-c", str(config), str(recorded))
    assert "never notified" not in quiet.stderr


def test_a_drill_says_what_its_receivers_never_got(tmp_path: Path, cli) -> None:
    """The receiver is down: replay gave its deliveries a short grace, then ended as if all was
    well, the notification thrown away with the replay's store."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    recorded = tmp_path / "crisis.jsonl"
    recorded.write_bytes(encode_mention(email("jo@example.com", "Refund?", minutes=0)) + b"\n"
                         + encode_mention(filler(10)) + b"\n")
    config = tmp_path / "drill.toml"
    config.write_text(textwrap.dedent(f"""
        [watch]
        brand = ["acme"]
        accounts = ["care@acme.example"]
        [triggers.waiting]
        type = "unanswered"
        [cases]
        first_response = "5m"
        [notifiers.care_team]
        type = "webhook"
        url = "http://127.0.0.1:{closed}/hook"
        secret = {{ env = "HOOK_SECRET" }}
    """))
    env = {"HOOK_SECRET": SECRET}
    lost = cli("replay", "--notify", "-c", str(config), str(recorded), env=env)
    assert lost.returncode == 0, lost.stderr
    assert ("alerts 1 opened, 0 resolved; 1 notifications not delivered (see the log), lost with this "
            "replay's throwaway store (keep them with --state-dir)") in lost.stderr
    kept = cli("replay", "--notify", "--state-dir", str(tmp_path / "state"), "-c", str(config), str(recorded), env=env)
    assert "1 notifications not delivered (see the log), left in the outbox of --state-dir" in kept.stderr
