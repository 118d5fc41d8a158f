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

A share of a handful of voices says nothing: the first author a new deployment sees holds all
of its audience's reach and authority, and would score 1. So the state also counts the authors
that ever entered the audience (by reach, authority or both), and `score_influence` reports 0
until that count reaches the scorer's `min_audience` (decision 0238). An audience saved before
the count existed is taken as grown.

The shares are sums over the bins, left to right as ``sum`` adds, so that the same audience
always gives the same score to the last bit. Bins that hold nothing add nothing to such a sum,
so only the span of bins that may hold weight is summed: most of the range is empty (no
audience spans 12 orders of magnitude).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any, Final

from sentineld.authors import NO_MASS, AuthorAt, AuthorRecord, InfluencerRegistry
from sentineld.model import Mention

REACH_BIN: Final = 0.1  # log10 units
REACH_BINS: Final = 120  # up to 10^12
MASS_BIN: Final = 0.25  # natural-log units
_MASS_SPAN: Final = 50.0  # authority e^-50 below the loudest is nothing: forget those bins
_REBASE: Final = 500.0  # keep exp() of weights far from overflow
_DAY: Final = 86400.0
_GROWN: Final = 1 << 62  # the author count of an audience saved before it was counted
#: Whether ``sum`` of floats adds them left to right as they come (before Python 3.12, whose
#: ``sum`` compensates rounding): then a loop gives the same bits without making two slices.
_PLAIN_SUM: Final = sys.version_info < (3, 12)


class Audience:
    """Binned weight sums of every counted author, by reach and by maven mass.

    A view of the state in `population`, made for a batch of mentions: it keeps the state's
    `landmark` and `mass_base` at hand and writes them back when they change."""

    def __init__(self, population: dict[str, Any]) -> None:
        state: dict[str, Any] = population.setdefault("audience", {})
        self.reach: list[float] = state.setdefault("reach", [0.0] * REACH_BINS)
        self.mass: list[float] = state.setdefault("mass", [])
        self.mass_base: int = state.setdefault("mass_base", 0)
        self.landmark: float | None = state.setdefault("landmark", None)
        if "authors" not in state:  # a new audience, or one saved before the count existed
            state["authors"] = _GROWN if any(self.reach) or self.mass else 0
        #: Authors that ever entered the audience (`joined`).
        self.authors: int = state["authors"]
        self.state = state
        # The span of reach bins that may hold weight (it only widens while this view lives).
        held = [index for index, weight in enumerate(self.reach) if weight]
        self._low: int = held[0] if held else REACH_BINS
        self._high: int = held[-1] + 1 if held else 0

    def joined(self) -> None:
        """Count an author entering the audience for the first time."""
        self.authors = self.state["authors"] = self.authors + 1

    # ------------------------------------------------------------------ connectors

    def connector(self, old: float | None, new: float | None, *, counted: bool = True) -> float:
        """Move an author counted at reach `old` to `new` (None: not counted; `counted` False:
        remove them, as for the brand's own accounts) and return 1 - the share of the
        audience's reach held by authors who reach more people (0 for no reach)."""
        bins = self.reach
        if old is not None and (old != new or not counted):
            index = int(old / REACH_BIN)
            index = index if index < REACH_BINS else REACH_BINS - 1
            left = bins[index] - (10.0**old - 1.0)
            bins[index] = left if left > 0.0 else 0.0
            old = None
        if new is None:
            return 0.0
        position = new / REACH_BIN
        index = int(position)
        index = index if index < REACH_BINS else REACH_BINS - 1
        own = 10.0**new - 1.0
        if counted and old is None:
            bins[index] += own
            if index < self._low:
                self._low = index
            if index >= self._high:
                self._high = index + 1
        return _share(bins, self._low, self._high, index, position, own, 0.0 if counted else own)

    # ------------------------------------------------------------------ mavens

    def _weight(self, mass: float) -> float:
        landmark = self.landmark
        assert landmark is not None  # set by the first author weighed
        above = mass - landmark
        return math.exp(above) if above > -700.0 else 0.0

    def maven(self, old: float | None, new: float | None, *, counted: bool = True) -> float:
        """As `connector`, for maven mass: 1 - the share of the audience's (decayed) authority
        held by more authoritative authors (0 for an author who never posted on topic)."""
        bins = self.mass
        if new is not None:
            landmark = self.landmark
            if landmark is None:
                self.landmark = self.state["landmark"] = new
                self.mass_base = self.state["mass_base"] = math.floor(new / MASS_BIN)
            elif new - landmark > _REBASE:
                self._rebase(new)
        if old is not None and (old != new or not counted):
            index = math.floor(old / MASS_BIN) - self.mass_base
            if 0 <= index < len(bins):
                left = bins[index] - self._weight(old)
                bins[index] = left if left > 0.0 else 0.0
            old = None
        if new is None:
            return 0.0
        index = math.floor(new / MASS_BIN) - self.mass_base
        if index < 0:
            return 0.0  # far below every voice that still counts
        if index >= len(bins):
            bins.extend([0.0] * (index + 1 - len(bins)))
            self._forget_faint()
            index = math.floor(new / MASS_BIN) - self.mass_base
        own = self._weight(new)
        if counted and old is None:
            bins[index] += own
        return _share(bins, 0, len(bins), index, new / MASS_BIN - self.mass_base, own, 0.0 if counted else own)

    def _rebase(self, landmark: float) -> None:
        old = self.landmark
        assert old is not None  # set by the first author weighed
        factor = math.exp(old - landmark)
        self.mass[:] = [value * factor for value in self.mass]
        self.landmark = self.state["landmark"] = landmark

    def _forget_faint(self) -> None:
        drop = len(self.mass) - int(_MASS_SPAN / MASS_BIN)
        if drop > 0:
            del self.mass[:drop]
            self.mass_base = self.state["mass_base"] = self.mass_base + drop


def _share(
    bins: list[float], low: int, high: int, index: int, position: float, own: float, outside: float
) -> float:
    """Weight at or below the author's over the total (within a bin, linear interpolation);
    `outside` is the author's own weight when the bins do not count it. Bins outside
    ``[low, high)`` hold nothing."""
    if _PLAIN_SUM:
        # What the two sums below add, in one pass: ``below`` is the running total where the
        # author's bin begins (bins past `high` hold nothing and would add nothing).
        total = below = 0.0
        for at in range(low, high):
            if at == index:
                below = total
            total += bins[at]
        if index >= high:
            below = total
        total += outside
    else:
        total = sum(bins[low:high]) + outside
        below = sum(bins[low:index]) if index > low else 0.0
    if total <= 0.0:
        return 0.0
    others = bins[index] + outside - own
    fraction = position - index
    fraction = 0.0 if fraction < 0.0 else 1.0 if fraction > 1.0 else fraction
    share = (below + fraction * (others if others > 0.0 else 0.0) + own) / total
    return share if share < 1.0 else 1.0


# --------------------------------------------------------------------------- the influence scorer's work


def effective_reach(
    followers: int,
    following: int | None,
    posts: int | None,
    age_days: float | None,
    follow_back_scale: float,
    followers_per_post: float,
    young_account_days: float,
) -> float:
    """``log10(1 + followers * credibility)``, credibility being the product of three smooth
    factors in (0, 1], one per known sign of an audience that was not earned (unknown counts
    do not discount):

    - follow-back: following about as many accounts as follow you, at a scale where nobody
      reads whom they follow: ``1 - reciprocity * following / (following + follow_back_scale)``;
    - an empty account, many followers for few posts:
      ``(posts + 1) / (posts + 1 + followers / followers_per_post)``;
    - a young account: ``age / (age + young_account_days)``.
    """
    if followers <= 0:
        return 0.0
    credibility = 1.0
    if following:
        # The smaller count over the larger (what min() / max() give, without the two calls).
        reciprocity = followers / following if followers < following else following / followers
        credibility *= 1.0 - reciprocity * following / (following + follow_back_scale)
    if posts is not None:
        credibility *= (posts + 1) / (posts + 1 + followers / followers_per_post)
    if age_days is not None:
        age = 0.0 if 0.0 > age_days else age_days
        credibility *= age / (age + young_account_days)
    return math.log10(1.0 + followers * credibility)


def score_influence(
    registry: InfluencerRegistry,
    mentions: Sequence[Mention],
    follow_back: float,
    per_post: float,
    young: float,
    standalone: bool,
    min_audience: int = 0,
) -> None:
    """Set ``connector``, ``maven`` and ``influence`` of `mentions` (the influence scorer's
    work, `sentineld_plugins.scorers.influence`), moving each author to their new place in the
    audience. Each mention is scored against its author as it found them (`AuthorAt`, kept by
    the registry's `observe_batch`), not as the end of its batch left them; a mention re-fed
    after a restart (not observed again) reads the record. `standalone`: the registry is the
    scorer's own, which observes and records each mention itself. `min_audience`: connector
    and maven are 0 until that many authors have entered the audience, this mention's author
    included."""
    audience = Audience(registry.population)
    observed = registry.observed
    for mention in mentions:
        scores = mention.scores
        at: AuthorAt | None = None if standalone else observed.get(mention.id)
        record: AuthorRecord | None
        if at is not None and at.record.key == mention.author_key:
            record = at.record  # what `registry.get` would find: the same record until `trim`
        else:
            record = registry.observe(mention) if standalone else registry.get(mention.author_key)
            if record is None:
                scores["connector"] = scores["maven"] = scores["influence"] = 0.0
                continue
            if at is None:
                at = AuthorAt.of(record)
        followers = at.followers
        reach: float | None = None
        if followers is not None:
            created = at.created
            age = None if created is None else (at.last_seen - created) / _DAY
            reach = effective_reach(followers, at.following, at.posts, age, follow_back, per_post, young)
        mass: float | None = None if at.maven_mass == NO_MASS else at.maven_mass
        if at.own:
            # The brand's own accounts are scored against the audience but not counted in it.
            connector = audience.connector(record.reach, reach, counted=False)
            maven = audience.maven(record.audience_mass, mass, counted=False)
            record.reach = record.audience_mass = None
        else:
            if record.reach is None and record.audience_mass is None and (reach is not None or mass is not None):
                audience.joined()
            connector = audience.connector(record.reach, reach)
            maven = audience.maven(record.audience_mass, mass)
            record.reach, record.audience_mass = reach, mass
        if audience.authors < min_audience:
            connector = maven = 0.0
        scores["connector"] = connector
        scores["maven"] = maven
        scores["influence"] = connector if connector > maven else maven
        if standalone:
            registry.record(mention)
    if standalone:
        registry.trim()
