"""`sentineld.logs.get_logger`: structlog is imported on the first event, and the events follow
whatever structlog configuration is current then."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import structlog
import structlog.testing

from sentineld.logs import configure_logging, get_logger
from sentineld.options import Secret


def test_importing_sentineld_and_binding_loggers_does_not_import_structlog() -> None:
    code = """
import sys
from pathlib import Path
import sentineld.cases, sentineld.registry, sentineld.outbox, sentineld.responses
from sentineld.components import ComponentContext
from sentineld.watch import WatchConfig
context = ComponentContext("mood", "scorer", WatchConfig(), Path("."))
context.log.bind(extra=1)
print("structlog" in sys.modules)
context.log.info("first event")
print("structlog" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # unconfigured structlog prints to standard output
    assert (lines[0], lines[-1]) == ("False", "True")
    assert "first event" in lines[1]


def test_events_carry_bound_values_and_follow_the_current_configuration() -> None:
    log = get_logger("sentineld.test", component="mood")  # made before any configuration
    with structlog.testing.capture_logs() as events:
        log.info("scored", mentions=3)
        log.bind(kind="scorer").warning("slow", seconds=2.5)
    assert events == [
        {"component": "mood", "mentions": 3, "event": "scored", "log_level": "info"},
        {"component": "mood", "kind": "scorer", "seconds": 2.5, "event": "slow", "log_level": "warning"},
    ]


def test_configure_logging_renders_a_lazy_loggers_events_as_json_and_masks_secrets(monkeypatch) -> None:
    saved = structlog.get_config()
    monkeypatch.setenv("LAZY_LOGGER_TEST_SECRET", "hunter2")
    stream = io.StringIO()
    log = get_logger("sentineld.test").bind(component="hook")
    try:
        configure_logging("warning", "json", stream)
        log.info("below the level")
        log.error("refused", token=Secret.from_config({"env": "LAZY_LOGGER_TEST_SECRET"}))
    finally:
        structlog.configure(**saved)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert (event["event"], event["level"], event["component"]) == ("refused", "error", "hook")
    assert "hunter2" not in lines[0]


def test_private_and_special_names_are_not_forwarded() -> None:
    log = get_logger("sentineld.test")
    assert not hasattr(log, "__deepcopy__")
    assert not hasattr(log, "_private")
