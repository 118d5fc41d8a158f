"""The JSON Lines source followed live: growth, partial lines, restarts and log rotation."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sentineld.model import encode_mention
from sentineld.testing import make_mention


def lines(*ids: str) -> bytes:
    return b"".join(encode_mention(make_mention(f"@acme {i}", id=f"test:{i}")) + b"\n" for i in ids)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def source_config(path: Path, **extra: object) -> dict:
    return {"inbox": {"type": "jsonl", "path": str(path), "poll_interval": "20ms",
                      "rotate_wait": "200ms", **extra}}


def ids(mentions) -> list[str]:
    return [m.id for m in mentions]


async def test_follows_growth_and_waits_for_a_partial_line(live_core, tmp_path: Path) -> None:
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(lines("1", "2"))
    async with live_core.running(source_config(path)) as core:
        assert ids(await core.wait_stored(2)) == ["test:1", "test:2"]
        third = lines("3")
        append(path, third[:10])  # a writer in the middle of a line
        await core.wait_for(lambda: core.source("inbox").lines_read == 2, what="a read")
        append(path, third[10:] + lines("4"))
        assert ids(await core.wait_stored(4)) == ["test:1", "test:2", "test:3", "test:4"]
        assert core.source("inbox").malformed == 0
        cursor = json.loads(await core.cursor("inbox"))
        assert cursor["offset"] == path.stat().st_size
        assert (cursor["dev"], cursor["inode"]) == (path.stat().st_dev, path.stat().st_ino)


async def test_resume_after_restart_without_gap_or_duplicate(live_core, tmp_path: Path) -> None:
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(lines("1", "2", "3"))
    async with live_core.running(source_config(path)) as core:
        await core.wait_stored(3)
    append(path, lines("4", "5"))
    async with live_core.running(source_config(path)) as core:
        stored = await core.wait_stored(5)
        assert core.source("inbox").lines_read == 2  # only what came after the cursor
        assert core.pipeline.stats.duplicates == 0
    assert ids(stored) == [f"test:{i}" for i in range(1, 6)]


async def test_rotated_by_rename_finishes_the_old_file_then_reads_the_new(
    live_core, tmp_path: Path
) -> None:
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(lines("1", "2"))
    async with live_core.running(source_config(path)) as core:
        await core.wait_stored(2)
        old_inode = path.stat().st_ino
        path.rename(tmp_path / "mentions.jsonl.1")  # logrotate's default ("create")
        path.write_bytes(lines("new-1", "new-2"))
        # The writer has not reopened yet: its late lines still go to the renamed file.
        append(tmp_path / "mentions.jsonl.1", lines("late-3"))
        stored = await core.wait_stored(5)
        assert set(ids(stored)) == {"test:1", "test:2", "test:late-3", "test:new-1", "test:new-2"}
        assert ids(stored).index("test:late-3") < ids(stored).index("test:new-1")
        append(path, lines("new-3"))
        await core.wait_stored(6)
        assert core.source("inbox").rotations == 1
        cursor = json.loads(await core.cursor("inbox"))
        assert cursor["inode"] == path.stat().st_ino != old_inode
        assert cursor["offset"] == path.stat().st_size


async def test_truncated_in_place_reads_from_the_start(live_core, tmp_path: Path) -> None:
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(lines("1", "2", "3"))
    async with live_core.running(source_config(path)) as core:
        await core.wait_stored(3)
        with path.open("r+b") as handle:  # logrotate's "copytruncate"
            handle.truncate(0)
        await core.wait_for(lambda: core.source("inbox").rotations == 1, what="truncation")
        append(path, lines("after"))
        stored = await core.wait_stored(4)
        assert ids(stored)[-1] == "test:after"
        cursor = json.loads(await core.cursor("inbox"))
        assert cursor["offset"] == path.stat().st_size and cursor["line"] == 1


async def test_rotated_while_stopped_resumes_in_the_old_file(live_core, tmp_path: Path) -> None:
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(lines("1", "2"))
    async with live_core.running(source_config(path)) as core:
        await core.wait_stored(2)
    append(path, lines("3"))  # written after the stop, before the rotation
    path.rename(tmp_path / "mentions.jsonl-20261124")
    path.write_bytes(lines("4", "5"))
    async with live_core.running(source_config(path)) as core:
        stored = await core.wait_stored(5)
        assert core.pipeline.stats.duplicates == 0
        assert core.source("inbox").lines_read == 3
    assert ids(stored) == [f"test:{i}" for i in range(1, 6)]


async def test_rotated_while_stopped_and_old_file_gone(live_core, tmp_path: Path) -> None:
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(lines("1", "2"))
    async with live_core.running(source_config(path)) as core:
        await core.wait_stored(2)
    os.unlink(path)
    # Another file with a different inode (the old inode stays alive while the new one is made).
    keep = tmp_path / "keep"
    keep.write_bytes(b"x")
    path.write_bytes(lines("3"))
    async with live_core.running(source_config(path)) as core:
        stored = await core.wait_stored(3)
    assert ids(stored) == ["test:1", "test:2", "test:3"]


async def test_malformed_lines_are_counted_and_skipped(live_core, tmp_path: Path) -> None:
    path = tmp_path / "mentions.jsonl"
    bad = b'{"id": "test:x", "source": "test"}\n{not json\n'
    path.write_bytes(lines("1") + bad + lines("2"))
    async with live_core.running(source_config(path)) as core:
        stored = await core.wait_stored(2)
        await core.wait_for(lambda: core.source("inbox").malformed == 2, what="two rejects")
    assert ids(stored) == ["test:1", "test:2"]


async def test_cursor_without_inode_from_an_older_version_still_resumes(
    live_core, tmp_path: Path
) -> None:
    path = tmp_path / "mentions.jsonl"
    first = lines("1", "2")
    path.write_bytes(first + lines("3"))
    config = live_core.config(source_config(path))
    from sentineld.store import open_store

    store = open_store(config.state_dir)
    store.ingest("inbox", [], json.dumps({"offset": len(first), "line": 2}))
    store.close()
    async with live_core.running(source_config(path)) as core:
        stored = await core.wait_stored(1)
        assert core.source("inbox").lines_read == 1
    assert ids(stored) == ["test:3"]


async def test_speed_paces_mentions_by_their_event_times(live_core, tmp_path: Path) -> None:
    import time

    from sentineld.testing import EPOCH

    path = tmp_path / "drill.jsonl"
    path.write_bytes(b"".join(
        encode_mention(make_mention("@acme", id=f"test:{i}", at=EPOCH, minutes=i)) + b"\n"
        for i in range(3)
    ))
    async with live_core.running(source_config(path, speed=120.0)) as core:  # a minute in 0.5 s
        await core.wait_stored(1)
        first = time.monotonic()
        assert await core.count() == 1  # the next one is due half a second later
        await core.wait_stored(3)
        assert time.monotonic() - first >= 0.95  # two minutes of event time at 120x
