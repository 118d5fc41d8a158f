"""viral_post through its public interface only (`observe`, `tick`, `snapshot`/`restore`,
`snapshot_parts`/`restore_parts`): the alerts it raises and clears on constructed streams, and
the checkpoints it writes and reads. Nothing here depends on how the followed posts are held,
so these tests hold whichever form they take (decision 0141)."""

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

START = EPOCH.timestamp()


def viral_post(**options: object) -> ViralPost:
    return ViralPost(ViralPostOptions(**options),  # type: ignore[arg-type]
                     ComponentContext("viral", "trigger", WatchConfig(), Path(".")))


def sink() -> TriggerAlertSink:
    return TriggerAlertSink("viral", "viral")


def reshare(seconds: float, post: str, velocity: float, n: int = 0, **fields: object) -> Mention:
    return make_mention("RT @acme lost my bag", id=f"bluesky:{post}-rt{n}-{seconds}", source="bluesky",
                        minutes=seconds / 60, reshare_of=f"bluesky:{post}",
                        scores={"reshare_velocity": velocity}, matches=["brand"], **fields)


def restored(viral: ViralPost, **options: object) -> ViralPost:
    """A new instance (with `options`) restored from `viral`'s checkpoint, as the pipeline
    stores and reads it."""
    again = viral_post(**options)
    again.restore(msgspec.msgpack.decode(msgspec.msgpack.encode({"state": viral.snapshot()}))["state"])
    return again


def said(signals: list) -> list[tuple[bool, str, str, float]]:
    return [(s.fire, s.subject, s.channel, s.at.timestamp() - START) for s in signals]


async def test_fires_once_per_post_updates_as_it_speeds_up_and_resolves_as_it_slows() -> None:
    viral, alerts = viral_post(), sink()
    await viral.observe([reshare(0, "p", 100), reshare(60, "p", 600, 1), reshare(120, "p", 550, 2),
                         reshare(180, "p", 900, 3), reshare(240, "p", 240, 4)], alerts)
    assert said(alerts.take()) == [(True, "brand/post:bluesky:p", "bluesky", 60),
                                   (True, "brand/post:bluesky:p", "bluesky", 180),
                                   (False, "brand/post:bluesky:p", "bluesky", 240)]


async def test_stays_quiet_below_the_rates_off_subject_and_without_scores() -> None:
    viral, alerts = viral_post(), sink()
    quiet = [reshare(i, "p", 499) for i in range(20)]
    off_subject = make_mention("RT", source="bluesky", reshare_of="bluesky:q", scores={"reshare_velocity": 5000},
                               matches=["competitor:rivaljet"])
    unmatched = make_mention("RT", source="bluesky", reshare_of="bluesky:r", scores={"reshare_velocity": 5000})
    small_cluster = make_mention("x", source="bluesky", scores={"cluster_growth": 900.0, "cluster_size": 4},
                                 labels={"cluster": "c1"}, matches=["brand"])
    await viral.observe([*quiet, off_subject, unmatched, small_cluster], alerts)
    assert alerts.take() == []


async def test_a_quiet_post_resolves_at_the_end_of_its_quiet_time() -> None:
    viral, alerts = viral_post(quiet=Duration(3600)), sink()
    await viral.observe([reshare(0, "p", 800)], alerts)
    await viral.tick(EPOCH + timedelta(seconds=3599), alerts)
    assert said(alerts.take()) == [(True, "brand/post:bluesky:p", "bluesky", 0)]
    await viral.tick(EPOCH + timedelta(seconds=7200), alerts)
    assert said(alerts.take()) == [(False, "brand/post:bluesky:p", "bluesky", 3600)]


def _let_go_by_rule(posts: list[tuple[str, float]], moment: float, most: int, quiet: float) -> list[tuple[str, float]]:
    """What following one more post lets go of, written plainly: every post quiet for `quiet`
    (at the end of its quiet time), then, while `most` or more are still followed, the least
    recent one (now) and no more. `posts`: (subject, last heard of), least recent first."""
    left, gone = list(posts), []
    while left:
        if left[0][1] + quiet <= moment:
            gone.append((left[0][0], left[0][1] + quiet))
            left.pop(0)
        elif len(left) >= most:
            gone.append((left[0][0], moment))
            left.pop(0)
            break
        else:
            break
    return gone


async def test_the_bound_lets_go_of_the_quiet_then_of_the_least_recent_and_resolves_them() -> None:
    """Posts followed (each firing) in some order, restored into a trigger that follows at most
    `most` (possibly fewer than it restored); one new post: the alerts of the posts it lets go
    of resolve at the times the rule gives; the rest then expire in the order they were
    followed, the new one last."""
    rng = random.Random(21)
    quiet = 3600.0
    for _ in range(200):
        most = rng.randint(1, 6)
        setup, alerts = viral_post(max_tracked=1000, quiet=Duration(10**9)), sink()
        posts = [(f"p{i}", rng.choice([0.0, 1000.0, 5000.0])) for i in range(rng.randint(0, most + 3))]
        for post, last in posts:
            await setup.observe([reshare(last, post, 600.0)], alerts)
        assert len(alerts.take()) == len(posts)  # each fired

        viral = restored(setup, max_tracked=most, quiet=Duration(quiet))
        moment = rng.choice([3000.0, 4700.0, 9000.0])
        await viral.observe([reshare(moment, "new", 600.0)], alerts)
        expected = _let_go_by_rule([(f"brand/post:bluesky:{p}", last) for p, last in posts], moment, most, quiet)
        signals = said(alerts.take())
        assert signals[:-1] == [(False, subject, "bluesky", at) for subject, at in expected]
        assert signals[-1] == (True, "brand/post:bluesky:new", "bluesky", moment)

        await viral.tick(EPOCH + timedelta(seconds=10**6), alerts)
        left = [(f"brand/post:bluesky:{p}", last) for p, last in posts][len(expected):]
        assert said(alerts.take()) == [(False, subject, "bluesky", last + quiet) for subject, last in
                                       [*left, ("brand/post:bluesky:new", moment)]]


async def test_the_learned_rate_counts_each_post_let_go_once() -> None:
    viral = viral_post(max_tracked=3, quiet=Duration(3600), warmup=5, velocity=0.0)
    alerts = sink()
    await viral.observe([reshare(i, f"p{i}", 2.0 + i) for i in range(6)], alerts)
    assert viral.threshold("reshare_velocity")[1] == "none"  # 3 let go: still warming up
    await viral.observe([reshare(10 + i, f"q{i}", 3.0) for i in range(2)], alerts)
    rate, source = viral.threshold("reshare_velocity")
    assert source == "learned: q0.999 of 5 past peaks" and rate == 20.0  # the floor
    assert alerts.take() == []


def mixed_stream(count: int, seed: int) -> list[Mention]:
    """Posts and clusters spreading at all sorts of rates, some fast enough to fire, some
    coming back after their quiet time, some mentions late."""
    rng = random.Random(seed)
    mentions, seconds = [], 0.0
    for i in range(count):
        seconds += rng.expovariate(1 / 40)
        at = seconds - (rng.uniform(0, 300) if rng.random() < 0.05 else 0)
        if rng.random() < 0.8:
            post = f"p{int(rng.paretovariate(1.2)) % 400}"
            fields: dict[str, object] = {"reshare_of": f"bluesky:{post}"} if rng.random() < 0.7 else {"id": f"bluesky:{post}"}
            velocity = rng.lognormvariate(2, 1.5)
            if rng.random() < 0.2:
                velocity = int(velocity)  # a scorer may write ints
            scores = {"reshare_velocity" if rng.random() < 0.6 else "reply_velocity": velocity}
            labels: dict[str, str] = {}
        else:
            fields, labels = {}, {"cluster": f"c{rng.randrange(30)}"}
            scores = {"cluster_growth": rng.lognormvariate(2, 1.5), "cluster_size": float(rng.randrange(1, 40))}
        fields.setdefault("id", f"bluesky:m{i}")
        matches = rng.choice([["brand"], ["brand"], ["competitor:rivaljet", "brand"], ["topic:bags"]])
        mentions.append(make_mention("RT @acme lost my bag", source=rng.choice(["bluesky", "mastodon"]),
                                     minutes=at / 60, scores=scores, labels=labels, matches=matches, **fields))
    return mentions


OPTIONS = {"subjects": ["brand", "competitor:rivaljet"], "velocity": 60.0, "cluster_growth": 40.0, "warmup": 30,
           "max_tracked": 50, "quiet": Duration(1800)}


async def run(mentions: list[Mention], restart_every: int | None, parts: bool) -> tuple[list[bytes], bytes]:
    viral, alerts, signals = viral_post(**OPTIONS), sink(), []
    for start in range(0, len(mentions), 37):
        await viral.observe(mentions[start:start + 37], alerts)
        if start % 10 == 0:
            await viral.tick(mentions[start].created_at, alerts)
        signals += [msgspec.json.encode(s) for s in alerts.take()]
        if restart_every and start // 37 % restart_every == restart_every - 1:
            if parts:
                state = viral.snapshot_parts(True)
                assert state is not None
                viral = viral_post(**OPTIONS)
                viral.restore_parts(state.changed)
            else:
                viral = restored(viral, **OPTIONS)
    return signals, viral.snapshot()


async def test_a_restart_from_any_checkpoint_neither_forgets_nor_repeats() -> None:
    """A stream with fires, updates, resolutions, evictions at the bound and learned rates,
    restarted from a checkpoint every few batches (whole or in parts): the same signals, to
    the byte, and the same final state as one straight run."""
    mentions = mixed_stream(6000, seed=3)
    straight, state = await run(mentions, None, parts=False)
    fired = sum(b'"fire":true' in s for s in straight)
    assert fired > 50 and len(straight) - fired > 50  # it fires and resolves, often
    for every, parts in ((3, False), (7, True), (1, True)):
        assert await run(mentions, every, parts) == (straight, state)


#: A checkpoint as the followed posts' msgspec structs wrote it (decision 0118's form): the
#: learned histograms, then each post as an array of its eleven fields.
LEARNED = [1.0e9, 3, [0.0] * 100 + [2.5] + [0.0] * 80, 3, {0.999: 1412.5}]
OLD_STATE = {
    "learned": {"reshare_velocity": LEARNED, "reply_velocity": [None, 0, [0.0] * 181, 0, {}],
                "cluster_growth": [None, 0, [0.0] * 181, 0, {}]},
    "tracked": [
        ["brand/post:bluesky:a", "bluesky", 1.0e9, 1.0e9 + 60, [], 0.0, 0.0, 0.0, None, 0.0, 0.0],
        ["brand/post:bluesky:b", "bluesky", 1.0e9, 1.0e9 + 90, ["bluesky:b", "bluesky:rt1"], 700.0, 0.0, 0.0,
         "reshare_velocity", 500.0, 700.0],
        ["brand/cluster:c9", "*", 1.0e9 + 5, 1.0e9 + 95, ["bluesky:x"], 0.0, 0.0, 120.5, None, 0.0, 0.0],
        ["brand/post:mastodon:c", "mastodon", 1.0e9 + 7, 1.0e9 + 99, [], 3.5, 1.25, 0.0, None, 0.0, 0.0],
    ],
}


def test_a_checkpoint_written_by_the_structs_is_read_and_written_again_to_the_byte() -> None:
    written = msgspec.msgpack.encode(OLD_STATE)
    viral = viral_post()
    viral.restore(written)
    assert viral.snapshot() == written
    again = viral_post()
    again.restore(msgspec.msgpack.decode(msgspec.msgpack.encode({"state": viral.snapshot()}))["state"])
    assert again.snapshot() == written
    parts = again.snapshot_parts(True)
    assert parts is not None
    in_parts = viral_post()
    in_parts.restore_parts(parts.changed)
    assert in_parts.snapshot() == written


async def test_a_restored_firing_post_goes_on_from_where_it_was() -> None:
    viral = viral_post(quiet=Duration(3600))
    viral.restore(msgspec.msgpack.encode(OLD_STATE))
    alerts = sink()
    at = 1.0e9 + 100 - START
    await viral.observe([reshare(at, "b", 650.0, 5), reshare(at + 1, "b", 800.0, 6), reshare(at + 2, "b", 240, 7)],
                        alerts)
    signals = alerts.take()
    assert [(s.fire, s.subject) for s in signals] == [(True, "brand/post:bluesky:b"), (False, "brand/post:bluesky:b")]
    assert signals[0].evidence["peak"] == 800.0 and signals[0].evidence["threshold"] == 500.0
    assert signals[0].mentions == ("bluesky:b", "bluesky:rt1", f"bluesky:b-rt5-{at}", f"bluesky:b-rt6-{at + 1}")
    assert signals[0].evidence["window"] == str(Duration(at + 1 + START - 1.0e9))


async def test_rates_written_as_ints_or_numpy_scalars_alert_as_floats_do() -> None:
    """A scorer may write a rate as an int or a numpy scalar: the same alerts as with floats,
    the alert reporting the mention's own value."""
    import numpy as np

    def stream(kind: type) -> list[Mention]:
        return [reshare(0, "p", kind(100)), reshare(60, "p", kind(600), 1), reshare(120, "p", kind(900), 2),
                reshare(180, "p", kind(200), 3)]

    outcomes = []
    for kind in (float, int, np.float32, np.float64):
        viral, alerts = viral_post(), sink()
        await viral.observe(stream(kind), alerts)
        signals = alerts.take()
        assert [type(s.evidence["observed"]) for s in signals if s.fire] == [kind, kind]
        outcomes.append((said(signals), [s.evidence["observed"] for s in signals if s.fire], viral.snapshot()))
    assert all(outcome == outcomes[0] for outcome in outcomes)
    assert outcomes[0][0] == [(True, "brand/post:bluesky:p", "bluesky", 60), (True, "brand/post:bluesky:p", "bluesky", 120),
                              (False, "brand/post:bluesky:p", "bluesky", 180)]
