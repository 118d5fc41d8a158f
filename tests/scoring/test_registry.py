"""The influencer registry: per-author state, a bounded hot set, the store, restarts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sentineld.model import Author, Metrics
from sentineld.registry import InfluencerOptions, InfluencerRegistry, Tracking
from sentineld.store import SQLiteStore, StoreError, open_store
from sentineld.store.worker import StoreWorker
from sentineld.testing import Harness, make_mention
from sentineld.watch import Matcher, WatchConfig

from .conftest import WATCH, audience

SCORERS = {"reach": {"type": "influence"}, "spread": {"type": "virality"}}


def harness(tmp_path: Path, **watch: Any) -> Harness:
    return Harness(tmp_path).configure(
        watch={"brand": ["acmeair", "@acmeair"], "accounts": ["acmeair"], **watch}, scorers=SCORERS
    )


def stored_authors(state_dir: Path) -> dict[str, Any]:
    store = open_store(state_dir)
    try:
        rows = store.db.execute("SELECT key, mentions, on_topic, first_seen_us, last_seen_us, "
                                "sentiment_n, watchlist, maven_mass FROM authors").fetchall()
    finally:
        store.close()
    return {row[0]: row[1:] for row in rows}


async def test_registry_persists_across_a_restart(tmp_path: Path) -> None:
    core = harness(tmp_path)
    jo = Author(id="jo", handle="jo.example", followers=300, following=200, posts=900)
    first = [make_mention(f"@acmeair flight {i} late", author=jo, minutes=i) for i in range(3)]
    first += audience(20)
    await core.replay(first, keep_state=True)
    state = tmp_path / "state"
    after_first = stored_authors(state)
    assert len(after_first) == 21
    assert after_first["test:jo"][:2] == (3, 3)

    second = [make_mention("@acmeair lost my bag", author=jo, minutes=600 + i) for i in range(2)]
    second.append(make_mention("hello world", author=jo, minutes=700))
    await core.replay(second, keep_state=True)
    after_second = stored_authors(state)
    mentions, on_topic, first_seen, last_seen, *_ = after_second["test:jo"]
    assert (mentions, on_topic) == (6, 5)
    assert first_seen == after_first["test:jo"][2]  # remembered across the restart
    assert last_seen > after_first["test:jo"][3]
    assert after_second["test:jo"][-1] > after_first["test:jo"][-1]  # more maven mass


async def test_refed_mentions_are_not_counted_twice(tmp_path: Path) -> None:
    """After a crash the pipeline re-feeds what came after the last checkpoint; the registry
    may already hold some of it."""
    worker = StoreWorker(open_store(tmp_path))
    try:
        mentions = [make_mention("@acmeair hi", author="jo", minutes=i) for i in range(10)]
        stored = await worker.call("ingest", "src", mentions, None)
        tracking = Tracking(InfluencerRegistry(matcher=Matcher(WATCH)), worker)
        await tracking.start()
        Matcher(WATCH).apply(mentions)
        await tracking.before_scoring(stored[:6])
        await tracking.after_scoring(stored[:6])
        await tracking.flush()  # the registry was written, then the process died

        restarted = Tracking(InfluencerRegistry(matcher=Matcher(WATCH)), worker)
        await restarted.start()
        assert restarted.registry.stored_seq == stored[5][0]
        for part in (stored[:4], stored[4:]):  # re-fed from an older checkpoint, then onwards
            await restarted.before_scoring(part)
            await restarted.after_scoring(part)
        await restarted.flush()
        rows, _ = await worker.call("load_authors", ["test:jo"])
    finally:
        worker.close()
    assert rows[0][10] == 10  # mentions: each counted once


@pytest.mark.parametrize("hot", [50, 10])  # 10: a batch needs more authors than the hot set holds
async def test_hot_set_is_bounded_and_evicted_authors_come_back_from_the_store(tmp_path: Path, hot: int) -> None:
    worker = StoreWorker(open_store(tmp_path))
    options = InfluencerOptions(hot_authors=hot, flush_every=30)
    try:
        tracking = Tracking(InfluencerRegistry(options, Matcher(WATCH)), worker)
        await tracking.start()
        mentions = [make_mention("@acmeair hi", author=f"a{i % 400}", minutes=i) for i in range(800)]
        Matcher(WATCH).apply(mentions)
        stored = await worker.call("ingest", "src", mentions, None)
        peak = 0
        for start in range(0, len(stored), 40):
            part = stored[start : start + 40]
            await tracking.before_scoring(part)
            await tracking.after_scoring(part)
            peak = max(peak, len(tracking.registry))
        await tracking.flush()
        assert await worker.call("count_authors") == 400
        rows, _ = await worker.call("load_authors", ["test:a7"])
    finally:
        worker.close()
    assert peak <= hot + 30 + 40  # hot set, plus what waits to be written, plus one batch
    assert rows[0][10] == 2  # seen once in each round, the second time loaded from the store
    assert all(row[10] == 2 for row in await _all_rows(tmp_path))


async def test_watchlisted_authors_stay_in_memory(tmp_path: Path) -> None:
    watch = WatchConfig(brand=["acmeair"], watchlist=["@vip"])
    registry = InfluencerRegistry(InfluencerOptions(hot_authors=5), Matcher(watch), persistent=False)
    vip = make_mention("acmeair", author=Author(id="v1", handle="vip"))
    Matcher(watch).apply([vip])
    registry.observe(vip)
    for i in range(50):
        registry.observe(make_mention("acmeair", author=f"x{i}", minutes=i))
    registry.trim()
    record = registry.get("test:v1")
    assert record is not None and record.watchlist
    assert len(registry) == 6


async def test_sentiment_toward_the_brand_is_the_mean_over_brand_mentions(tmp_path: Path) -> None:
    watch = WatchConfig(brand=["acmeair"], competitors={"rival": ["rivaljet"]})
    registry = InfluencerRegistry(matcher=Matcher(watch), persistent=False)
    mentions = [
        make_mention("acmeair lost my bag", author="jo", minutes=1),
        make_mention("acmeair found it", author="jo", minutes=2),
        make_mention("rivaljet is great", author="jo", minutes=3),
    ]
    Matcher(watch).apply(mentions)
    for mention, sentiment in zip(mentions, (-0.8, 0.4, 0.9), strict=True):
        registry.observe(mention)
        mention.scores["sentiment"] = sentiment
        registry.record(mention)
    record = registry.get("test:jo")
    assert record is not None
    assert record.sentiment == (-0.8 + 0.4) / 2
    assert (record.mentions, record.on_topic) == (3, 3)


class _FailingOnce(SQLiteStore):
    """A real store whose disk is full for the first write of authors."""

    failures = 1

    def save_authors(self, *args: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreError("the disk holding the store is full")
        super().save_authors(*args)


async def test_store_full_keeps_dirty_records_until_the_next_write(tmp_path: Path) -> None:
    worker = StoreWorker(_FailingOnce(tmp_path / "db.sqlite3"))
    try:
        tracking = Tracking(InfluencerRegistry(matcher=Matcher(WATCH)), worker)
        await tracking.start()
        first = await worker.call("ingest", "src", [make_mention("@acmeair a", author="jo")], None)
        await tracking.before_scoring(first)
        await tracking.after_scoring(first)
        await tracking.flush()  # fails: nothing lost
        assert await worker.call("count_authors") == 0
        second = await worker.call("ingest", "src", [make_mention("@acmeair b", author="kim")], None)
        await tracking.before_scoring(second)
        await tracking.after_scoring(second)
        await tracking.flush()
        rows, _ = await worker.call("load_authors", ["test:jo", "test:kim"])
    finally:
        worker.close()
    assert sorted(row[0] for row in rows) == ["test:jo", "test:kim"]


async def test_scores_and_registry_through_the_whole_pipeline(tmp_path: Path) -> None:
    core = harness(tmp_path, watchlist=["@vip.example"])
    vip = Author(id="vip", handle="vip.example", followers=120, following=100, posts=400)
    stream = [*audience(50), make_mention("@acmeair where is my bag", author=vip, minutes=40, metrics=Metrics(likes=2))]
    await core.replay(stream, keep_state=True)
    store = open_store(tmp_path / "state")
    try:
        scored = {m.id: m for _, m in store.recent_mentions(limit=100)}
        watchlisted = store.rank_authors("maven_mass", watchlist_only=True)
    finally:
        store.close()
    vip_mention = scored[stream[-1].id]
    assert vip_mention.labels["watchlist"] == "yes"
    for mention in scored.values():
        assert {"connector", "maven", "influence", "virality", "reshare_velocity", "reply_velocity"} <= mention.scores.keys()
    assert [row[0] for row in watchlisted] == ["test:vip"]


async def test_a_reply_to_a_forgotten_post_is_credited_through_the_store(tmp_path: Path) -> None:
    worker = StoreWorker(open_store(tmp_path))
    options = InfluencerOptions(hot_authors=10, recent_posts=10, flush_every=5)
    try:
        tracking = Tracking(InfluencerRegistry(options, Matcher(WATCH)), worker)
        await tracking.start()
        post = make_mention("@acmeair here is how refunds really work", author="expert", minutes=0)
        crowd = [make_mention("@acmeair hi", author=f"c{i}", minutes=1 + i) for i in range(40)]
        replies = [make_mention("@expert thanks!", author=f"r{i}", minutes=60 + i, in_reply_to=post.id) for i in range(3)]
        for part in ([post], crowd, replies):
            Matcher(WATCH).apply(part)
            stored = await worker.call("ingest", "src", part, None)
            await tracking.before_scoring(stored)
            await tracking.after_scoring(stored)
        await tracking.flush()
        rows, posts = await worker.call("load_authors", ["test:expert"], [post.id])
    finally:
        worker.close()
    assert posts == {post.id: "test:expert"}
    assert rows[0][12] == 3  # engaged: the three replies, though author and post had left memory


async def _all_rows(directory: Path) -> list[Any]:
    store = open_store(directory)
    try:
        return store.db.execute("SELECT * FROM authors").fetchall()
    finally:
        store.close()


def test_a_record_comes_back_from_its_row_field_for_field() -> None:
    """`from_row` builds records by position (it is on the hot path): every stored field must
    land where it belongs."""
    from sentineld.authors import RECORD_FIELDS
    from sentineld.registry import AuthorRecord

    def fields(record: AuthorRecord, **changes: object) -> dict[str, object]:
        return {name: getattr(record, name) for name in RECORD_FIELDS} | changes

    record = AuthorRecord(
        "bluesky:did:plc:7", "bluesky", 1_700_000_000.25, 1_700_000_500.5, handle="seven.example",
        name="Seven", followers=1200, following=340, posts=5600, created=1_600_000_000.75,
        mentions=9, on_topic=7, engaged=4, sentiment_sum=-1.5, sentiment_n=3, maven_mass=12.5,
        reach=3.25, audience_mass=12.0, connector=0.8, maven=0.6, influence=0.7, watchlist=True,
        own=False,
    )
    if hasattr(record, "__dict__"):  # run as Python: the list names every field
        assert set(vars(record)) == set(RECORD_FIELDS)
    back = AuthorRecord.from_row(record.to_row())
    assert fields(back) == fields(record, dirty=False)
    empty = AuthorRecord("mastodon:1", "mastodon", 5.0, 5.0)
    assert fields(AuthorRecord.from_row(empty.to_row())) == fields(empty, dirty=False)


def test_recent_posts_forget_as_an_ordered_dict_would() -> None:
    """Least recently remembered first, a post remembered again counting as new."""
    import random
    from collections import OrderedDict

    from sentineld.registry import RecentPosts

    rng = random.Random(4)
    recent, reference = RecentPosts(50), OrderedDict[str, str]()
    for step in range(5000):
        post, author = f"p{rng.randrange(120)}", f"a{step}"
        recent.remember(post, author)
        reference[post] = author
        reference.move_to_end(post)
        if len(reference) > 50:
            reference.popitem(last=False)
        assert len(recent) == len(reference)
        probe = f"p{rng.randrange(120)}"
        assert recent.get(probe) == reference.get(probe)
    assert all(recent.get(post) == author for post, author in reference.items())
    for step in range(1000):  # the same posts over and over: stale entries must not pile up
        recent.remember(f"p{step % 3}", "a")
        assert len(recent._order) <= 2 * 50
    assert [recent.get(f"p{n}") for n in range(3)] == ["a"] * 3 and len(recent) == 50


async def _in_batches(directory: Path, mentions: list[Any], batch: int,
                      while_scored: Callable[[InfluencerRegistry, list[Any]], None] | None = None) -> None:
    """Store `mentions` and take them through the tracking step `batch` at a time, with a small
    hot set and few recent posts; `while_scored` looks at the registry between the two steps."""
    worker = StoreWorker(open_store(directory))
    try:
        registry = InfluencerRegistry(InfluencerOptions(hot_authors=8, recent_posts=5, flush_every=4), Matcher(WATCH))
        tracking = Tracking(registry, worker)
        await tracking.start()
        stored = await worker.call("ingest", "src", mentions, None)
        for start in range(0, len(stored), batch):
            part = stored[start : start + batch]
            await tracking.before_scoring(part)
            if while_scored is not None:
                while_scored(registry, part)
            await tracking.after_scoring(part)
        await tracking.flush()
    finally:
        worker.close()


async def _authors_after(tmp_path: Path, mentions: list[Any], batch: int) -> list[Any]:
    directory = tmp_path / f"batch-{batch}"
    await _in_batches(directory, mentions, batch)
    return sorted(await _all_rows(directory))


def _replies_to_posts_nine_back() -> list[Any]:
    """60 matched mentions by 13 authors; every third from the tenth on replies to the post nine
    before it, which five recent posts have forgotten by then."""
    mentions = []
    for i in range(60):
        parent = {"in_reply_to": f"test:{i - 9}"} if i % 3 == 0 and i >= 9 else {}
        mentions.append(make_mention("@acmeair news", id=f"test:{i}", author=f"a{i % 13}", minutes=i, **parent))
    Matcher(WATCH).apply(mentions)
    return mentions


async def test_a_reply_in_a_batch_longer_than_the_recent_posts_still_credits_its_author(tmp_path: Path) -> None:
    """A post can leave the recent posts within one batch (a re-feed after a restart reads a
    thousand mentions at a time) before a reply to it comes: the author is credited as in a
    batch of its own."""
    mentions = _replies_to_posts_nine_back()
    one_by_one = await _authors_after(tmp_path, mentions, 1)
    assert sum(row[12] for row in one_by_one) == 17  # engaged: every reply credited
    assert await _authors_after(tmp_path, mentions, 60) == one_by_one


async def _post_authors_seen(tmp_path: Path, mentions: list[Any], batch: int) -> list[str | None]:
    """What `post_author` answers, for each reply, while its batch is scored (as virality asks
    it whether a reply is a self-reply)."""
    answers: list[str | None] = []

    def ask(registry: InfluencerRegistry, part: list[Any]) -> None:
        answers.extend(registry.post_author(m.in_reply_to) for _, m in part if m.in_reply_to)

    await _in_batches(tmp_path / f"posts-{batch}", mentions, batch, ask)
    return answers


async def test_the_author_of_a_replied_post_is_known_in_a_batch_longer_than_the_recent_posts(tmp_path: Path) -> None:
    """Virality tells self-replies by `post_author`: a post that left the recent posts within
    a long batch (a replay, a re-feed after a restart) must still be known while its batch is
    scored, as in a batch of its own, or the reply velocities depend on the batching."""
    mentions = _replies_to_posts_nine_back()
    one_by_one = await _post_authors_seen(tmp_path, mentions, 1)
    assert one_by_one == [f"test:a{(i - 9) % 13}" for i in range(9, 60, 3)]
    assert await _post_authors_seen(tmp_path, mentions, 60) == one_by_one


async def test_evicted_records_ask_for_early_checkpoints_that_carry_them(tmp_path: Path) -> None:
    """With checkpoints by the clock an hour apart, evicted records would wait in memory until
    the end: the registry asks the pipeline for early barriers instead, and its records reach
    the store with those checkpoints (decision 0130)."""
    from sentineld.pipeline import GROUP_MENTIONS
    from sentineld.replay import replay

    core = harness(tmp_path).configure(sentineld={"checkpoint_interval": "1h", "batch_size": 100},
                                       influencers={"hot_authors": 50, "flush_every": 100})
    mentions = [make_mention("@acmeair hi", author=f"a{(i * 7) % 4000}", minutes=i) for i in range(8000)]
    path = core.write_jsonl(mentions)
    seen: dict[str, Any] = {"peak": 0}

    def watch(pipeline: Any) -> None:
        seen["pipeline"] = pipeline
        tracking, after = pipeline.tracking, pipeline.tracking.after_scoring

        async def after_scoring(batch: Any) -> None:
            await after(batch)
            seen["peak"] = max(seen["peak"], tracking.registry.pending)

        tracking.after_scoring = after_scoring

    await replay(core.config(), [str(path)], state_dir=tmp_path / "state", watch=watch)
    pipeline = seen["pipeline"]
    # The score stage places a barrier after the group of batches it is scoring (at most 4,096
    # mentions, `GROUP_MENTIONS`): at least one per group here, plus the last.
    assert pipeline.stats.checkpoints >= 3
    assert pipeline.tracking.writes == pipeline.stats.checkpoints
    assert seen["peak"] < 100 + GROUP_MENTIONS
    assert len(await _all_rows(tmp_path / "state")) == 4000


def test_stored_times_round_as_python_rounds() -> None:
    """`micros` (rows' times, without a call to ``round``) is ``round(seconds * 1e6)``, halves
    going to the even neighbour, whichever build runs it."""
    import math
    import random

    from sentineld.authors import micros

    rng = random.Random(9)
    values = [rng.uniform(-2e9, 2e9) for _ in range(20_000)] + [rng.uniform(0, 5) for _ in range(5_000)]
    values += [(n + 0.5) / 1e6 for n in range(-50, 50)] + [0.0, -0.0, 1.5e-6, 2.5e-6, 1e300 / 1e294, 2.0**60]
    values += [math.nextafter(v, math.inf) for v in values[-100:]]
    assert [micros(v) for v in values] == [round(v * 1e6) for v in values]
    for bad in (math.inf, math.nan):
        with pytest.raises((OverflowError, ValueError)):
            micros(bad)


def test_record_batch_keeps_the_scores_of_the_batch_observed_and_of_any_other() -> None:
    """`record_batch` takes each mention's record from `observe_batch` when given the batch it
    last observed, and looks the authors up for any other: both keep the same sentiment and
    scores, and a mention the stored records already cover is recorded by neither."""
    registry = InfluencerRegistry(matcher=Matcher(WatchConfig(brand=["acmeair"])))
    registry.stored_seq = 1
    jo = Author(id="jo", handle="jo.example", followers=300)
    al = Author(id="al", handle="al.example", followers=40)
    batch = [
        (1, make_mention("acmeair old news", author=jo, minutes=0)),
        (2, make_mention("acmeair lost my bag", author=jo, minutes=1)),
        (3, make_mention("acmeair thanks", author=al, minutes=2)),
        (4, make_mention("no author here", author=None, minutes=3)),
    ]
    again = [(seq, make_mention("acmeair again", id=f"again-{seq}", author=jo, minutes=4 + seq)) for seq in (5, 6)]
    Matcher(WatchConfig(brand=["acmeair"])).apply([m for _, m in batch + again])
    for seq, mention in batch + again:
        mention.scores.update(sentiment=-0.5 * seq, connector=0.1 * seq, maven=0.2, influence=0.1 * seq + 1)

    registry.observe_batch(again)
    registry.observe_batch(batch)
    registry.record_batch(list(again))  # not the batch observed last: looked up
    registry.record_batch(batch)  # the batch observed last: its records
    jo_record, al_record = registry.get("test:jo"), registry.get("test:al")
    assert jo_record is not None and al_record is not None
    assert (jo_record.sentiment_n, jo_record.sentiment_sum) == (3, -0.5 * (2 + 5 + 6))
    assert (jo_record.connector, jo_record.influence) == (0.1 * 2, 0.1 * 2 + 1)  # recorded last
    assert (al_record.sentiment_n, al_record.sentiment_sum, al_record.maven) == (1, -1.5, 0.2)
    assert jo_record.mentions == 3  # seq 1 is covered by the stored records: not observed either
