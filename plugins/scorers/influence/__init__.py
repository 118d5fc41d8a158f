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
(`sentineld.audience`). ``influence`` is the larger of the two. The brand's own accounts are
scored but not counted in the audience. Mentions without an author score 0.

The scorer reads the author records that the pipeline's tracking step keeps up to date (handed
over as ``context.influencers``). Run alone (``sentineld score``) it keeps a private in-memory
registry and applies each mention's facts itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sentineld import Duration, Mention, Options, Scorer, hookimpl

_DAY = 86400.0


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


class InfluenceOptions(Options):
    #: Following count at which follow-back suspicion is half-way: nobody reads thousands of
    #: accounts, so following about as many as follow you at that scale is a follow-back scheme.
    follow_back_scale: int = 2000
    #: Followers per post at which an audience counts half: many followers for an account that
    #: hardly posts were not earned by posting.
    followers_per_post: float = 100.0
    #: Account age at which a new account's audience counts half.
    young_account: Duration = Duration(30 * _DAY)

    def __post_init__(self) -> None:
        if self.follow_back_scale <= 0 or self.followers_per_post <= 0 or self.young_account <= 0:
            raise ValueError("follow_back_scale, followers_per_post and young_account must be > 0")


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
        from sentineld.audience import Audience

        registry, standalone = self.registry, self.standalone
        audience = Audience(registry.population)
        connector_share, maven_share = audience.connector, audience.maven
        follow_back, per_post, young = self._discounts
        get = registry.get
        # The author as each mention found them (AUTHOR_AT_FIELDS), not as the end of its batch
        # left them; a mention re-fed after a restart (not observed again) reads the record.
        observed = registry.observed
        for mention in mentions:
            record = registry.observe(mention) if standalone else get(mention.author_key)
            scores = mention.scores
            if record is None:
                scores["connector"] = scores["maven"] = scores["influence"] = 0.0
                continue
            at = observed.get(mention.id)
            if at is None:
                followers, following, posts, created, last_seen, mass, own = (
                    record.followers, record.following, record.posts, record.created, record.last_seen,
                    record.maven_mass, record.own)
            else:
                followers, following, posts, created, last_seen, mass, own = at
            reach = None
            if followers is not None:
                age = None if created is None else (last_seen - created) / _DAY
                reach = effective_reach(followers, following, posts, age, follow_back, per_post, young)
            if mass == -math.inf:
                mass = None
            if own:
                # The brand's own accounts are scored against the audience but not counted in it.
                connector = connector_share(record.reach, reach, counted=False)
                maven = maven_share(record.audience_mass, mass, counted=False)
                record.reach = record.audience_mass = None
            else:
                connector = connector_share(record.reach, reach)
                maven = maven_share(record.audience_mass, mass)
                record.reach, record.audience_mass = reach, mass
            scores["connector"] = connector
            scores["maven"] = maven
            scores["influence"] = connector if connector > maven else maven
            if standalone:
                registry.record(mention)
        if standalone:
            registry.trim()


@hookimpl
def register_scorers(register: Any) -> None:
    register(InfluenceScorer)
