"""viral_post on constructed streams: one post or one near-duplicate cluster spreading fast."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import msgspec

from sentineld.alerting import TriggerAlertSink
from sentineld.components import ComponentContext
from sentineld.model import Mention
from sentineld.options import Duration
from sentineld.testing import EPOCH, make_mention
from sentineld.watch import WatchConfig
from sentineld_plugins.triggers.viral_post import ViralPost, ViralPostOptions
from sentineld_plugins.triggers.viral_post.followed import Spread
from tests.triggers.helpers import scored

POST = "bluesky:post-1"


def reshare(minutes: float, velocity: float, post: str = POST, n: int = 0, text: str = "RT @acme lost my bag",
            **scores) -> object:
    return scored(text, minutes=minutes, author=f"fan{n}", reshare_of=post,
                  scores={"reshare_velocity": velocity, **scores})


def changes(events) -> list[tuple[str, str, str]]:
    return [(e.event, e.alert.subject, e.alert.channel) for e in events if e.change]


async def test_a_post_crossing_the_fixed_rate_fires_with_its_evidence(harness) -> None:
    harness.configure(triggers={"viral": {"type": "viral_post"}})
    stream = [reshare(i, v, n=i) for i, v in enumerate([40, 120, 310, 620, 900])]
    events = await harness.trigger("viral", stream)
    assert changes(events) == [("opened", f"brand/post:{POST}", "bluesky")]
    alert = events[0].alert
    assert alert.opened_at == EPOCH + timedelta(minutes=3)
    evidence = alert.evidence
    assert (evidence["observed"], evidence["threshold"], evidence["threshold_source"]) == (620, 500, "fixed")
    assert evidence["factor"] == 1.24 and evidence["metric"] == "reshare_velocity"
    assert evidence["tail_probability"] is None  # nothing learned yet
    assert "620 reshares/h" in alert.summary and "1.2x" in alert.summary


async def test_stays_quiet_below_the_rates_and_off_subject(harness) -> None:
    harness.configure(triggers={"viral": {"type": "viral_post"}})
    stream = [reshare(i, 30 + i, n=i) for i in range(50)]
    stream.append(scored("rivaljet lost my bag", minutes=60, reshare_of="x:1",
                         scores={"reshare_velocity": 5000}))
    stream.append(scored("@acme hello", minutes=61, scores={"reply_velocity": 499}))
    assert await harness.trigger("viral", stream) == []


def learned_history(posts: int, seed: int = 5) -> list:
    """`posts` posts, one every 10 minutes, each reshared a few times at ordinary rates."""
    rng = random.Random(seed)
    stream = []
    for index in range(posts):
        peak = rng.lognormvariate(1.5, 0.8)  # median ≈ 4.5 reshares/h, 99th percentile ≈ 29
        stream.append(reshare(index * 10, peak, post=f"bluesky:old-{index}", n=index))
    return stream


async def test_the_learned_rate_catches_what_the_fixed_one_misses(harness) -> None:
    harness.configure(triggers={"viral": {"type": "viral_post", "quiet": "1h", "warmup": 200}})
    history = learned_history(300)
    start = 300 * 10 + 120
    fast = [reshare(start + i, v, post="bluesky:hot", n=i) for i, v in enumerate([30, 160])]
    ordinary = [reshare(start + 5, 25, post="bluesky:calm")]
    events = await harness.trigger("viral", history + ordinary + fast)
    assert changes(events) == [("opened", "brand/post:bluesky:hot", "bluesky")]
    evidence = events[0].alert.evidence
    assert evidence["threshold_source"] == "learned: q0.999 of 300 past peaks"
    assert 25 < evidence["threshold"] < evidence["observed"] == 160
    assert evidence["tail_probability"] < 0.01


async def test_the_learned_rate_waits_for_the_warmup(harness) -> None:
    harness.configure(triggers={"viral": {"type": "viral_post", "quiet": "1h", "warmup": 200}})
    history = learned_history(100)
    events = await harness.trigger("viral", history + [reshare(1200, 160, post="bluesky:hot")])
    assert events == []


async def test_a_near_duplicate_cluster_fires_once_it_has_enough_authors(harness) -> None:
    harness.configure(triggers={"viral": {"type": "viral_post"}})
    copies = [scored(f"@acme stole my refund, share this #{i}", minutes=i, author=f"a{i}",
                     scores={"cluster_size": i + 1, "cluster_growth": 150.0},
                     labels={"cluster": "c42"}) for i in range(8)]
    events = await harness.trigger("viral", copies)
    assert changes(events) == [("opened", "brand/cluster:c42", "*")]
    evidence = events[0].alert.evidence
    assert evidence["cluster_size"] == 5 and evidence["metric"] == "cluster_growth"
    assert events[0].alert.opened_at == EPOCH + timedelta(minutes=4)


async def test_resolves_when_the_rate_falls_or_the_post_goes_quiet(harness) -> None:
    harness.configure(triggers={"viral": {"type": "viral_post", "quiet": "2h"}})
    falling = [reshare(0, 800), reshare(30, 400), reshare(60, 240)]
    events = await harness.trigger("viral", falling)
    assert [e.event for e in events if e.change] == ["opened", "resolved"]
    assert events[-1].alert.resolved_at == EPOCH + timedelta(minutes=60)

    quiet = [reshare(0, 800, post="bluesky:p2")]
    ticks = [EPOCH + timedelta(minutes=m) for m in (60, 119, 121)]
    events = await harness.trigger("viral", quiet, ticks=ticks)
    assert [e.event for e in events if e.change] == ["opened", "resolved"]
    assert events[-1].alert.resolved_at == EPOCH + timedelta(minutes=120)


async def test_severity_turns_critical_far_above_the_threshold(harness) -> None:
    harness.configure(triggers={"viral": {"type": "viral_post"}})
    events = await harness.trigger("viral", [reshare(0, 600), reshare(1, 3000)])
    assert [(e.event, e.alert.severity) for e in events if e.change] == [
        ("opened", "high"), ("updated", "critical")]


async def test_survives_a_restart_without_re_alerting(harness) -> None:
    harness.configure(triggers={"viral": {"type": "viral_post", "quiet": "1h"}})
    before = [reshare(0, 100), reshare(5, 700, n=1), reshare(10, 900, n=2)]
    after = [reshare(20, 950, n=3), reshare(30, 300, n=4), reshare(200, 1, post="bluesky:other")]

    straight = await harness.replay(before + after)
    assert [e.event for e in straight.events] == ["opened", "resolved"]

    harness.directory = harness.directory / "restarted"
    harness.directory.mkdir()
    harness.configure(sentineld={"state_dir": str(harness.directory / "state")})
    first = await harness.replay(before, keep_state=True)
    second = await harness.replay(before + after, keep_state=True)
    assert [e.event for e in first.events] == ["opened"]
    assert [e.event for e in second.events] == ["resolved"]
    assert second.events[0].alert.id == straight.events[0].alert.id
    assert second.events[0].alert.resolved_at == straight.events[1].alert.resolved_at
    assert second.events[0].alert.evidence["peak"] == 950


def test_a_checkpoint_of_the_earlier_form_is_read() -> None:
    viral = ViralPost(ViralPostOptions(), ComponentContext("viral", "trigger", WatchConfig(), Path(".")))
    viral.restore({
        "learned": {"reshare_velocity": [5.0, 1, [0.0] * 181, 1, {}]},
        "tracked": [[f"brand/post:{POST}", "bluesky", 60.0, 120.0, {"reshare_velocity": 30.0}, "reshare_velocity",
                     20.0, 30.0, ["bluesky:1", "bluesky:2"]]],
    })
    spread = viral.tracked[f"brand/post:{POST}"]
    assert spread.peaks() == {"reshare_velocity": 30.0}
    assert (spread.firing, spread.crossed, spread.mentions) == ("reshare_velocity", 20.0, ("bluesky:1", "bluesky:2"))
    assert viral.learned["reshare_velocity"].observations == 1

    again = ViralPost(ViralPostOptions(), ComponentContext("viral", "trigger", WatchConfig(), Path(".")))
    again.restore(msgspec.msgpack.decode(msgspec.msgpack.encode({"state": viral.snapshot()}))["state"])
    assert again.tracked == viral.tracked
    assert again.learned["reshare_velocity"].snapshot() == viral.learned["reshare_velocity"].snapshot()


async def test_each_checkpoint_holds_what_is_followed_then_in_its_order() -> None:
    def fresh() -> ViralPost:
        return ViralPost(ViralPostOptions(max_tracked=5, quiet=Duration(3600)),
                         ComponentContext("viral", "trigger", WatchConfig(), Path(".")))

    def spreading(minutes: float, post: str, velocity: float) -> Mention:
        mention = make_mention("RT", source="bluesky", minutes=minutes, reshare_of=f"bluesky:{post}",
                               scores={"reshare_velocity": velocity}, matches=["brand"])
        return mention

    viral, sink = fresh(), TriggerAlertSink("viral", "viral")
    rounds = [
        [spreading(i, f"p{i % 4}", 10 + i) for i in range(8)],
        [spreading(9, "p9", 50), spreading(10, "p2", 60), spreading(11, "p10", 5)],  # evicts, moves p2 last
        [],
        [spreading(200, "p11", 7)],  # the others went quiet an hour ago
    ]
    for stream in rounds:
        await viral.observe(stream, sink)
        sink.take()
        expected = [Spread(*spread.row()) for spread in viral.tracked.values()]
        restored = fresh()
        restored.restore(msgspec.msgpack.decode(msgspec.msgpack.encode({"state": viral.snapshot()}))["state"])
        assert list(restored.tracked.values()) == expected
        assert list(restored.tracked) == [spread.subject for spread in expected]
    assert [spread.subject for spread in expected] == ["brand/post:bluesky:p11"]


async def test_an_original_post_is_its_own_first_mention() -> None:
    """A followed post keeps no copy of its own id (the key holds it), yet its alert lists the
    post first, then the reshares that spread it."""
    def fresh() -> tuple[ViralPost, TriggerAlertSink]:
        return (ViralPost(ViralPostOptions(), ComponentContext("viral", "trigger", WatchConfig(), Path("."))),
                TriggerAlertSink("viral", "viral"))

    def original(minutes: float, replies: float) -> Mention:
        return make_mention("@acme lost my bag", id="bluesky:op", source="bluesky", minutes=minutes,
                            scores={"reply_velocity": replies}, matches=["brand"])

    def reshare_of_it(i: int, velocity: float) -> Mention:
        return make_mention("RT", id=f"bluesky:rt{i}", source="bluesky", minutes=2 + i, reshare_of="bluesky:op",
                            scores={"reshare_velocity": velocity}, matches=["brand"])

    viral, sink = fresh()
    await viral.observe([original(0, 40.0), original(1, 600.0)], sink)
    assert viral.tracked["brand/post:bluesky:op"].mentions == ()
    assert [signal.mentions for signal in sink.take()] == [("bluesky:op",)]

    viral, sink = fresh()
    await viral.observe([original(0, 40.0), reshare_of_it(0, 300.0), reshare_of_it(1, 600.0)], sink)
    assert viral.tracked["brand/post:bluesky:op"].mentions == ("bluesky:op", "bluesky:rt0", "bluesky:rt1")
    assert [signal.mentions for signal in sink.take()] == [("bluesky:op", "bluesky:rt0", "bluesky:rt1")]
