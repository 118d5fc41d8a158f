"""File notifier: appends each notification as one JSON line; honours the idempotency key."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

import msgspec

from sentineld import ConfigPath, Notification, Notifier, Options, hookimpl
from sentineld.model import alert_to_dict

_encode = msgspec.json.Encoder().encode


class FileOptions(Options):
    #: The JSON Lines file to append to (created if missing), relative to the config file's
    #: directory.
    path: ConfigPath
    #: fsync after each line, so that a delivered notification survives a power cut.
    fsync: bool = True


class FileNotifier(Notifier):
    """Each line is ``{"key": ..., "event": ..., "alert": {...}}``. Keys already in the file are
    not written again, so the file sees every notification exactly once."""

    type_name = "file"
    description = "appends notifications to a JSON Lines file, exactly once per key"
    Options = FileOptions

    def __init__(self, options: FileOptions, context: Any) -> None:
        super().__init__(options, context)
        self.path = Path(options.path)
        self.seen: set[str] = set()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    self.seen.add(msgspec.json.decode(line)["key"])
                except (msgspec.DecodeError, KeyError, TypeError):
                    continue

    async def notify(self, notification: Notification) -> None:
        if notification.key in self.seen:
            return
        record: dict[str, Any] = {"key": notification.key, "event": notification.event}
        if notification.alert is not None:
            record["alert"] = alert_to_dict(notification.alert)
        if notification.draft is not None:
            record["draft"] = dataclasses.asdict(notification.draft)
        if notification.meta:
            record["meta"] = notification.meta  # a group notification lists its alerts here
        await asyncio.to_thread(self._append, _encode(record) + b"\n")
        self.seen.add(notification.key)

    def _append(self, line: bytes) -> None:
        with self.path.open("ab") as handle:
            handle.write(line)
            if self.options.fsync:
                handle.flush()
                os.fsync(handle.fileno())


@hookimpl
def register_notifiers(register: Any) -> None:
    register(FileNotifier)
