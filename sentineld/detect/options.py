"""`CountOptions`: the options every count trigger takes.

A module of its own, not compiled: a msgspec struct is no native class, and the compiled
`trigger` module takes these options untyped (decision 0230).
"""

from __future__ import annotations

from sentineld.model import Severity
from sentineld.options import Duration, Options

__all__ = ["CountOptions"]


class CountOptions(Options):
    """Options every count trigger takes (see each plugin's ``sample.toml``)."""

    #: Length of the counting window.
    window: Duration = Duration(300)
    #: Slices per window: the window slides by window/slices (1 = tumbling windows).
    slices: int = 1
    #: Tail probability at or below which one window alerts on its own.
    alpha: float = 1e-12
    #: Tail probability at or below which two consecutive windows alert (and keep it open).
    confirm_alpha: float = 1e-6
    #: A window must also hold at least this multiple of its forecast…
    factor: float = 2.0
    #: …and at least this many mentions (0 → 2 is not a crisis).
    min_count: int = 10
    #: How long a key learns before it may alert.
    warmup: Duration = Duration(2 * 86400)
    #: Half-life of the baseline's level.
    half_life: Duration = Duration(3 * 86400)
    #: Half-life of the hour-of-day profile.
    daily_half_life: Duration = Duration(7 * 86400)
    #: Half-life of the day-of-week profile.
    weekly_half_life: Duration = Duration(21 * 86400)
    #: Half-life of the learnt over-dispersion.
    dispersion_half_life: Duration = Duration(7 * 86400)
    #: An open alert resolves after this long without an unusual window.
    resolve_after: Duration = Duration(86400)
    #: Also watch each channel (mention source) on its own, beside all channels ("*").
    per_channel: bool = True
    severity: Severity = "high"
    #: Keys kept at most; the least recently seen without an open alert are forgotten first.
    max_keys: int = 100_000

    def __post_init__(self) -> None:
        if self.window <= 0 or self.slices < 1:
            raise ValueError("window must be positive and slices at least 1")
