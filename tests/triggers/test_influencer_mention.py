"""influencer_mention on constructed streams: fires, stays quiet, resolves, survives a restart."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from sentineld.testing import EPOCH
from tests.triggers.helpers import scored

NEG = {"sentiment": "negative"}
POS = {"sentiment": "positive"}


def maven(text: str, minutes: float, author: str = "maya", labels=NEG, **scores) -> object:
    values = {"maven": 0.93, "connector": 0.2, "influence": 0.6, "sentiment": -0.7, **scores}
    return scored(text, minutes=minutes, author=author, scores=values, labels=dict(labels))


def crowd(minutes: float, n: int = 5) -> list:
    return [scored("@acme meh flight", minutes=minutes + i, author=f"nobody{i}",
                   scores={"maven": 0.1, "connector": 0.3, "sentiment": -0.5}, labels=NEG)
            for i in range(n)]


async def test_a_maven_ranting_about_the_brand_fires_once_with_the_evidence(harness) -> None:
    harness.configure(triggers={"inf": {"type": "influencer_mention"}})
    stream = [*crowd(0), maven("@acme cancelled my flight, third time this month", 10),
              maven("@acme and no refund either", 20)]
    events = await harness.trigger("inf", stream)
    assert [(e.event, e.alert.subject, e.alert.channel) for e in events if e.change] == [
        ("opened", "brand/author:bluesky:maya", "bluesky")]
    alert = events[0].alert
    assert alert.severity == "high" and alert.opened_at == EPOCH + timedelta(minutes=10)
    assert "maya" in alert.summary and "maven 0.93 ≥ 0.80" in alert.summary
    evidence = alert.evidence
    assert evidence["criterion"] == "maven" and evidence["observed"] == 0.93
    assert evidence["threshold"] == 0.8 and evidence["factor"] == round(0.93 / 0.8, 2)
    assert evidence["window"] == "0s" and evidence["author_key"] == "bluesky:maya"


async def test_two_influencers_are_two_alerts(harness) -> None:
    harness.configure(triggers={"inf": {"type": "influencer_mention"}})
    stream = [maven("@acme lost my bag", 1, author="maya"),
              maven("@acme lost mine too", 2, author="connie", maven=0.1, connector=0.95)]
    events = [e for e in await harness.trigger("inf", stream) if e.change]
    assert sorted(e.alert.evidence["criterion"] for e in events) == ["connector", "maven"]
    assert len({e.alert.subject for e in events}) == 2


async def test_stays_quiet_for_ordinary_authors_praise_and_own_accounts(harness) -> None:
    harness.configure(triggers={"inf": {"type": "influencer_mention"}})
    stream = [*crowd(0, 20),
              maven("@acme great crew today", 30, labels=POS, sentiment=0.8),
              maven("@acme we're sorry about the delay", 31, author="acme"),
              maven("rivaljet lost my bag", 32)]
    assert await harness.trigger("inf", stream) == []


async def test_any_sentiment_and_the_watchlist(harness) -> None:
    harness.configure(triggers={"inf": {"type": "influencer_mention", "sentiment": "any"}})
    events = await harness.trigger("inf", [maven("@acme great crew today", 0, labels=POS)])
    assert [(e.event, e.alert.severity) for e in events] == [("opened", "medium")]

    harness.configure(triggers={"inf": {"type": "influencer_mention"}})
    watched = scored("@acme flying to Lisbon", author="journalist", scores={"maven": 0.0},
                     labels={"watchlist": "yes", "sentiment": "neutral"})
    events = await harness.trigger("inf", [watched])
    assert [e.alert.evidence["criterion"] for e in events] == ["watchlist"]


async def test_a_negative_mention_after_a_neutral_one_raises_the_severity(harness) -> None:
    harness.configure(triggers={"inf": {"type": "influencer_mention", "sentiment": "any"}})
    events = await harness.trigger("inf", [maven("@acme boarding now", 0, labels=POS),
                                           maven("@acme and now we are stuck for 3 hours", 40)])
    assert [(e.event, e.alert.severity) for e in events] == [("opened", "medium"), ("updated", "high")]


async def test_resolves_after_the_author_is_quiet(harness) -> None:
    harness.configure(triggers={"inf": {"type": "influencer_mention", "quiet": "2h"}})
    stream = [maven("@acme cancelled again", 0), maven("@acme still waiting", 60)]
    events = await harness.trigger(
        "inf", stream, ticks=[EPOCH + timedelta(minutes=m) for m in (120, 179, 181)])
    assert [e.event for e in events] == ["opened", "resolved"]
    assert events[1].alert.resolved_at == EPOCH + timedelta(minutes=180)


async def test_survives_a_restart_without_re_alerting(harness) -> None:
    harness.configure(triggers={"inf": {"type": "influencer_mention", "quiet": "2h"}})
    before = [*crowd(0), maven("@acme cancelled again", 10), *crowd(20)]
    after = [maven("@acme still no answer", 60), *crowd(100), *crowd(200), *crowd(300)]

    straight = await harness.replay(before + after)
    assert [e.event for e in straight.events] == ["opened", "resolved"]

    harness.directory = harness.directory / "restarted"
    harness.directory.mkdir()
    harness.configure(sentineld={"state_dir": str(harness.directory / "state")})
    first = await harness.replay(before, keep_state=True)
    second = await harness.replay(before + after, keep_state=True)
    assert [e.event for e in first.events] == ["opened"]
    assert [e.event for e in second.events] == ["resolved"]
    assert second.events[0].alert.id == first.events[0].alert.id == straight.events[0].alert.id
    assert second.events[0].alert.resolved_at == straight.events[1].alert.resolved_at
    assert second.events[0].alert.evidence["mentions_in_window"] == 2


async def test_a_checkpoint_is_the_state_when_it_was_taken(harness) -> None:
    """The pipeline writes a trigger's snapshot after the barrier has left the trigger stage,
    while later mentions are observed: what it wrote must not change meanwhile."""
    from sentineld.alerting import TriggerAlertSink
    from sentineld.supervisor import Guard

    harness.configure(triggers={"inf": {"type": "influencer_mention"}})
    config = harness.config()
    trigger = Guard(config.components["trigger"]["inf"], config).component
    sink = TriggerAlertSink("inf", "influencer_mention")
    await trigger.observe([maven("@acme cancelled again", 10)], sink)
    taken = trigger.snapshot()
    await trigger.observe([maven("@acme still nothing", 20)], sink)

    restored = Guard(config.components["trigger"]["inf"], config).component
    restored.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(taken)))
    [rant] = restored.rants.values()
    assert rant.count == 1 and len(rant.mentions) == 1


async def test_which_mentions_alert_for_each_sentiment_and_watchlist_setting(harness) -> None:
    """Each author fires or not as the options say, whichever of sentiment, criterion and
    watchlist label decides it: a mention alerts when its author counts (a score at its
    threshold, or the watchlist label with `watchlist` on) and it is negative, or `sentiment` is
    "any", or its author is watchlisted and `watchlist_any_sentiment` is on."""
    authors = {  # author: (maven score, watchlist label, sentiment label)
        "high-neg": (0.93, "no", "negative"), "high-pos": (0.93, "no", "positive"),
        "high-listed-pos": (0.93, "yes", "positive"), "low-listed-pos": (0.1, "yes", "neutral"),
        "low-listed-neg": (0.1, "yes", "negative"), "low-neg": (0.1, "no", "negative"),
    }
    stream = [scored(f"@acme {author} says so", minutes=n, author=author,
                     scores={"maven": value, "connector": 0.2, "sentiment": -0.7 if mood == "negative" else 0.5},
                     labels={"watchlist": listed, "sentiment": mood})
              for n, (author, (value, listed, mood)) in enumerate(authors.items())]
    for sentiment in ("negative", "any"):
        for watchlist in (True, False):
            for any_sentiment in (True, False):
                harness.configure(triggers={"inf": {
                    "type": "influencer_mention", "sentiment": sentiment, "watchlist": watchlist,
                    "watchlist_any_sentiment": any_sentiment}})
                events = await harness.trigger("inf", stream)
                fired = {e.alert.evidence["author"] for e in events if e.event == "opened"}
                expected = {
                    author for author, (value, listed, mood) in authors.items()
                    if (value >= 0.8 or (watchlist and listed == "yes"))
                    and (mood == "negative" or sentiment == "any" or (listed == "yes" and any_sentiment))
                }
                assert fired == expected, (sentiment, watchlist, any_sentiment)
