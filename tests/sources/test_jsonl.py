"""The JSON Lines source followed live: growth, partial lines, restarts and log rotation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentineld.model import Mention, MentionError, decode_mention, encode_mention
from sentineld.model import format_time
from sentineld.testing import EPOCH, make_mention


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


async def test_a_file_that_does_not_exist_yet_is_logged_once_and_then_read(live_core, tmp_path: Path) -> None:
    """A misspelt (or relative, decision 0603) path waited for ever with nothing in the log."""
    import structlog.testing

    path = tmp_path / "later.jsonl"
    with structlog.testing.capture_logs() as logs:
        async with live_core.running(source_config(path)) as core:
            await core.wait_for(lambda: core.source("inbox").health.state.value == "degraded",
                                what="the source waiting")
            path.write_bytes(lines("1"))
            assert ids(await core.wait_stored(1)) == ["test:1"]
    waiting = [e for e in logs if e["event"] == "file does not exist; waiting for it to appear"]
    assert [e["path"] for e in waiting] == [str(path)]


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
    nested = b"[" * 100_000 + b"]" * 100_000  # past both JSON parsers' depth
    bad = b'{"id": "test:x", "source": "test"}\n{not json\n' + nested + b"\n"
    path.write_bytes(lines("1") + bad + lines("2"))
    async with live_core.running(source_config(path)) as core:
        stored = await core.wait_stored(2)
        await core.wait_for(lambda: core.source("inbox").malformed == 3, what="three rejects")
    assert ids(stored) == ["test:1", "test:2"]


async def test_deletions_and_edits_between_the_lines_are_applied_once(live_core, tmp_path: Path) -> None:
    """A stream written with deletions and edits in the webhook's form (an export of a live
    source, a drill): each applied with the cursor of its line, a malformed one rejected with
    its reason, and nothing applied twice after a restart."""
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(
        lines("1", "2")
        + b'{"deleted": "test:1"}\n'
        + b'{"edited": "test:2", "text": "@acme 2, and still waiting", "at": "2026-11-24T11:00:00Z"}\n'
        + b'{"edited": "test:2"}\n'  # no text
        + b'{"deleted": "test:9"}\n'  # never stored
    )
    async with live_core.running(source_config(path)) as core:
        stats = core.pipeline.stats
        await core.wait_for(lambda: sum(stats.changes.values()) == 3, what="three changes")
        assert stats.changes == {"deleted": 1, "edited": 1, "unknown": 1, "repeated": 0}
        assert core.source("inbox").malformed == 1
        assert {m.id: m.text for m in await core.mentions()} == {"test:1": "", "test:2": "@acme 2, and still waiting"}
        # Without "at", a change happened at the event time of the mention before it.
        assert (await core.mentions())[0].extra["deleted_at"] == format_time(EPOCH)
    append(path, lines("3"))
    async with live_core.running(source_config(path)) as core:
        await core.wait_stored(3)
        assert core.pipeline.stats.changes == {}
        assert core.source("inbox").lines_read == 1


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


# --------------------------------------------------------------------------- lines decoded in bulk


def good_line(number: int) -> bytes:
    return encode_mention(make_mention(f"@acme number {number}", id=f"test:bulk-{number}"))


#: Lines that are not one Mention each, and the one-line forms the bulk decoder could confuse
#: them with (msgspec's `decode_lines` reads whitespace-separated values, not lines).
BAD_LINES = {
    "two objects on a line": lambda n: good_line(n) + b" " + good_line(n + 100_000),
    "two objects, no space": lambda n: good_line(n) + good_line(n + 100_000),
    "an object over two lines": lambda n: good_line(n).replace(b',"text"', b',\n"text"', 1),
    "blank": lambda n: b"",
    "spaces only": lambda n: b"  \r",
    "an unknown key": lambda n: good_line(n)[:-1] + b', "thread": 7}',
    "a bad count": lambda n: good_line(n).replace(b'"metrics":null', b'"metrics":{"likes":-1}'),
    "an empty id": lambda n: good_line(n).replace(f'"test:bulk-{n}"'.encode(), b'" "'),
    "not JSON": lambda n: b"{oops",
    "a closing brace in the text": lambda n: good_line(n).replace(b"number", b"} {", 1),
}


def test_the_bad_lines_are_bad() -> None:
    for kind, make in BAD_LINES.items():
        line = make(5)
        assert line != good_line(5), kind
        if kind not in ("an unknown key", "a closing brace in the text", "blank", "spaces only"):
            for part in line.split(b"\n"):
                with pytest.raises(MentionError):
                    decode_mention(part)


def line_by_line(data: bytes) -> tuple[list[Mention], list[int]]:
    """What reading `data` one line at a time accepts, and the numbers of the lines it rejects."""
    accepted, rejected = [], []
    for number, raw in enumerate(data.split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            accepted.append(decode_mention(raw))
        except MentionError:
            rejected.append(number)
    return accepted, rejected


async def read_all(path: Path, batch_size: int = 7) -> tuple[list[tuple[list[Mention], str]], list[int], Any]:
    from sentineld.components import ComponentContext
    from sentineld.watch import WatchConfig
    from sentineld_plugins.sources.jsonl import JsonlOptions, JsonlSource

    source = JsonlSource(JsonlOptions(path=str(path), follow=False, batch_size=batch_size),
                         ComponentContext("inbox", "source", WatchConfig(), path.parent))
    source.finite = True
    emitted: list[tuple[list[Mention], str]] = []
    rejected: list[int] = []
    original = source.reject

    def reject(reason: str, sample: object = None, **where: Any) -> None:
        assert reason.strip()
        rejected.append(where["line"])
        original(reason, sample, **where)

    async def emit(mentions: Any, cursor: Any, **_: Any) -> None:
        emitted.append((list(mentions), cursor))

    source.reject = reject  # type: ignore[method-assign]
    await source.run(emit)  # type: ignore[arg-type]
    return emitted, rejected, source


def assert_same_as_line_by_line(data: bytes, emitted: list[tuple[list[Mention], str]], rejected: list[int]) -> None:
    """The same mentions and rejections as line by line, and every cursor right after a line,
    behind exactly the mentions of the lines before it (a restart there loses and repeats none)."""
    accepted, expected_rejections = line_by_line(data)
    assert [m for batch, _ in emitted for m in batch] == accepted
    assert rejected == expected_rejections
    so_far = []
    for batch, cursor in emitted:
        so_far += batch
        position = json.loads(cursor)
        before = data[: position["offset"]]
        assert before.endswith(b"\n") or not before
        assert before.count(b"\n") == position["line"]
        assert so_far == line_by_line(before)[0]
    assert json.loads(emitted[-1][1])["offset"] == len(data)


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
async def test_a_bad_line_among_good_ones_is_rejected_alone(tmp_path: Path, kind: str) -> None:
    lines = [good_line(n) for n in range(40)]
    lines[23] = BAD_LINES[kind](23)
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(data)
    emitted, rejected, source = await read_all(path)
    assert_same_as_line_by_line(data, emitted, rejected)
    accepted = [m for batch, _ in emitted for m in batch]
    if kind in ("blank", "spaces only"):
        assert len(accepted) == 39 and not rejected
    elif kind == "an unknown key":
        assert len(accepted) == 40 and accepted[23].extra == {"thread": 7}
    elif kind == "a closing brace in the text":
        assert len(accepted) == 40 and "} {" in accepted[23].text
    elif kind == "an object over two lines":
        assert len(accepted) == 39 and rejected == [24, 25]
    else:
        assert len(accepted) == 39 and rejected == [24]
    assert source.malformed == len(rejected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(["good"] * 6 + sorted(BAD_LINES)), min_size=1, max_size=60),
       chunk=st.sampled_from([64, 700, 4096, 1 << 18]), batch_size=st.integers(1, 9))
async def test_reading_in_bulk_is_reading_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kinds: list[str], chunk: int, batch_size: int
) -> None:
    """Any mix of good and bad lines, read in chunks of any size (lines cut across chunks)."""
    import sentineld_plugins.sources.jsonl as jsonl

    monkeypatch.setattr(jsonl, "CHUNK", chunk)
    data = b"".join((good_line(n) if kind == "good" else BAD_LINES[kind](n)) + b"\n"
                    for n, kind in enumerate(kinds))
    path = tmp_path / f"mentions-{hash(data)}.jsonl"
    path.write_bytes(data)
    emitted, rejected, _ = await read_all(path, batch_size)
    assert_same_as_line_by_line(data, emitted, rejected)
    assert all(0 < len(batch) <= batch_size for batch, _ in emitted[:-1])


async def test_good_lines_are_decoded_in_bulk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sentineld_plugins.sources.jsonl as jsonl

    def one_at_a_time(raw: bytes) -> Mention:
        raise AssertionError("a good line decoded alone")

    monkeypatch.setattr(jsonl, "decode_mention", one_at_a_time)
    data = b"".join(good_line(n) + b"\r\n" for n in range(100))
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(data)
    emitted, rejected, source = await read_all(path, batch_size=30)
    assert [len(batch) for batch, _ in emitted] == [30, 30, 30, 10, 0]
    assert [m.id for batch, _ in emitted for m in batch] == [f"test:bulk-{n}" for n in range(100)]
    assert source.lines_read == 100 and not rejected
    assert json.loads(emitted[-1][1])["offset"] == len(data)


# --------------------------------------------------------------------------- restarts between reads


def _jsonl_source(path: Path, batch_size: int, cursor: str | None = None) -> Any:
    from sentineld.components import ComponentContext
    from sentineld.watch import WatchConfig
    from sentineld_plugins.sources.jsonl import JsonlOptions, JsonlSource

    source = JsonlSource(JsonlOptions(path=str(path), follow=False, batch_size=batch_size),
                         ComponentContext("inbox", "source", WatchConfig(), path.parent))
    source.finite = True
    source.cursor = cursor
    return source


@pytest.mark.parametrize("stored_batches", [1, 2, 5, 17])
async def test_a_restart_between_batches_loses_and_repeats_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored_batches: int
) -> None:
    """The source is stopped after a number of batches were handed over (reads of 700 bytes, so
    batches end at reads and at `batch_size`); a new one resumes from the last cursor handed
    over: together they hand over every line once, in order."""
    import sentineld_plugins.sources.jsonl as jsonl

    monkeypatch.setattr(jsonl, "CHUNK", 700)
    data = b"".join(good_line(n) + b"\n" for n in range(100))
    path = tmp_path / "mentions.jsonl"
    path.write_bytes(data)

    class Stopped(Exception):
        pass

    before: list[tuple[list[Mention], str]] = []

    async def emit_then_stop(mentions: Any, cursor: Any, **_: Any) -> None:
        before.append((list(mentions), cursor))
        if len(before) == stored_batches:
            raise Stopped  # as a crash right after the batch and its cursor were stored

    with pytest.raises(Stopped):
        await _jsonl_source(path, 23).run(emit_then_stop)  # type: ignore[arg-type]
    cursor = before[-1][1]

    after: list[tuple[list[Mention], str]] = []

    async def emit(mentions: Any, cursor: Any, **_: Any) -> None:
        after.append((list(mentions), cursor))

    resumed = _jsonl_source(path, 23, cursor)
    await resumed.run(emit)  # type: ignore[arg-type]
    handed_over = [m.id for batch, _ in before + after for m in batch]
    assert handed_over == [f"test:bulk-{n}" for n in range(100)]
    assert resumed.lines_read == 100 - sum(len(batch) for batch, _ in before)
    assert all(len(batch) <= 23 for batch, _ in after)
    assert json.loads(after[-1][1])["offset"] == len(data)


async def test_standard_input_hands_over_at_each_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe may pause between writes: what a read gave is handed over at once, not kept
    waiting for a batch to fill (the memory bench's `replay -` is read this way too)."""
    import io
    import sys

    import sentineld_plugins.sources.jsonl as jsonl
    from sentineld.components import ComponentContext
    from sentineld.watch import WatchConfig
    from sentineld_plugins.sources.jsonl import JsonlOptions, JsonlSource

    monkeypatch.setattr(jsonl, "CHUNK", 700)
    data = b"".join(good_line(n) + b"\n" for n in range(100))
    reads = [data[i : i + 700] for i in range(0, len(data), 700)]

    class Pipe(io.RawIOBase):
        """Gives the data in reads of 700 bytes, as a pipe written 700 bytes at a time."""

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            data = reads.pop(0) if reads else b""
            buffer[: len(data)] = data
            return len(data)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Pipe(), buffer_size=1 << 16)))
    source = JsonlSource(JsonlOptions(path="-", follow=False, batch_size=30),
                         ComponentContext("inbox", "source", WatchConfig(), Path(".")))
    source.finite = True
    emitted: list[list[Mention]] = []

    async def emit(mentions: Any, cursor: Any, **_: Any) -> None:
        emitted.append(list(mentions))

    await source.run(emit)  # type: ignore[arg-type]
    assert [m.id for batch in emitted for m in batch] == [f"test:bulk-{n}" for n in range(100)]
    assert max(len(batch) for batch in emitted) < 30  # each read's lines (fewer than 30) alone
