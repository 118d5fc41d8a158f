"""Where an author stands in the brand's own audience.

A score of 0.9 means: *only a tenth of this audience's reach (or topical authority) belongs to
louder voices*. It is ``1 - share of louder authors``, the Lorenz curve of the audience read at
the author: reach and authority are heavy-tailed (a few mass connectors make most of the
impressions), so a plain rank would call the whole top fifth of any audience influential, while
the share is near 1 only for the few voices that dominate it, and relative to *this* audience —
in a small brand's stream a few thousand followers may be the loudest voice there is.

- **reach** (connectors): weight ``10**reach - 1``, i.e. the author's effective followers
  (`reach` is ``log10(1 + effective followers)``);
- **mass** (mavens): weight ``exp(mass)``, the author's forward-decayed authority (see
  `sentineld.registry`); every weight decays by the same factor as time passes, so shares need
  no update when nothing happens, and a quiet author fades as the others keep posting.

The state is a few hundred floats in the registry's ``population`` (saved with the author
records). Each author is counted once: move them when their value changes.
"""

from __future__ import annotations

import math
from typing import Any, Final

REACH_BIN: Final = 0.05  # log10 units
REACH_BINS: Final = 240  # up to 10^12
MASS_BIN: Final = 0.25  # natural-log units
_MASS_SPAN: Final = 50.0  # authority e^-50 below the loudest is nothing: forget those bins
_REBASE: Final = 500.0  # keep exp() of weights far from overflow


class Audience:
    """Binned weight sums of every counted author, by reach and by maven mass."""

    def __init__(self, population: dict[str, Any]) -> None:
        state = population.setdefault("audience", {})
        self.reach: list[float] = state.setdefault("reach", [0.0] * REACH_BINS)
        self.mass: list[float] = state.setdefault("mass", [])
        state.setdefault("mass_base", 0)
        state.setdefault("landmark", None)
        self.state = state

    # ------------------------------------------------------------------ connectors

    @staticmethod
    def _reach_bin(reach: float) -> int:
        return min(max(int(reach / REACH_BIN), 0), REACH_BINS - 1)

    def move_reach(self, old: float | None, new: float | None) -> None:
        """Count an author at `new` reach instead of `old` (None: not counted)."""
        if old == new:
            return
        bins = self.reach
        if old is not None:
            index = self._reach_bin(old)
            bins[index] = max(bins[index] - (10.0**old - 1.0), 0.0)
        if new is not None:
            bins[self._reach_bin(new)] += 10.0**new - 1.0

    def connector(self, reach: float) -> float:
        """1 - the share of the audience's reach held by authors who reach more people."""
        index = min(max(int(reach / REACH_BIN), 0), REACH_BINS - 1)
        return _share(self.reach, index, reach / REACH_BIN, 10.0**reach - 1.0)

    # ------------------------------------------------------------------ mavens

    def _weight(self, mass: float) -> float:
        landmark = self.state["landmark"]
        return math.exp(mass - landmark) if mass - landmark > -700.0 else 0.0

    def _mass_index(self, mass: float) -> int:
        return math.floor(mass / MASS_BIN) - self.state["mass_base"]

    def move_mass(self, old: float | None, new: float | None) -> None:
        """Count an author at maven mass `new` instead of `old` (None: not counted)."""
        if old == new:
            return
        state, bins = self.state, self.mass
        if new is not None and state["landmark"] is None:
            state["landmark"] = new
            state["mass_base"] = math.floor(new / MASS_BIN)
        if new is not None and new - state["landmark"] > _REBASE:
            self._rebase(new)
        if old is not None and bins:
            index = self._mass_index(old)
            if 0 <= index < len(bins):
                bins[index] = max(bins[index] - self._weight(old), 0.0)
        if new is not None:
            index = self._mass_index(new)
            if index < 0:
                return  # far below every voice that still counts
            if index >= len(bins):
                bins.extend([0.0] * (index + 1 - len(bins)))
                self._forget_faint()
                index = self._mass_index(new)
            bins[index] += self._weight(new)

    def maven(self, mass: float) -> float:
        """1 - the share of the audience's (decayed) authority held by more authoritative
        authors; 0 for an author who never posted on topic."""
        if mass == -math.inf or self.state["landmark"] is None:
            return 0.0
        index = self._mass_index(mass)
        if index < 0:
            return 0.0
        return _share(self.mass, min(index, len(self.mass) - 1), mass / MASS_BIN - self.state["mass_base"], self._weight(mass))

    def _rebase(self, landmark: float) -> None:
        factor = math.exp(self.state["landmark"] - landmark)
        self.mass[:] = [value * factor for value in self.mass]
        self.state["landmark"] = landmark

    def _forget_faint(self) -> None:
        drop = len(self.mass) - int(_MASS_SPAN / MASS_BIN)
        if drop > 0:
            del self.mass[:drop]
            self.state["mass_base"] += drop


def _share(bins: list[float], index: int, position: float, own: float) -> float:
    """Weight at or below the author's, over the total (mid-bin: linear interpolation)."""
    total = sum(bins)
    if total <= 0.0:
        return 0.0
    below = sum(bins[:index])
    others = max(bins[index] - own, 0.0)
    fraction = min(max(position - index, 0.0), 1.0)
    return min((below + fraction * others + own) / total, 1.0)
