"""JSON Lines source: Mention JSON, one object per line, from a file (followed as it grows) or
standard input."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

from sentineld import Options, Source, hookimpl
from sentineld.components import Emit, HealthState
from sentineld.model import Mention, MentionError, decode_mention
from sentineld.options import Duration

CHUNK = 1 << 18


class JsonlOptions(Options):
    #: File to read; "-" reads standard input.
    path: str
    #: Keep reading as the file grows (a live log). Replay turns this off.
    follow: bool = True
    #: How often to look for new lines while following.
    poll_interval: Duration = Duration(0.5)
    #: Mentions per batch handed to the core.
    batch_size: int = 512


class JsonlSource(Source):
    """Reads Mention JSON Lines. The cursor is the byte offset after the last full line (with
    the line number, for error messages), so a restart resumes exactly there."""

    type_name = "jsonl"
    description = "Mention JSON Lines from a file (followed as it grows) or stdin"
    Options = JsonlOptions

    def __init__(self, options: JsonlOptions, context: Any) -> None:
        super().__init__(options, context)
        self.lines_read = 0

    async def run(self, emit: Emit) -> None:
        if self.options.path == "-":
            await self._read_stream(sys.stdin.buffer, emit, label="<stdin>", offset=0, line=0)
            return
        path = Path(self.options.path)
        offset, line = _parse_cursor(self.cursor)
        while not path.exists():
            if self.finite:
                raise FileNotFoundError(f"{path} does not exist")
            self.health.set(HealthState.DEGRADED, f"waiting for {path} to appear")
            await asyncio.sleep(self.options.poll_interval)
        with path.open("rb") as handle:
            if offset > os.fstat(handle.fileno()).st_size:
                self.log.warning("file is shorter than the stored cursor; reading from the start",
                                 path=str(path), cursor=offset)
                offset, line = 0, 0
            handle.seek(offset)
            await self._read_stream(handle, emit, label=str(path), offset=offset, line=line)

    async def _read_stream(
        self, handle: BinaryIO, emit: Emit, *, label: str, offset: int, line: int
    ) -> None:
        self.health.set(HealthState.OK)
        pending = b""
        batch: list[Mention] = []
        loop = asyncio.get_running_loop()
        is_stdin = label == "<stdin>"
        stop_at_end = self.finite or is_stdin or not self.options.follow
        while True:
            chunk = (
                await loop.run_in_executor(None, handle.read1, CHUNK)  # type: ignore[attr-defined]
                if is_stdin
                else handle.read(CHUNK)
            )
            if not chunk:
                if pending and stop_at_end:
                    line += 1
                    self._parse(pending, batch, label, line)
                    offset += len(pending)
                    pending = b""
                if batch or stop_at_end:
                    await emit(batch, _cursor(offset, line))
                    batch = []
                if stop_at_end:
                    return
                await asyncio.sleep(self.options.poll_interval)
                continue
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
            for raw in lines:
                line += 1
                offset += len(raw) + 1
                self._parse(raw, batch, label, line)
                if len(batch) >= self.options.batch_size:
                    await emit(batch, _cursor(offset, line))
                    batch = []
            if batch:
                await emit(batch, _cursor(offset, line))
                batch = []

    def _parse(self, raw: bytes, batch: list[Mention], label: str, line: int) -> None:
        if not raw.strip():
            return
        self.lines_read += 1
        try:
            batch.append(decode_mention(raw))
        except MentionError as exc:
            self.reject(str(exc), raw, file=label, line=line)


def _cursor(offset: int, line: int) -> str:
    return json.dumps({"offset": offset, "line": line})


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    data = json.loads(cursor)
    return int(data["offset"]), int(data.get("line", 0))


@hookimpl
def register_sources(register: Any) -> None:
    register(JsonlSource)
