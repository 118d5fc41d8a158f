"""Connectors and mavens, relative to the brand's own audience."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sentineld.model import Author, Metrics
from sentineld.testing import EPOCH, make_mention
from sentineld.watch import WatchConfig
from sentineld_plugins.scorers.influence import InfluenceOptions, InfluenceScorer, effective_reach

from .conftest import audience, context, score

DISCOUNTS = (2000.0, 100.0, 30.0)


def scorer(watch: WatchConfig | None = None) -> InfluenceScorer:
    return InfluenceScorer(InfluenceOptions(), context(watch) if watch else context())


def profile(handle: str, followers: int, following: int, posts: int, age_days: int) -> Author:
    return Author(
        id=handle, handle=handle, followers=followers, following=following, posts=posts,
        created_at=EPOCH - timedelta(days=age_days),
    )


async def test_bought_follower_profile_scores_low_as_connector() -> None:
    stream = audience(400)
    real = make_mention("@acmeair great lounge in Denver", author=profile("real", 250_000, 800, 15_000, 3000), minutes=300)
    bought = make_mention("@acmeair great lounge in Denver", author=profile("bought", 250_000, 240_000, 12, 60), minutes=301)
    stream += [real, bought]
    await score(stream, scorer())

    typical = sorted(m.scores["connector"] for m in stream[:400])[200]
    assert real.scores["connector"] > 0.8  # the loudest voice of this audience
    assert bought.scores["connector"] < 0.05  # same follower count, almost no earned reach
    assert bought.scores["connector"] < 10 * typical
    assert bought.scores["influence"] < 0.1


def test_each_sign_of_bought_followers_discounts_reach() -> None:
    honest = effective_reach(250_000, 800, 15_000, 3000, *DISCOUNTS)
    follow_back = effective_reach(250_000, 240_000, 15_000, 3000, *DISCOUNTS)
    empty = effective_reach(250_000, 800, 12, 3000, *DISCOUNTS)
    young = effective_reach(250_000, 800, 15_000, 10, *DISCOUNTS)
    assert honest == pytest.approx(5.33, abs=0.05)  # log10 of about 214,000 earned followers
    assert follow_back < honest - 1.0  # more than ten times fewer
    assert empty < honest - 2.0
    assert young < honest - 0.5
    # A small account whose friends follow back is not a follow-back scheme.
    assert effective_reach(300, 280, 2_000, 900, *DISCOUNTS) > effective_reach(300, 0, 2_000, 900, *DISCOUNTS) - 0.1
    assert effective_reach(0, 10, 5, 30, *DISCOUNTS) == 0.0
    # Unknown counts do not discount.
    assert effective_reach(1000, None, None, None, *DISCOUNTS) == pytest.approx(3.0, abs=0.001)


async def test_small_account_drawing_heavy_engagement_scores_high_as_maven() -> None:
    stream = audience(400)
    expert = profile("fareguru", 150, 140, 3_000, 2000)
    celebrity = profile("star", 1_000_000, 300, 20_000, 4000)
    for day in range(5):
        stream.append(
            make_mention(
                f"@acmeair fare rules, part {day}: how the new basic economy changes refunds",
                author=expert, minutes=250 + day * 60, metrics=Metrics(reshares=300, replies=80, likes=900),
            )
        )
    stream.append(make_mention("flying @acmeair today", author=celebrity, minutes=600, metrics=Metrics(likes=2)))
    await score(stream, scorer())

    last_expert, star = stream[-2], stream[-1]
    assert last_expert.scores["maven"] > 0.8
    assert last_expert.scores["connector"] < 0.3
    assert last_expert.scores["influence"] == last_expert.scores["maven"]
    assert star.scores["connector"] > 0.8
    assert star.scores["maven"] < last_expert.scores["maven"] / 10


async def test_reshares_and_replies_seen_in_the_stream_make_a_maven() -> None:
    stream = audience(200)
    author = profile("quietexpert", 90, 100, 800, 900)
    post = make_mention("@acmeair here is why your refund takes 21 days, a thread", author=author, minutes=120)
    stream.append(post)
    for i in range(60):
        fan = Author(id=f"sharer{i}", handle=f"sharer{i}", followers=50)
        stream.append(make_mention("", author=fan, minutes=121 + i, reshare_of=post.id))
    stream.append(make_mention("@acmeair and part two of the refund thread", author=author, minutes=200))
    await score(stream, scorer())
    assert stream[-1].scores["maven"] > 0.5


async def test_self_replies_and_the_brands_own_replies_do_not_make_a_maven() -> None:
    stream = audience(200)
    author = profile("ranter", 90, 100, 800, 900)
    brand = Author(id="acme-official", handle="acmeair", followers=90_000, following=10, posts=50_000)
    post = make_mention("@acmeair still waiting for my refund after 40 days", author=author, minutes=120)
    stream.append(post)
    for i in range(30):
        stream.append(make_mention("@acmeair day {i} of waiting", author=author, minutes=121 + i, in_reply_to=post.id))
        stream.append(make_mention("@ranter sorry, please DM us", author=brand, minutes=121 + i, in_reply_to=post.id))
    counted = scorer()
    await score(stream, counted)
    assert counted.registry.get(f"test:{author.id}").engaged == 0  # type: ignore[union-attr]


async def test_off_topic_posts_give_no_authority() -> None:
    stream = audience(100)
    author = profile("offtopic", 150, 140, 3_000, 2000)
    stream.append(make_mention("my cat video", author=author, minutes=60, metrics=Metrics(reshares=5000, likes=90000)))
    await score(stream, scorer())
    assert stream[-1].matches == []
    assert stream[-1].scores["maven"] == 0.0


async def test_authority_fades_when_an_author_goes_quiet() -> None:
    stream = audience(100)
    old_hand = profile("oldhand", 150, 140, 3_000, 2000)
    stream.append(make_mention("@acmeair baggage rules explained", author=old_hand, minutes=100, metrics=Metrics(reshares=40)))
    await score(stream, counted := scorer())
    before = stream[-1].scores["maven"]
    later = audience(100, seed=9, start_minutes=60 * 24 * 56)  # eight weeks (eight half-lives) later
    later.append(make_mention("@acmeair hello again", author=old_hand, minutes=60 * 24 * 56 + 60))
    await score(later, counted)
    assert later[-1].scores["maven"] < before / 2


async def test_influence_is_relative_to_the_brands_own_audience() -> None:
    """Someone else's pussy cat may be your influencer."""
    local = WatchConfig(brand=["cornerbakery"])
    bakers = [
        make_mention("cornerbakery bread", author=Author(id=f"n{i}", followers=40 + i, following=60, posts=300), minutes=i)
        for i in range(200)
    ]
    cat = make_mention("cornerbakery croissants!", author=Author(id="cat", followers=3_000, following=400, posts=5_000), minutes=300)
    await score([*bakers, cat], scorer(local), watch=local)

    airline = audience(200)
    for i in range(20):
        airline.append(
            make_mention("@acmeair news", author=Author(id=f"press{i}", followers=500_000, following=900, posts=90_000), minutes=150 + i)
        )
    same_cat = make_mention("@acmeair croissants!", author=Author(id="cat", followers=3_000, following=400, posts=5_000), minutes=300)
    await score([*airline, same_cat], scorer())

    assert cat.scores["connector"] > 0.5
    assert same_cat.scores["connector"] < 0.05


async def test_the_brands_own_accounts_are_not_part_of_the_audience() -> None:
    stream = audience(100)
    brand = Author(id="acme-official", handle="acmeair", followers=2_000_000, following=10, posts=50_000)
    stream.append(make_mention("#acmeair new routes!", author=brand, minutes=70))
    stream.append(make_mention("@acmeair nice", author=Author(id="x", followers=5_000, following=300, posts=900), minutes=71))
    await score(stream, scorer())
    assert stream[-1].scores["connector"] > 0.5  # not dwarfed by the brand's own reach


async def test_a_mention_without_author_scores_zero() -> None:
    mention = make_mention("@acmeair hello", author=None)
    await score([mention], scorer())
    assert {k: mention.scores[k] for k in ("connector", "maven", "influence")} == {
        "connector": 0.0, "maven": 0.0, "influence": 0.0,
    }


async def test_scores_stay_in_the_unit_interval() -> None:
    stream = audience(300)
    await score(stream, scorer())
    for mention in stream:
        for key in ("connector", "maven", "influence"):
            assert 0.0 <= mention.scores[key] <= 1.0
        assert mention.scores["influence"] == max(mention.scores["connector"], mention.scores["maven"])


def test_a_share_adds_its_bins_as_sum_adds_them() -> None:
    """`_share` adds the bins in one pass where ``sum`` adds floats left to right (before Python
    3.12): the same bits as the two sums it stands for, at every place an author can stand."""
    import random

    from sentineld.audience import _share

    def with_sums(bins: list[float], low: int, high: int, index: int, position: float, own: float,
                  outside: float) -> float:
        total = sum(bins[low:high]) + outside
        if total <= 0.0:
            return 0.0
        others = bins[index] + outside - own
        fraction = min(max(position - index, 0.0), 1.0)
        below = sum(bins[low:index]) if index > low else 0.0
        return min((below + fraction * max(others, 0.0) + own) / total, 1.0)

    rng = random.Random(3)
    for _ in range(3000):
        size = rng.randrange(1, 130)
        low = rng.randrange(size)
        high = rng.randrange(low, size + 1)
        bins = [rng.lognormvariate(0, 6) if low <= i < high and rng.random() < 0.8 else 0.0 for i in range(size)]
        index = rng.randrange(size)
        own = bins[index] * rng.random() if rng.random() < 0.7 else rng.lognormvariate(0, 3)
        outside = 0.0 if rng.random() < 0.7 else own
        position = index + rng.uniform(-0.2, 1.2)
        expected = with_sums(bins, low, high, index, position, own, outside)
        assert _share(bins, low, high, index, position, own, outside).hex() == expected.hex()


async def test_a_new_deployment_calls_nobody_influential_until_its_audience_has_grown() -> None:
    """The first author a new deployment sees holds all of its audience: their share would make
    them a connector and a maven at 1.0, and their first complaint an influencer alert
    (decision 0238)."""
    first = make_mention("@acmeair lost my bag again", author=profile("first", 300, 200, 900, 800), minutes=0)
    star = profile("star", 1_000_000, 300, 20_000, 4000)
    early_star = make_mention("@acmeair my flight is late", author=star, minutes=1)
    crowd = audience(97, start_minutes=2)  # with `first` and the star: 99 authors
    hundredth = make_mention("@acmeair is the lounge open", author=profile("hundredth", 120, 90, 400, 900), minutes=60)
    late_star = make_mention("@acmeair and still late", author=star, minutes=61)
    stream = [first, early_star, *crowd, hundredth, late_star]
    counted = scorer()
    await score(stream, counted)

    assert first.scores == {"connector": 0.0, "maven": 0.0, "influence": 0.0}
    assert early_star.scores["connector"] == 0.0
    assert {m.scores["influence"] for m in crowd} == {0.0}
    assert hundredth.scores["influence"] > 0.0  # the audience's hundredth author
    assert late_star.scores["connector"] > 0.9
    assert counted.registry.population["audience"]["authors"] == 100  # each author once

    # Without the count, as the first author alone, the share calls them the loudest voice.
    alone = InfluenceScorer(InfluenceOptions(min_audience=0), context())
    again = make_mention("@acmeair lost my bag again", author=profile("first", 300, 200, 900, 800), minutes=0)
    await score([again], alone)
    assert again.scores["connector"] == again.scores["maven"] == 1.0


async def test_an_audience_saved_before_it_was_counted_counts_as_grown() -> None:
    grown = scorer()
    await score(audience(30), grown)
    population = grown.registry.population
    del population["audience"]["authors"]  # as a checkpoint from before decision 0238 holds it
    later = make_mention("@acmeair hello", author=profile("star", 1_000_000, 300, 20_000, 4000), minutes=100)
    await score([later], grown)
    assert later.scores["connector"] > 0.9


def test_min_audience_is_checked() -> None:
    with pytest.raises(ValueError, match="min_audience"):
        InfluenceOptions(min_audience=-1)
