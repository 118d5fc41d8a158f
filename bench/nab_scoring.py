"""NAB scoring (the Numenta Anomaly Benchmark's), written from its published description.

A detector is scored per file on the rows after a probation period (the first 15% of the rows,
at most 750). Each labelled anomaly has a window of rows around it. Only the earliest detection
in a window counts, worth ``tp_weight * scaled_sigmoid(y) / scaled_sigmoid(-1)`` where ``y``
runs from -1 at the window's first row to about 0 at its last, so an early detection is worth
1 and a late one almost nothing. Every detection outside a window is a false positive costing
``fp_weight * scaled_sigmoid(distance after the previous window, in window widths)`` (the full
``-fp_weight`` when no window precedes it). A window without a detection costs ``-fn_weight``.

The corpus score is normalised as ``100 * (raw - null) / (perfect - null)`` with the raws
summed over the files: perfect detects every window on its first row (``windows * tp_weight``),
null never fires (``-windows * fn_weight``).

This follows NAB's ``sweeper.py`` arithmetic, row for row; the tests in
``tests/bench/test_nab_scoring.py`` check it on constructed cases worked out by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

__all__ = [
    "PROFILES",
    "FileScore",
    "Profile",
    "Window",
    "normalised",
    "probation_rows",
    "scaled_sigmoid",
    "score_file",
]


@dataclass(frozen=True, slots=True)
class Profile:
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(1.0, 0.11, 1.0),
    "reward_low_FP": Profile(1.0, 0.22, 1.0),
    "reward_low_FN": Profile(1.0, 0.11, 2.0),
}


@dataclass(frozen=True, slots=True)
class Window:
    """An anomaly window as row indices, both ends included, and the rows of its labels."""

    first: int
    last: int
    labels: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        return self.last - self.first + 1


@dataclass(slots=True)
class FileScore:
    """One file's raw score under one profile, with what made it."""

    raw: float
    windows: int
    detected: int
    false_positives: int
    tp_score: float = 0.0
    fp_score: float = 0.0
    #: Per detected window: (first detection row - window start, - first label in the window).
    delays: list[tuple[int, int | None]] = field(default_factory=list)


def probation_rows(rows: int, percent: float = 0.15) -> int:
    """Rows at the start of a file that are never scored: NAB's ``min(⌊15% n⌋, 15% of 5000)``."""
    return int(min(math.floor(percent * rows), percent * 5000))


def scaled_sigmoid(position: float) -> float:
    """NAB's ``2 * sigmoid(-5 * position) - 1``; -1 beyond three window widths."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def score_file(
    rows: int, windows: Sequence[Window], detections: Sequence[int], profile: Profile
) -> FileScore:
    """Score detection rows (indices into the file's rows; repeats and order do not matter)."""
    ordered = sorted(windows, key=lambda w: w.first)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.first <= before.last:
            raise ValueError(f"windows overlap: {before} and {after}")
    probation = probation_rows(rows)
    max_tp = scaled_sigmoid(-1.0)
    best: dict[int, tuple[float, int]] = {}
    fp_score = 0.0
    false_positives = 0
    for row in sorted(set(detections)):
        if row < probation or row >= rows:
            continue
        inside = next((i for i, w in enumerate(ordered) if w.first <= row <= w.last), None)
        if inside is not None:
            window = ordered[inside]
            position = -(window.last - row + 1) / window.width
            value = scaled_sigmoid(position) * profile.tp_weight / max_tp
            if inside not in best or value > best[inside][0]:
                best[inside] = (value, row)
            continue
        previous = [w for w in ordered if w.last < row]
        if previous:
            last = previous[-1]
            unweighted = scaled_sigmoid(abs(last.last - row) / (last.width - 1))
        else:
            unweighted = -1.0
        fp_score += unweighted * profile.fp_weight
        false_positives += 1
    tp_score = sum(value for value, _ in best.values())
    missed = len(ordered) - len(best)
    delays = []
    for index, (_, row) in sorted(best.items()):
        window = ordered[index]
        label = min(window.labels) if window.labels else None
        delays.append((row - window.first, None if label is None else row - label))
    return FileScore(
        raw=tp_score + fp_score - missed * profile.fn_weight,
        windows=len(ordered),
        detected=len(best),
        false_positives=false_positives,
        tp_score=tp_score,
        fp_score=fp_score,
        delays=delays,
    )


def normalised(scores: Sequence[FileScore], profile: Profile) -> float:
    """The corpus score: 0 for a detector that never fires, 100 for a perfect one."""
    windows = sum(s.windows for s in scores)
    if windows == 0:
        raise ValueError("no anomaly windows to score against")
    raw = sum(s.raw for s in scores)
    perfect = windows * profile.tp_weight
    null = -windows * profile.fn_weight
    return 100.0 * (raw - null) / (perfect - null)


def median_or_none(values: Sequence[float]) -> float | None:
    return median(values) if values else None
