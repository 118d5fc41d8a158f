"""JSON Lines source: Mention JSON, one object per line, from a file (followed as it grows, across
log rotation) or standard input; deletions and edits in the webhook's form between them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import msgspec

from sentineld import Options, Source, hookimpl
from sentineld.components import Emit, HealthState
from sentineld.changes import MentionChange, change_from_dict, is_change
from sentineld.model import Mention, MentionError, decode_mention, decode_mention_lines
from sentineld.options import ConfigPath, Duration

CHUNK = 1 << 18


class JsonlOptions(Options):
    #: File to read (relative to the config file's directory); "-" reads standard input.
    path: ConfigPath
    #: Keep reading as the file grows (a live log). Replay turns this off.
    follow: bool = True
    #: How often to look for new lines while following.
    poll_interval: Duration = Duration(0.5)
    #: After the file is replaced (rotated), how long the old file is still read for late writes
    #: before the source moves on to the new one.
    rotate_wait: Duration = Duration(1)
    #: Mentions per batch handed to the core.
    batch_size: Annotated[int, msgspec.Meta(ge=1)] = 512
    #: Hand mentions over at this many times the pace of their event times (a drill: 1 is real
    #: time, 60 plays an hour a minute). Unset: as fast as possible.
    speed: float | None = None

    def __post_init__(self) -> None:
        if self.speed is not None and self.speed <= 0:
            raise ValueError("speed must be a positive factor (1 is real time)")


@dataclass(slots=True)
class Position:
    """Where reading stopped: the byte offset after the last full line, its line number, and the
    identity (device, inode) of the file it belongs to, so that a restart after a rotation knows
    which file the offset is in."""

    offset: int = 0
    line: int = 0
    dev: int | None = None
    inode: int | None = None

    def cursor(self) -> str:
        data: dict[str, int] = {"offset": self.offset, "line": self.line}
        if self.inode is not None and self.dev is not None:
            data |= {"dev": self.dev, "inode": self.inode}
        return json.dumps(data)

    @classmethod
    def parse(cls, cursor: str | None) -> Position:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(int(data["offset"]), int(data.get("line", 0)), data.get("dev"), data.get("inode"))

    def same_file(self, stat: os.stat_result) -> bool:
        return (self.dev, self.inode) == (stat.st_dev, stat.st_ino)


class JsonlSource(Source):
    """Reads Mention JSON Lines. The cursor is the byte offset after the last full line (with the
    line number, for error messages, and the file's device and inode), so a restart resumes exactly
    there, even when the file was rotated meanwhile.

    Rotation: when the path names another file (renamed and re-created, as logrotate's ``create``
    does), the old file is read to its end (for `rotate_wait` more seconds, for late writes) and
    then the new one from its start. When the file shrinks under the read position (logrotate's
    ``copytruncate``), reading restarts at its start.
    """

    type_name = "jsonl"
    description = "Mention JSON Lines from a file (followed as it grows, across rotation) or stdin"
    Options = JsonlOptions

    def __init__(self, options: JsonlOptions, context: Any) -> None:
        super().__init__(options, context)
        self.lines_read = 0
        self.rotations = 0
        self._pace_origin: tuple[float, float] | None = None
        #: Deletions and edits read since the last batch was handed over.
        self._changes: list[MentionChange] = []
        #: The event time of the last mention read (a change without `at` happened then).
        self._latest: datetime | None = None

    async def run(self, emit: Emit) -> None:
        emit = self._with_changes(emit)
        if self.options.path == "-":
            await self._read_stream(sys.stdin.buffer, emit, "<stdin>", Position(), path=None,
                                    stop_at_end=True)
            return
        path = Path(self.options.path)
        position = Position.parse(self.cursor)
        if not path.exists() and not self.finite:
            # Said once: a misspelt path would otherwise wait for ever with nothing in the log.
            self.log.warning("file does not exist; waiting for it to appear", path=str(path.absolute()))
        while not path.exists():
            if self.finite:
                raise FileNotFoundError(f"{path} does not exist")
            self.health.set(HealthState.DEGRADED, f"waiting for {path} to appear")
            await asyncio.sleep(self.options.poll_interval)
        if position.inode is not None and not position.same_file(path.stat()):
            await self._finish_rotated(path, position, emit)
            position = Position()
        while True:
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                if position.inode is not None and not position.same_file(stat):
                    position = Position()
                position.dev, position.inode = stat.st_dev, stat.st_ino
                if position.offset > stat.st_size:
                    self.log.warning("file is shorter than the stored cursor; reading from the start",
                                     path=str(path), cursor=position.offset)
                    position = Position(dev=stat.st_dev, inode=stat.st_ino)
                handle.seek(position.offset)
                rotated = await self._read_stream(
                    handle, emit, str(path), position, path=path,
                    stop_at_end=self.finite or not self.options.follow,
                )
            if not rotated:
                return
            self.rotations += 1
            position = Position()
            self.log.info("file rotated; reading the new one", path=str(path))

    async def _finish_rotated(self, path: Path, position: Position, emit: Emit) -> None:
        """The file the cursor points into was rotated while the source was stopped: read the
        rest of it (found beside `path` by its inode) before starting on the new file."""
        old = _find_by_inode(path, position)
        if old is None:
            self.log.warning(
                "file was rotated while stopped and the old one is gone; lines written to it "
                "after the cursor are lost", path=str(path), cursor=position.offset,
            )
            return
        self.log.info("finishing the rotated file first", path=str(old), cursor=position.offset)
        with old.open("rb") as handle:
            handle.seek(position.offset)
            await self._read_stream(handle, emit, str(old), position, path=None, stop_at_end=True)

    async def _read_stream(
        self,
        handle: BinaryIO,
        emit: Emit,
        label: str,
        position: Position,
        *,
        path: Path | None,
        stop_at_end: bool,
    ) -> bool:
        """Read to the end (or follow). Returns True when `path` was rotated and the old file is
        finished, False when the input ended."""
        self.health.set(HealthState.OK)
        pending = b""
        batch: list[Mention] = []
        loop = asyncio.get_running_loop()
        is_stdin = path is None and label == "<stdin>"
        rotated_at: float | None = None
        while True:
            chunk = (
                await loop.run_in_executor(None, handle.read1, CHUNK)  # type: ignore[attr-defined]
                if is_stdin
                else handle.read(CHUNK)
            )
            if not chunk:
                finishing = stop_at_end or (
                    rotated_at is not None and time.monotonic() - rotated_at >= self.options.rotate_wait
                )
                if pending and finishing:
                    position.line += 1
                    self._parse(pending, batch, label, position.line)
                    position.offset += len(pending)
                    pending = b""
                    batch = await self._paced(batch, emit, position)
                if batch or finishing or self._changes:
                    await emit(batch, position.cursor())
                    batch = []
                if finishing:
                    return rotated_at is not None
                if path is not None and rotated_at is None:
                    change = _change(path, handle, position.offset + len(pending))
                    if change == "rotated":
                        rotated_at = time.monotonic()
                        continue
                    if change == "truncated":
                        self.log.warning("file was truncated; reading from its start", path=label)
                        self.rotations += 1
                        handle.seek(0)
                        pending = b""
                        position.offset = position.line = 0
                        await emit([], position.cursor())
                        continue
                await asyncio.sleep(self.options.poll_interval)
                continue
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
            paced = self.options.speed is not None
            decoded = None
            if lines and not paced:
                decoded = decode_mention_lines(data[: len(data) - len(pending)], len(lines))
            if decoded is not None:
                batch = await self._hand_over(decoded, lines, batch, emit, position)
                lines = []  # all taken; otherwise each line alone, to tell which are bad and why
            for raw in lines:
                position.line += 1
                position.offset += len(raw) + 1
                self._parse(raw, batch, label, position.line)
                if paced:
                    batch = await self._paced(batch, emit, position)
                if len(batch) >= self.options.batch_size:
                    await emit(batch, position.cursor())
                    batch = []
            # What is left of each read is handed over as a batch of its own: filling batches
            # across reads measured no gain once the stage queues were bounded in mentions, and
            # it moves virality's last bits (decision 0043).
            if batch or self._changes:
                await emit(batch, position.cursor())
                batch = []

    def _with_changes(self, emit: Emit) -> Emit:
        """`emit` that hands the changes read so far over with the batch whose cursor covers
        them (stored in one transaction: exactly once, after the mentions before them)."""

        async def emit_with_changes(mentions: list[Mention], cursor: str | None, **kwargs: Any) -> Any:
            if self._changes:
                kwargs["changes"], self._changes = self._changes, []
            return await emit(mentions, cursor, **kwargs)

        return emit_with_changes

    async def _hand_over(
        self, mentions: list[Mention], lines: list[bytes], batch: list[Mention], emit: Emit,
        position: Position,
    ) -> list[Mention]:
        """Emit `mentions`, decoded from `lines` in one go (one per line), in the batches and
        with the cursors that reading the lines one at a time gives; returns the batch begun."""
        size = self.options.batch_size
        if mentions:
            self._latest = mentions[-1].created_at
        start = 0
        while start < len(lines):
            end = min(len(lines), start + size - len(batch))
            batch.extend(mentions[start:end])
            position.line += end - start
            position.offset += sum(map(len, lines[start:end])) + end - start
            self.lines_read += end - start
            start = end
            if len(batch) >= size:
                await emit(batch, position.cursor())
                batch = []
        return batch

    async def _paced(self, batch: list[Mention], emit: Emit, position: Position) -> list[Mention]:
        """With `speed`, hand each mention over alone, once its event time is due."""
        if self.options.speed is None or not batch:
            return batch
        loop = asyncio.get_running_loop()
        event_time, now = batch[-1].timestamp, loop.time()
        if self._pace_origin is None:
            self._pace_origin = (event_time, now)
        first_event, first_wall = self._pace_origin
        delay = first_wall + (event_time - first_event) / self.options.speed - now
        if delay > 0:
            await asyncio.sleep(delay)
        await emit(batch, position.cursor())
        return []

    def paced_now(self) -> float | None:
        """With `speed`: the event time the pace has reached now (POSIX seconds), so that the
        pipeline's clock ticks between mentions at the same accelerated pace; None before the
        first mention or without `speed`."""
        if self.options.speed is None or self._pace_origin is None:
            return None
        first_event, first_wall = self._pace_origin
        return first_event + (asyncio.get_running_loop().time() - first_wall) * self.options.speed

    def _parse(self, raw: bytes, batch: list[Mention], label: str, line: int) -> None:
        if not raw.strip():
            return
        self.lines_read += 1
        try:
            mention = decode_mention(raw)
        except MentionError as exc:
            self._parse_change(raw, exc, label, line)
            return
        batch.append(mention)
        self._latest = mention.created_at

    def _parse_change(self, raw: bytes, error: MentionError, label: str, line: int) -> None:
        """A line that is not a mention may be a deletion or an edit (``{"deleted": id}``,
        ``{"edited": id, "text": ...}``, with an optional ``"at"`` that defaults to the event
        time of the mention before it); anything else is rejected with the mention's error."""
        try:
            item = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            item = None
        if not is_change(item):
            self.reject(str(error), raw, file=label, line=line)
            return
        try:
            self._changes.append(change_from_dict(item, self._latest or datetime.now(UTC)))
        except MentionError as exc:
            self.reject(str(exc), raw, file=label, line=line)


def _change(path: Path, handle: BinaryIO, read_to: int) -> str | None:
    """"rotated" when `path` now names another file, "truncated" when the open file shrank below
    what was read, else None. A path that is missing (renamed, not yet re-created) is no change:
    the old file may still be written."""
    try:
        current = path.stat()
    except FileNotFoundError:
        return None
    opened = os.fstat(handle.fileno())
    if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
        return "rotated"
    if opened.st_size < read_to:
        return "truncated"
    return None


def _find_by_inode(path: Path, position: Position) -> Path | None:
    """The rotated copy of `path` (``mentions.jsonl.1``, ``mentions.jsonl-20261124``, …) that is
    the file `position` was read from."""
    for candidate in sorted(path.parent.glob(f"{path.name}*")):
        if candidate == path or not candidate.is_file():
            continue
        if position.same_file(candidate.stat()):
            return candidate
    return None


@hookimpl
def register_sources(register: Any) -> None:
    register(JsonlSource)
