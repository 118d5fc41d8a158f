"""systemd integration: the sd_notify protocol, written with the socket module.

A service of ``Type=notify`` (or ``notify-reload``) tells systemd how it is doing by sending
datagrams of newline-separated ``KEY=VALUE`` lines to the unix socket named in
``$NOTIFY_SOCKET`` (a path, or ``@name`` for a socket in the abstract namespace):

- ``READY=1`` once the sources are started; ``STATUS=...`` with live counts;
- ``RELOADING=1`` with ``MONOTONIC_USEC=`` (the CLOCK_MONOTONIC time of the reload: without it
  ``Type=notify-reload`` waits forever), then ``READY=1`` again when the reload is over;
- ``STOPPING=1`` when a SIGTERM starts the shutdown;
- ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC``, sent from the event loop and only while the
  pipeline makes progress (see `ProgressProbe`), so that a wedged daemon is restarted.

Without ``$NOTIFY_SOCKET`` every call is a cheap no-op, so the daemon runs the same outside
systemd.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sentineld.logs import get_logger

__all__ = [
    "ProgressProbe",
    "SystemdNotifier",
    "monotonic_usec",
    "run_heartbeat",
    "watchdog_interval",
]

log = get_logger("sentineld.systemd")


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares ``MONOTONIC_USEC`` with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def _socket_address(value: str) -> str | bytes:
    """``@name`` is a socket in the abstract namespace: its address starts with a NUL byte."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


class SystemdNotifier:
    """Sends sd_notify messages to ``$NOTIFY_SOCKET`` (or `address`); a no-op without one.

    Sending never blocks and never raises: a full or vanished socket is logged once and the
    message dropped, as libsystemd's sd_notify does.
    """

    def __init__(self, address: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.address = address if address is not None else environ.get("NOTIFY_SOCKET") or None
        self._socket: socket.socket | None = None
        self._warned = False
        if self.address and not self.address.startswith(("/", "@")):
            log.warning("NOTIFY_SOCKET is neither a path nor @abstract; not notifying systemd",
                        notify_socket=self.address)
            self.address = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines; True if it was sent."""
        if self.address is None:
            return False
        message = "\n".join(lines).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message, socket.MSG_DONTWAIT, _socket_address(self.address))
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify systemd", notify_socket=self.address, error=str(exc))
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *_status(status))

    def reloading(self, status: str | None = None) -> bool:
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", *_status(status))

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *_status(status))

    def status(self, status: str) -> bool:
        return self.send(*_status(status))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status(text: str | None) -> list[str]:
    if not text:
        return []
    return ["STATUS=" + " ".join(text.split())]


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout in seconds from ``$WATCHDOG_USEC``, or None when there is none
    (or when ``$WATCHDOG_PID`` names another process)."""
    environ = os.environ if environ is None else environ
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        log.warning("WATCHDOG_USEC is not a number; watchdog off", watchdog_usec=usec)
        return None
    return seconds if seconds > 0 else None


class _PipelineLike(Protocol):
    stats: Any

    def queue_depths(self) -> dict[str, int]: ...


class ProgressProbe:
    """Says whether the pipeline makes progress, for the watchdog.

    Healthy when mentions moved through the ingest stage since the last look
    (``stats.last_progress`` moved), or when there is nothing to do (every queue between stages
    is empty). A pipeline that holds queued work and moves none of it is wedged: a stage hangs,
    the store is stuck, a task died. Then the watchdog stays silent and systemd restarts the
    daemon, which resumes from its last checkpoint.
    """

    def __init__(self) -> None:
        self._last_progress: float | None = None
        self.stalled_since: float | None = None

    def healthy(self, pipeline: _PipelineLike) -> bool:
        progress = pipeline.stats.last_progress
        moved = progress != self._last_progress
        self._last_progress = progress
        idle = not any(pipeline.queue_depths().values())
        if moved or idle:
            self.stalled_since = None
            return True
        if self.stalled_since is None:
            self.stalled_since = time.monotonic()
        return False


async def run_heartbeat(
    notifier: SystemdNotifier,
    *,
    healthy: Callable[[], bool],
    status: Callable[[], str],
    watchdog: float | None,
    status_every: float = 5.0,
) -> None:
    """Send ``STATUS=`` with live counts every `status_every` seconds and, when systemd runs a
    watchdog (`watchdog` is its timeout), ``WATCHDOG=1`` at least every half of it, but only
    while `healthy()`.

    Runs on the event loop on purpose: a blocked loop sends no ping either.
    """
    period = min(status_every, watchdog / 2) if watchdog else status_every
    warned = False
    while True:
        await asyncio.sleep(period)
        lines = _status(status())
        if watchdog:
            if healthy():
                lines.insert(0, "WATCHDOG=1")
                warned = False
            elif not warned:
                log.warning("the pipeline holds work and makes no progress; "
                            "withholding the watchdog ping")
                warned = True
        notifier.send(*lines)
