"""Progress bars for long commands (`replay`, `score`): drawn with tqdm on a terminal, and
nothing at all when standard error is piped or redirected, so logs and scripts see clean output.

While a bar is drawn, log lines are printed above it instead of through it. (tqdm rather than
rich: structlog imports rich whenever it is installed, which would slow every command's start.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["ProgressBar", "progress_bar"]


class ProgressBar:
    """What a command updates; a no-op when no bar is shown."""

    def __init__(self, bar: Any = None) -> None:
        self._bar = bar

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def update(self, completed: float | None = None, total: float | None = None, **fields: Any) -> None:
        """Set the amount done (and the total, once known) and the figures after the bar."""
        bar = self._bar
        if bar is None:
            return
        if total is not None and bar.total != total:
            bar.total = total
        if completed is not None and completed != bar.n:
            bar.update(completed - bar.n)
        if fields:
            bar.set_postfix_str(", ".join(f"{value:,} {name}" for name, value in fields.items()),
                                refresh=False)
        bar.refresh()


class _AboveBar:
    """A text stream that prints above the bar (for the logs while the bar is drawn)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        from tqdm import tqdm

        tqdm.write(text, file=self.stream, end="")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return True


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


@contextmanager
def progress_bar(
    description: str,
    total: float | None,
    *,
    bytes_unit: bool = True,
    stream: TextIO | None = None,
    relog: Callable[[TextIO], None] | None = None,
) -> Iterator[ProgressBar]:
    """A bar on `stream` (standard error) if it is a terminal, else a bar that draws nothing.

    `total` is in bytes when `bytes_unit` (shown as kB/MB read, speed and time left), or None
    when unknown (standard input): the bar then counts without a percentage. `relog(stream)` is
    called with a stream that prints above the bar, and with the real stream afterwards, to
    re-point the logs.
    """
    stream = stream or sys.stderr
    if not stream.isatty():
        yield ProgressBar()
        return
    from tqdm import tqdm

    options: dict[str, Any] = {"unit": "B", "unit_scale": True, "unit_divisor": 1000} if bytes_unit else {}
    width = _columns(stream)
    if width:
        options["dynamic_ncols"] = True
    else:  # a terminal that reports no size (a bare pty): take $COLUMNS/$LINES or a default
        options["ncols"] = int(os.environ.get("COLUMNS") or 100)
        options["nrows"] = int(os.environ.get("LINES") or 24)
    bar = tqdm(total=total, desc=description, file=stream, leave=True, mininterval=0.1, **options)
    if relog is not None:
        relog(_AboveBar(stream))  # type: ignore[arg-type]
    try:
        yield ProgressBar(bar)
    finally:
        bar.close()
        if relog is not None:
            relog(stream)
