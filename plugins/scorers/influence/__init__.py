"""Influence scorer: ``scores["connector"]``, ``scores["maven"]`` and ``scores["influence"]``.

Follower count alone says little about influence (Cha et al., "Measuring user influence in
Twitter: the million follower fallacy", ICWSM 2010), so two scores are kept apart:

- **connector** — reach: followers, discounted for the signs of bought or follow-back audiences
  and for young accounts (`effective_reach`);
- **maven** — topical authority in this stream: on-topic posts and the engagement they draw
  (reshares and replies, likes at a lower weight, plus reshares and replies seen in the stream),
  decayed in event time (kept by the influencer registry, `sentineld.registry`).

Each is relative to the brand's own audience ("someone else's pussy cat may be your
influencer"): ``1 - the share of the audience's reach (or authority) held by louder voices``
(`sentineld.audience`), and 0 until that audience has counted `min_audience` authors (decision
0238). ``influence`` is the larger of the two. The brand's own accounts are
scored but not counted in the audience. Mentions without an author score 0.

The scorer reads the author records that the pipeline's tracking step keeps up to date (handed
over as ``context.influencers``). Run alone (``sentineld score``) it keeps a private in-memory
registry and applies each mention's facts itself. The work per mention is
`sentineld.audience.score_influence`, compiled with the registry (decision 0131).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sentineld import Duration, Mention, Options, Scorer, hookimpl
from sentineld.audience import effective_reach, score_influence

__all__ = ["InfluenceOptions", "InfluenceScorer", "effective_reach"]

_DAY = 86400.0


class InfluenceOptions(Options):
    #: Following count at which follow-back suspicion is half-way: nobody reads thousands of
    #: accounts, so following about as many as follow you at that scale is a follow-back scheme.
    follow_back_scale: int = 2000
    #: Followers per post at which an audience counts half: many followers for an account that
    #: hardly posts were not earned by posting.
    followers_per_post: float = 100.0
    #: Account age at which a new account's audience counts half.
    young_account: Duration = Duration(30 * _DAY)
    #: Authors the audience must have counted before anyone in it is called a connector (by
    #: reach) or a maven (by authority): until then those scores are 0. A share of a handful of
    #: voices says nothing, and the first author a new deployment sees would hold all of it.
    #: Put the voices you know matter on the watchlist: they count from the first mention.
    min_audience: int = 100

    def __post_init__(self) -> None:
        if self.follow_back_scale <= 0 or self.followers_per_post <= 0 or self.young_account <= 0:
            raise ValueError("follow_back_scale, followers_per_post and young_account must be > 0")
        if self.min_audience < 0:
            raise ValueError("min_audience must be >= 0")


class InfluenceScorer(Scorer):
    """Connector and maven percentiles in the brand's own audience, and their maximum."""

    type_name = "influence"
    description = "connector (reach) and maven (topical authority) scores, and influence in [0, 1]"
    Options = InfluenceOptions

    def __init__(self, options: InfluenceOptions, context: Any) -> None:
        super().__init__(options, context)
        from sentineld.registry import InfluencerRegistry
        from sentineld.watch import Matcher

        registry = getattr(context, "influencers", None)
        self.standalone = registry is None
        if registry is None:
            registry = InfluencerRegistry(matcher=Matcher(context.watch), persistent=False)
        else:
            registry.keeps_observed = True  # each mention scored against its author as it found them
        self.registry: InfluencerRegistry = registry
        self._discounts = (
            float(options.follow_back_scale), float(options.followers_per_post), options.young_account / _DAY
        )

    async def score(self, mentions: Sequence[Mention]) -> None:
        # The per-mention work is compiled with the registry's records (decision 0131).
        score_influence(self.registry, mentions, *self._discounts, self.standalone, self.options.min_audience)


@hookimpl
def register_scorers(register: Any) -> None:
    register(InfluenceScorer)
