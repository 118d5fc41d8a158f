"""The sd_notify protocol on real unix datagram sockets: path and abstract addresses, the
fields systemd needs, and silence (never an exception) when nobody listens."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from sentineld.systemd import SystemdNotifier, monotonic_usec, watchdog_interval
from tests.running import NotifyListener


@pytest.fixture
def short_dir():
    """A short directory for a socket path (sun_path holds at most 107 bytes)."""
    directory = Path(tempfile.mkdtemp(prefix="sd-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_ready_and_status_reach_a_socket_at_a_path(short_dir: Path) -> None:
    listener = NotifyListener(short_dir / "notify")
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": listener.address})
    try:
        assert notifier.enabled
        assert notifier.ready("running: 3 mentions\nstored")
        message = listener.receive(timeout=2)
    finally:
        notifier.close()
        listener.close()
    assert message == {"READY": "1", "STATUS": "running: 3 mentions stored"}


def test_abstract_socket_address_starting_with_at() -> None:
    listener = NotifyListener()
    assert listener.address.startswith("@")
    notifier = SystemdNotifier(listener.address)
    try:
        assert notifier.stopping("stopping: draining queues")
        assert notifier.watchdog()
        first, second = listener.receive(timeout=2), listener.receive(timeout=2)
    finally:
        notifier.close()
        listener.close()
    assert first == {"STOPPING": "1", "STATUS": "stopping: draining queues"}
    assert second == {"WATCHDOG": "1"}


def test_reloading_carries_monotonic_usec_of_clock_monotonic() -> None:
    listener = NotifyListener()
    notifier = SystemdNotifier(listener.address)
    try:
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        notifier.reloading()
        after = monotonic_usec()
        message = listener.receive(timeout=2)
    finally:
        notifier.close()
        listener.close()
    assert message is not None and message["RELOADING"] == "1"
    assert before <= int(message["MONOTONIC_USEC"]) <= after


def test_without_notify_socket_every_call_is_a_no_op() -> None:
    notifier = SystemdNotifier(environ={})
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.watchdog() is False


def test_vanished_socket_is_logged_not_raised(short_dir: Path) -> None:
    listener = NotifyListener(short_dir / "notify")
    notifier = SystemdNotifier(listener.address)
    listener.close()
    os.unlink(short_dir / "notify")
    assert notifier.ready() is False
    assert notifier.status("still running") is False
    notifier.close()


def test_unsupported_notify_socket_kind_is_ignored() -> None:
    notifier = SystemdNotifier("vsock:2:1234")
    assert not notifier.enabled


def test_watchdog_interval_from_environment() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
