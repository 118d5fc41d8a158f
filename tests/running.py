"""A real `sentineld run` subprocess and a real sd_notify socket, for the systemd, HTTP and
browser tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


class NotifyListener:
    """The receiving end of ``$NOTIFY_SOCKET``, as systemd holds it: a unix datagram socket,
    bound in the abstract namespace (``@name``) or at a path."""

    def __init__(self, path: Path | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if path is None:
            name = f"sentineld-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.sock.bind(str(path))
            self.address = str(path)
        self.messages: list[dict[str, str]] = []
        self.raw: list[bytes] = []

    def receive(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        self.raw.append(data)
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
        self.messages.append(fields)
        return fields

    def wait_for(self, key: str, value: str | None = None, timeout: float = 20.0) -> dict[str, str]:
        """The first message (already received or arriving within `timeout`) carrying `key`
        (with `value`, if given) that was not returned before."""
        deadline = time.monotonic() + timeout
        start = getattr(self, "_seen", 0)
        index = start
        while True:
            while index < len(self.messages):
                message = self.messages[index]
                index += 1
                if key in message and (value is None or message[key] == value):
                    self._seen = index
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {key}={value or '*'} within {timeout}s; got {self.messages}")
            self.receive(left)

    def close(self) -> None:
        self.sock.close()


class DaemonProcess:
    """``python -m sentineld run -c CONFIG`` with its JSON log records collected as they come."""

    def __init__(
        self, config: Path, *, env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "SENTINELD_CONFIG")}
        full_env.update(env or {})
        self.config = config
        self.records: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sentineld", "run", "-c", str(config)],
            cwd=config.parent, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, preexec_fn=preexec_fn,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if line.startswith("{"):
                try:
                    self.records.append(json.loads(line))
                except ValueError:
                    continue

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_log(self, event: str, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in list(self.records):
                if record.get("event") == event and all(record.get(k) == v for k, v in fields.items()):
                    return record
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no log {event!r} within {timeout}s; stderr:\n{''.join(self.lines[-40:])}")

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == event]

    @property
    def url(self) -> str:
        return self.wait_for_log("http listening")["url"].rstrip("/")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> None:
        """Make sure the process is gone (tests end it themselves when they check the exit)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


def wait_until(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def mention_line(index: int, moment: datetime, text: str, *, source: str = "bluesky",
                 author: str | None = None, followers: int | None = None) -> str:
    author_id = author or f"user{index % 25}"
    data: dict[str, Any] = {
        "id": f"{source}:{index}", "source": source,
        "created_at": moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "text": text, "author": {"id": author_id, "handle": f"{author_id}.example"},
    }
    if followers is not None:
        data["author"]["followers"] = followers
    return json.dumps(data)


def chatter(start: datetime, minutes: int, per_minute: int, *, first_index: int = 0) -> list[str]:
    """Steady, mixed chatter about acme (and a competitor) on two channels."""
    texts = [
        "flying with @acme today, smooth so far",
        "@acme lost my bag again, terrible service",
        "thanks @acme, great crew on this flight",
        "rivaljet vs @acme, which one is cheaper?",
        "@acme delayed two hours, awful",
    ]
    lines = []
    index = first_index
    for minute in range(minutes):
        for k in range(per_minute):
            moment = start + timedelta(minutes=minute, seconds=(60 / per_minute) * k + 1)
            source = "bluesky" if index % 3 else "mastodon"
            lines.append(mention_line(index, moment, texts[index % len(texts)], source=source,
                                      followers=150 * (index % 25 + 1) ** 2))
            index += 1
    return lines


def append_lines(path: Path, lines: list[str]) -> None:
    with path.open("a") as handle:
        handle.write("".join(line + "\n" for line in lines))


def http_get(url: str, token: str | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET with an optional bearer token; returns (status, body) for any status."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
