"""Logging: structlog, set up once per process, and the loggers every module uses.

Modules and components log through `get_logger`, which hands out a `LazyLogger`: structlog (and
asyncio, which structlog imports) is loaded when something is first logged, not when a module
is imported, so that commands that log nothing (`sentineld check`) start fast.

The output is readable text on a terminal and JSON lines otherwise (journald, files).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from sentineld.options import Secret

__all__ = ["LazyLogger", "configure_logging", "get_logger"]

#: The standard `logging` levels' numbers (without importing `logging` for them).
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class LazyLogger:
    """A structlog logger (``log.info("event", key=value)``) that imports structlog on first use.

    Each call goes to ``structlog.get_logger(name, **context)``, so it follows the current
    structlog configuration, `configure_logging`'s or a test's ``capture_logs``.
    """

    __slots__ = ("_name", "_context", "_logger")

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self._name = name
        self._context = context or {}
        self._logger: Any = None

    def bind(self, **values: Any) -> LazyLogger:
        """A logger that adds `values` to every event, still without importing structlog."""
        return LazyLogger(self._name, {**self._context, **values})

    def __getattr__(self, method: str) -> Any:
        # Reached only for what the class lacks: the logging methods (info, warning, exception…).
        if method.startswith("_"):  # copy, pickle and friends probing; a slot not yet set
            raise AttributeError(method)
        if self._logger is None:
            import structlog

            self._logger = structlog.get_logger(self._name, **self._context)
        return getattr(self._logger, method)

    def __repr__(self) -> str:
        return f"<LazyLogger {self._name} {self._context}>"


def get_logger(name: str, **context: Any) -> LazyLogger:
    """The logger for module-level use: ``log = get_logger("sentineld.cases")``."""
    return LazyLogger(name, context)


def _mask_secrets(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if isinstance(value, Secret):
            event[key] = repr(value)
    return event


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog once per process. `fmt` is "auto", "console" or "json"."""
    import structlog

    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    if as_json:
        processors += [
            # Tracebacks without the frames' local variables: those hold revealed secrets.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ]
    else:
        processors += [structlog.dev.ConsoleRenderer(colors=stream.isatty())]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, _LEVELS["info"])),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
