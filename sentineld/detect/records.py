"""The checkpoint format of the count triggers' keys, as msgspec structs (decision 0206).

The keys themselves are native classes compiled with mypyc (`baseline`, `trigger`: decision
0230); these structs only describe a checkpoint's msgpack arrays, so that `restore` decodes and
validates all keys in one typed decoder call. A key is written as a tuple of the same fields in
the same order (`Series.row`), which msgpack encodes exactly as it encoded these structs when
they were the keys: the format (version 4) is unchanged.

This module stays Python: a msgspec struct cannot be a native class.
"""

from __future__ import annotations

from array import array
from typing import Any, Final

import msgspec

__all__ = ["CountsRecord", "SeriesRecord", "SharesRecord", "decode_arrays", "encode_arrays"]

HOURS: Final = 24
#: The profile: 24 hour-of-day factors, then 7 day-of-week factors (Monday first).
PROFILE_SIZE: Final = HOURS + 7


def encode_arrays(value: Any) -> Any:
    """msgspec `enc_hook`: an `array` goes into a checkpoint as its raw bytes."""
    if isinstance(value, array):
        return memoryview(value).cast("B")
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def decode_arrays(kind: type, value: Any) -> Any:
    """msgspec `dec_hook`: raw bytes back into a profile (float32) or its counters (uint16)."""
    if kind is array and isinstance(value, bytes):
        typecode = "f" if len(value) == 4 * PROFILE_SIZE else "H"
        restored = array(typecode)
        restored.frombytes(value)
        if len(restored) not in (PROFILE_SIZE, HOURS):
            raise ValueError(f"a seasonal profile holds {PROFILE_SIZE} factors and {HOURS} counters")
        return restored
    raise NotImplementedError(f"cannot decode {kind}")


class CountsRecord(msgspec.Struct, array_like=True, gc=False):
    """A `SeasonalCounts` in a checkpoint."""

    level: float = 0.0
    spread: float = 0.0
    scale: float = 0.0
    seen: int = 0
    profile: array | None = None  # type: ignore[type-arg]
    hours: array | None = None  # type: ignore[type-arg]


class SharesRecord(msgspec.Struct, array_like=True, gc=False):
    """A `ShareBaseline` in a checkpoint."""

    hits: float = 0.0
    trials: float = 0.0
    chi: float = 1.0
    seen: int = 0


class SeriesRecord(msgspec.Struct, array_like=True, gc=False):
    """A count trigger's key (`Series`) in a checkpoint: see `Series` for each field."""

    subject: str
    channel: str
    slice: int
    ring: list[int] | None = None
    totals: list[int] | None = None
    count: int = 0
    total: int = 0
    prev: int = 0
    tumble: int = 0
    tumble_total: int = 0
    hot_bits: int = 0
    counts: CountsRecord = msgspec.field(default_factory=CountsRecord)
    shares: SharesRecord | None = None
    open: bool = False
    last_hot: float = 0.0
    recent: list[str] = msgspec.field(default_factory=list)
    slot: int = 0
    next_at: float = 0.0
    mean: float = 0.0
    floor: int = 0
    limit: int = 0
    alarm: int = 0
    exact: bool = False
    armed: bool = False
