"""The plain notifiers: console lines and the JSON Lines file (exactly once per key)."""

from __future__ import annotations

import json

from sentineld.testing import make_alert


async def test_console_prints_one_line_per_event(sentineld_harness, capsys) -> None:
    sentineld_harness.configure(notifiers={"screen": {"type": "console", "stream": "stderr"}})
    alert = make_alert(summary="buzz 5x", severity="high", channel="bluesky")
    await sentineld_harness.notify("screen", alert)
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "[HIGH] opened volume_spike subject=brand channel=bluesky" in err and "buzz 5x" in err


async def test_file_appends_each_key_once_across_restarts(sentineld_harness, tmp_path) -> None:
    path = tmp_path / "out" / "notified.jsonl"
    sentineld_harness.configure(notifiers={"log": {"type": "file", "path": str(path)}})
    alert = make_alert()
    await sentineld_harness.notify("log", alert, "opened")
    await sentineld_harness.notify("log", alert, "opened")  # a new instance: reads what is there
    await sentineld_harness.notify("log", alert, "resolved")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["key"], line["event"]) for line in lines] == [
        (f"{alert.id}:opened:log", "opened"), (f"{alert.id}:resolved:log", "resolved"),
    ]
    assert lines[0]["alert"]["id"] == alert.id


async def test_file_keeps_a_group_notifications_listing(sentineld_harness, tmp_path) -> None:
    path = tmp_path / "notified.jsonl"
    sentineld_harness.configure(notifiers={"log": {"type": "file", "path": str(path)}})
    first, second = make_alert(), make_alert(channel="bluesky")
    await sentineld_harness.notify("log", first, "opened", meta={"alerts": [first.id, second.id]})
    (line,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert line["meta"] == {"alerts": [first.id, second.id]}
