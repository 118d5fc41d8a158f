"""The lifecycle through the real pipeline and a real store: silences set with the CLI (before a
replay, and while a live pipeline runs), re-notify in event time, and `sentineld alerts`."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentineld.cli import main as cli_main
from sentineld.config import load_config
from sentineld.model import Mention, encode_mention, format_time
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld.testing import make_mention
from tests.streams import ACME_CONFIG, burst_stream, write_lines

FILE_NOTIFIER = """
[notifiers.log]
type = "file"
path = "notified.jsonl"
fsync = false
"""


def setup(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "sentineld.toml"
    config.write_text(ACME_CONFIG.replace('tick = "1h"', 'tick = "1m"') + FILE_NOTIFIER + extra)
    return config


def replay(config: Path, stream: Path, capsys) -> list[dict]:
    assert cli_main(["replay", "--json", "--notify", "--state-dir", str(config.parent / "state"),
                     "-c", str(config), str(stream)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def outbox_keys(state: Path) -> list[str]:
    store = open_store(state)
    try:
        return [item.key for item in reversed(store.outbox(limit=1000))]
    finally:
        store.close()


def test_a_silence_set_with_the_cli_mutes_a_replay_but_keeps_its_alerts(tmp_path: Path, capsys) -> None:
    config = setup(tmp_path)
    stream = write_lines(tmp_path / "stream.jsonl", burst_stream())
    assert cli_main(["silence", "add", "-c", str(config), "kind=volume_spike", "subject=brand",
                     "--start", "2026-11-01T00:00:00Z", "--until", "2026-12-01T00:00:00Z",
                     "--reason", "drill: nobody to page", "--by", "tester"]) == 0
    silence_id = capsys.readouterr().out.strip()
    alerts = replay(config, stream, capsys)
    assert {(a["subject"], a["channel"]) for a in alerts} == {("brand", "*"), ("brand", "bluesky")}
    assert outbox_keys(tmp_path / "state") == []

    assert cli_main(["alerts", "--json", "-c", str(config)]) == 0
    stored = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(stored) == 2 and all(a["resolved_at"] for a in stored)

    assert cli_main(["silence", "list", "--all", "--json", "-c", str(config)]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(s["id"], s["reason"], s["created_by"], s["matchers"]) for s in listed] == [
        (silence_id, "drill: nobody to page", "tester", ["kind=volume_spike", "subject=brand"])]


def test_an_alert_still_open_when_its_silence_ends_is_notified_then(tmp_path: Path, capsys) -> None:
    config = setup(tmp_path)
    stream = write_lines(tmp_path / "stream.jsonl", burst_stream())
    reference = replay(config, stream, capsys)
    brand_wide = next(a for a in reference if a["channel"] == "*" and a["resolved_at"] is None)
    opened = datetime.fromisoformat(brand_wide["opened_at"].replace("Z", "+00:00"))
    notified_straight = outbox_keys(tmp_path / "state")
    assert notified_straight == [f"{brand_wide['id']}:opened:log", f"{brand_wide['id']}:resolved:log"]

    again = tmp_path / "again"
    again.mkdir()
    config = setup(again)
    silence_end = opened + timedelta(minutes=3)
    assert cli_main(["silence", "add", "-c", str(config), "kind=volume_spike",
                     "--start", format_time(opened - timedelta(days=1)), "--until",
                     format_time(silence_end), "--reason", "looking into it"]) == 0
    capsys.readouterr()
    replay(config, stream, capsys)
    store = open_store(again / "state")
    try:
        items = list(reversed(store.outbox(limit=100)))
    finally:
        store.close()
    # Held while silenced, sent at the first tick after the silence ended, then resolved as usual.
    assert [item.key for item in items] == notified_straight
    payload = json.loads(items[0].payload)
    assert payload["event"] == "opened" and payload["meta"]["group"] == "kind=volume_spike|subject_root=brand"


def test_renotify_follows_event_time_through_the_pipeline(tmp_path: Path, capsys) -> None:
    config = setup(tmp_path, '\n[alerting]\nrenotify = "3m"\n')
    stream = write_lines(tmp_path / "stream.jsonl", burst_stream())
    alerts = replay(config, stream, capsys)
    brand_wide = next(a for a in alerts if a["channel"] == "*" and a["resolved_at"] is None)
    resolved = next(a for a in alerts if a["channel"] == "*" and a["resolved_at"])
    keys = outbox_keys(tmp_path / "state")
    renotified = [k for k in keys if ":renotify:" in k]
    opened = datetime.fromisoformat(brand_wide["opened_at"].replace("Z", "+00:00"))
    closed = datetime.fromisoformat(resolved["resolved_at"].replace("Z", "+00:00"))
    # one per 3 minutes of event time while open, on the 1-minute tick boundaries
    expected = int((closed - opened).total_seconds() // 180)
    assert expected >= 2 and len(renotified) in (expected, expected - 1)
    assert keys[0] == f"{brand_wide['id']}:opened:log" and keys[-1] == f"{brand_wide['id']}:resolved:log"
    assert len(keys) == len(set(keys))


def test_alerts_command_shows_why_an_open_alert_is_not_notified(tmp_path: Path, capsys) -> None:
    config = setup(tmp_path)
    lines = burst_stream()[:-150]  # stop inside the burst: the alerts stay open
    stream = write_lines(tmp_path / "stream.jsonl", lines)
    replay(config, stream, capsys)
    now = datetime.now(UTC)
    assert cli_main(["silence", "add", "-c", str(config), "subject=brand", "channel=bluesky",
                     "--until", format_time(now + timedelta(hours=1)), "--reason", "on it"]) == 0
    silence_id = capsys.readouterr().out.strip()
    assert cli_main(["alerts", "--open", "-c", str(config)]) == 0
    text = capsys.readouterr().out
    blocks = {block.split("  ")[3]: block for block in text.split("\n") if block.startswith("HIGH")}
    assert "brand" in text and "OPEN for" in text and "observed" in text
    assert f"not notified now: silence {silence_id}" in text
    assert cli_main(["alerts", "--open", "--json", "-c", str(config), "channel=*"]) == 0
    only = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(a["channel"], a["resolved_at"]) for a in only] == [("*", None)]
    assert blocks


def test_silence_expire_and_errors(tmp_path: Path, capsys) -> None:
    config = setup(tmp_path)
    assert cli_main(["silence", "add", "-c", str(config), "kind=viral_post", "--for", "2h",
                     "--reason", "campaign"]) == 0
    silence_id = capsys.readouterr().out.strip()
    assert cli_main(["silence", "list", "-c", str(config)]) == 0
    assert silence_id in capsys.readouterr().out
    assert cli_main(["silence", "expire", "-c", str(config), silence_id]) == 0
    assert "expired at" in capsys.readouterr().out
    assert cli_main(["silence", "list", "-c", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "no active or pending silences"
    assert cli_main(["silence", "expire", "-c", str(config), "nosuchid"]) == 1
    assert "no silence nosuchid" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        cli_main(["silence", "add", "-c", str(config), "kind=viral_post", "--for", "2h"])
    assert bad.value.code == 2  # --reason is required
    with pytest.raises(SystemExit) as bad:
        cli_main(["silence", "add", "-c", str(config), "color=red", "--for", "2h", "--reason", "x"])
    assert bad.value.code == 2 and "unknown label 'color'" in capsys.readouterr().err


# --------------------------------------------------------------------------- live


def acme(moment: datetime, index: int, text: str = "flying with @acme today") -> Mention:
    return make_mention(text, id=f"bluesky:{index}", source="bluesky", at=moment, author=f"u{index}")


async def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_running_pipeline_obeys_silences_added_and_expired_with_the_cli(tmp_path: Path) -> None:
    """While the daemon runs: a silence added with the CLI holds the alert's notification back
    (the alert is stored), and expiring it lets the notification out."""
    inbox = tmp_path / "inbox.jsonl"
    inbox.touch()
    config_path = tmp_path / "sentineld.toml"
    config_path.write_text(f"""
[sentineld]
state_dir = "state"
tick = "1s"
checkpoint_interval = "100ms"
[watch]
brand = ["acme", "@acme"]
[alerting]
silence_poll = "100ms"
[sources.inbox]
type = "jsonl"
path = "{inbox}"
poll_interval = "50ms"
[triggers.buzz]
type = "volume_spike"
window = "10m"
per_channel = false
{FILE_NOTIFIER.replace('"notified.jsonl"', repr(str(tmp_path / "notified.jsonl")).replace("'", '"'))}
""")
    config = load_config(config_path)
    # Event times a little ahead of the wall clock, so that live ticks do not close the window.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    burst_at = now + timedelta(minutes=10 - now.minute % 10 + 10)
    history = [acme(burst_at - timedelta(minutes=100) + timedelta(minutes=i), i) for i in range(99)]
    burst = [acme(burst_at + timedelta(seconds=5 * k), 1000 + k, "@acme lost my bag") for k in range(40)]

    worker = StoreWorker(open_store(config.state_dir))
    pipeline = Pipeline(config, worker, live=True, notify=True)
    await pipeline.start()
    try:
        with inbox.open("ab") as handle:
            handle.write(b"".join(encode_mention(m) + b"\n" for m in history))
        await wait_for(lambda: _stored(pipeline, len(history)))

        assert cli_main(["silence", "add", "-c", str(config_path), "kind=volume_spike",
                         "--for", "1d", "--reason", "fire drill"]) == 0
        await wait_for(lambda: _silences(pipeline, 1))
        with inbox.open("ab") as handle:
            handle.write(b"".join(encode_mention(m) + b"\n" for m in burst))
        await wait_for(lambda: _opened(worker))
        await asyncio.sleep(0.5)
        assert await worker.call("outbox") == []

        silence = (await worker.call("silences"))[0]
        assert cli_main(["silence", "expire", "-c", str(config_path), silence.id]) == 0
        await wait_for(lambda: _silences_ended(pipeline))
        late = acme(burst_at + timedelta(minutes=5), 2000, "@acme still no bag")
        with inbox.open("ab") as handle:
            handle.write(encode_mention(late) + b"\n")
        await wait_for(lambda: _delivered(worker))
    finally:
        await pipeline.stop()
        worker.close()
    lines = [json.loads(line) for line in (tmp_path / "notified.jsonl").read_text().splitlines()]
    assert [(n["event"], n["alert"]["kind"]) for n in lines] == [("opened", "volume_spike")]


async def _stored(pipeline: Pipeline, count: int) -> bool:
    return pipeline.stats.stored >= count


async def _silences(pipeline: Pipeline, count: int) -> bool:
    return len(pipeline.alerts.silences) >= count


async def _silences_ended(pipeline: Pipeline) -> bool:
    return all(s.ends_at <= datetime.now(UTC) for s in pipeline.alerts.silences)


async def _opened(worker: StoreWorker) -> bool:
    return bool(await worker.call("alerts", open_only=True))


async def _delivered(worker: StoreWorker) -> bool:
    return any(item.state == "delivered" for item in await worker.call("outbox"))
