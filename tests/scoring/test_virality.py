"""Per-post velocity, near-duplicate clusters across unconnected authors, virality."""

from __future__ import annotations

import math
import random
import re
import statistics
import unicodedata
from itertools import accumulate

import msgspec
import numpy as np
import pytest
from datasketch import MinHash

from sentineld.model import Author, Metrics
from sentineld.options import Duration
from sentineld.registry import InfluencerRegistry
from sentineld.testing import EPOCH, make_mention
from sentineld.watch import Matcher
from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer
from sentineld_plugins.scorers.virality import signatures as signatures_module
from sentineld_plugins.scorers.virality.signatures import Signer, contents, normalize, shingles

from .conftest import WATCH, audience, context, score

CAMPAIGN = [
    "I am done with @acmeair: three cancelled flights this month and still no refund. Boycott! https://t.co/a1",
    "@someone I am done with @acmeair, three cancelled flights this month and still no refund. Boycott https://t.co/b2",
    "I am DONE with @acmeair: three cancelled flights this month and STILL no refund!! boycott",
    "I am done with @acmeair: three cancelled flights this month and still no refund at all. Boycott! https://bit.ly/x",
    "i am done with @acmeair three cancelled flights this month and still no refund boycott #acmeair",
]


def scorer(**options: object) -> ViralityScorer:
    """A scorer with its index allocated (as `start()` does), for tests that look inside."""
    built = ViralityScorer(ViralityOptions(**options), context())  # type: ignore[arg-type]
    built._build()
    return built


def people(count: int) -> list[Author]:
    return [Author(id=f"p{i}", handle=f"p{i}.example", followers=100) for i in range(count)]


@pytest.mark.parametrize("index", ["bands", "datasketch"])
async def test_near_duplicates_by_unconnected_authors_form_one_cluster(index: str) -> None:
    stream = audience(300)
    copies = [make_mention(text, author=who, minutes=200 + 7 * i) for i, (text, who) in enumerate(zip(CAMPAIGN, people(5)))]
    await score([*stream, *copies], scorer(index=index))

    assert not any("cluster" in m.labels for m in stream)
    assert "cluster" not in copies[0].labels  # alone when posted
    ids = {m.labels["cluster"] for m in copies[1:]}
    assert len(ids) == 1
    assert [m.scores["cluster_size"] for m in copies[1:]] == [2.0, 3.0, 4.0, 5.0]
    growth = [m.scores["cluster_growth"] for m in copies[1:]]
    assert growth == sorted(growth) and growth[-1] > 3.0  # authors per hour, recent
    assert all(m.scores["virality"] > 0 for m in copies[1:])


async def test_cluster_ids_are_stable_across_runs() -> None:
    def run() -> list[str]:
        return [m.labels.get("cluster", "") for m in copies]

    copies = [make_mention(text, id=f"test:c{i}", author=who, minutes=i) for i, (text, who) in enumerate(zip(CAMPAIGN, people(5)))]
    await score(copies, scorer())
    first = run()
    copies = [make_mention(text, id=f"test:c{i}", author=who, minutes=i) for i, (text, who) in enumerate(zip(CAMPAIGN, people(5)))]
    await score(copies, scorer(), batch=2)
    assert run() == first and first[1].startswith("c")


async def test_a_batch_clusters_as_its_posts_one_at_a_time() -> None:
    """A post whose near-duplicates all sit in one live cluster joins it straight away, other
    posts go the general way; posts scored one at a time mostly take the first path, posts of a
    batch (near-duplicates among themselves) the second, and both must agree: clusters, sizes,
    growth. The stream has repeating authors and replies (connected pairs) and chatter."""

    def stream() -> list:
        rng = random.Random(11)
        posts = []
        for i in range(240):
            minutes = i * 0.7
            if rng.random() < 0.3:
                posts.append(chatter(1, minutes=minutes, seed=100 + i)[0])
                continue
            text = CAMPAIGN[rng.randrange(3)]
            parent = posts[rng.randrange(len(posts))].id if posts and rng.random() < 0.15 else None
            posts.append(make_mention(text, id=f"test:m{i}", author=f"a{rng.randrange(40)}", minutes=minutes,
                                      in_reply_to=parent))
        return posts

    outcomes = []
    for batch in (1, 17, 64):
        posts = stream()
        await score(posts, scorer(max_posts=100), batch=batch)
        outcomes.append([(m.labels.get("cluster"), m.scores.get("cluster_size"), m.scores.get("cluster_growth")) for m in posts])
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert sum(label is not None for label, _, _ in outcomes[0]) > 100


async def test_a_batch_longer_than_the_window_clusters_as_one_post_at_a_time() -> None:
    """On a quiet brand a replay's batch can span days: posts leave the window in the middle
    of it. Each post must see the posts still in its own window, as the live daemon's small
    batches do, not those left in the window of the batch's last post."""

    def stream() -> list:
        rng = random.Random(7)
        posts, minutes = [], 0.0
        for i in range(400):
            minutes += rng.expovariate(1 / 30)  # a post every half hour: 48 a day
            parent = posts[rng.randrange(len(posts))].id if posts and rng.random() < 0.1 else None
            posts.append(make_mention(CAMPAIGN[rng.randrange(4)], id=f"test:q{i}", author=f"a{rng.randrange(60)}",
                                      minutes=minutes, in_reply_to=parent))
        return posts

    outcomes = []
    for batch in (1, 64, 400):
        posts = stream()
        await score(posts, scorer(), batch=batch)
        outcomes.append([(m.labels.get("cluster"), m.scores.get("cluster_size"), m.scores.get("cluster_growth")) for m in posts])
    assert (posts[-1].timestamp - posts[0].timestamp) / 86400 > 7  # the batch of 400 spans a week
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert sum(label is not None for label, _, _ in outcomes[0]) > 300


async def test_one_author_reposting_the_same_text_is_not_a_cluster() -> None:
    jo = Author(id="jo", handle="jo.example", followers=100)
    reposts = [make_mention(CAMPAIGN[0], author=jo, minutes=i * 10) for i in range(6)]
    await score(reposts, scorer())
    assert not any("cluster" in m.labels for m in reposts)


async def test_replies_in_one_thread_are_connected() -> None:
    post = make_mention("@acmeair my flight to Denver was cancelled and nobody answers the phone", author="op")
    echoes = [
        make_mention("@op @acmeair my flight to Denver was cancelled and nobody answers the phone",
                     author=who, minutes=1 + i, in_reply_to=post.id)
        for i, who in enumerate(people(4))
    ]
    await score([post, *echoes], scorer())
    assert not any("cluster" in m.labels for m in [post, *echoes])


async def test_different_texts_and_short_ones_are_not_clustered() -> None:
    texts = [
        "@acmeair my flight to Denver was cancelled and nobody answers the phone",
        "@acmeair the new lounge in Chicago has great coffee and fast wifi",
        "@acmeair why does a checked bag cost more than my seat on this route",
    ]
    different = [make_mention(t, author=who, minutes=i) for i, (t, who) in enumerate(zip(texts, people(3)))]
    short = [make_mention("thanks @acmeair!", author=who, minutes=10 + i) for i, who in enumerate(people(8))]
    await score([*different, *short], scorer())
    assert not any("cluster" in m.labels for m in [*different, *short])


async def test_japanese_near_duplicates_cluster() -> None:
    texts = [
        "アクメ航空の便がまた欠航した。返金もまだない。もう二度と乗らない",
        "アクメ航空の便がまた欠航した!返金もまだない。もう二度と乗らない https://t.co/x",
        "アクメ航空の便がまた欠航した。返金もまだない、もう二度と乗らない",
    ]
    posts = [make_mention(t, author=who, minutes=i) for i, (t, who) in enumerate(zip(texts, people(3)))]
    await score(posts, scorer())
    assert [m.scores.get("cluster_size") for m in posts] == [None, 2.0, 3.0]


async def test_reshares_seen_in_the_stream_give_the_reshare_velocity() -> None:
    post = make_mention("@acmeair lost my wheelchair at Denver and nobody helps", author="op")
    reshares = [make_mention("", author=who, minutes=1 + i, reshare_of=post.id) for i, who in enumerate(people(30))]
    brand = Author(id="acme", handle="acmeair", followers=10)
    brand_reshare = make_mention("", author=brand, minutes=31, reshare_of=post.id)
    await score([post, *reshares, brand_reshare], scorer())
    velocities = [m.scores["reshare_velocity"] for m in reshares]
    assert velocities == sorted(velocities)
    assert 20 < velocities[-1] < 30  # 30 reshares within half an hour, decayed over an hour
    assert brand_reshare.scores["reshare_velocity"] == pytest.approx(velocities[-1] * np.exp(-1 / 60), rel=0.01)
    assert reshares[-1].scores["virality"] > reshares[0].scores["virality"]


async def test_self_replies_do_not_count_as_replies() -> None:
    registry = InfluencerRegistry(matcher=Matcher(WATCH), persistent=False)
    spread = ViralityScorer(ViralityOptions(), context(influencers=registry))
    post = make_mention("@acmeair a thread about refunds that never arrive", author="op")
    thread = [make_mention(f"@acmeair part {i}", author="op", minutes=1 + i, in_reply_to=post.id) for i in range(10)]
    others = [make_mention("@op same here", author=who, minutes=20 + i, in_reply_to=post.id) for i, who in enumerate(people(3))]
    batch = [post, *thread, *others]
    Matcher(WATCH).apply(batch)
    for mention in batch:
        registry.observe(mention)
    await spread.score(batch)
    assert all(m.scores["reply_velocity"] == 0.0 for m in thread)
    assert others[-1].scores["reply_velocity"] == pytest.approx(3.0, rel=0.1)


async def test_metrics_over_age_give_an_original_posts_velocity() -> None:
    old = make_mention("@acmeair the video of the broken wing", author="filmer", minutes=0,
                       metrics=Metrics(reshares=60, replies=20))
    later = make_mention("@acmeair hello", author="someone", minutes=120)
    fresh = make_mention("@acmeair brand new", author="new", minutes=120, metrics=Metrics(reshares=5))
    await score([later, old, fresh], scorer(), batch=3)
    assert old.scores["reshare_velocity"] == pytest.approx(30.0)  # 60 reshares in two hours
    assert old.scores["reply_velocity"] == pytest.approx(10.0)
    assert fresh.scores["reshare_velocity"] == pytest.approx(20.0)  # counted as 15 minutes old
    assert later.scores["virality"] == 0.0


async def test_state_survives_a_checkpoint_and_restore() -> None:
    def campaign() -> list:
        return [
            make_mention(text, id=f"test:copy{i}", author=who, minutes=100 + i)
            for i, (text, who) in enumerate(zip(CAMPAIGN, people(5)))
        ]

    stream = audience(100)
    copies = campaign()
    straight = scorer()
    await score([*stream, *copies], straight)
    expected = [(m.labels.get("cluster"), m.scores.get("cluster_size")) for m in copies]

    stream = audience(100)
    copies = campaign()
    before = scorer()
    await score([*stream, *copies[:2]], before)
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(before.snapshot()))
    after = scorer()
    after.restore(state)
    await score(copies[2:], after)
    assert [(m.labels.get("cluster"), m.scores.get("cluster_size")) for m in copies] == expected
    assert expected[-1][1] == 5.0


def chatter(count: int, *, minutes: float, seed: int = 3) -> list:
    """`count` posts of eight random words each by different authors: none near another."""
    rng = random.Random(seed)
    words = [f"word{i}" for i in range(400)]
    return [
        make_mention(" ".join(rng.sample(words, 8)), author=f"chat{seed}-{i}", minutes=minutes + i * 0.1)
        for i in range(count)
    ]


async def test_memory_is_bounded_by_max_posts() -> None:
    spread = scorer(max_posts=64, tracked_posts=32)
    allocated = spread._index.nbytes
    stream = audience(500)
    stream += [make_mention("", author="r", minutes=300 + i, reshare_of=m.id) for i, m in enumerate(stream[:200])]
    stream += chatter(300, minutes=600)
    await score(stream, spread)
    assert spread.indexed == 64
    assert sum(post is not None for post in spread._posts) == 64
    assert len(spread._engagement) <= 32
    assert spread._index.nbytes == allocated


async def test_clusters_are_forgotten_with_their_last_indexed_post() -> None:
    spread = scorer(max_posts=32)
    copies = [make_mention(text, author=who, minutes=i) for i, (text, who) in enumerate(zip(CAMPAIGN, people(5)))]
    await score(copies, spread)
    assert len(spread._clusters) == 1
    await score(chatter(30, minutes=10), spread)
    assert len(spread._clusters) == 1 and spread.indexed == 32  # two copies still indexed
    await score(chatter(2, minutes=20, seed=4), spread)
    assert spread._clusters == {}
    assert not any(spread._cluster_of)


async def test_posts_leave_the_index_after_the_window() -> None:
    spread = scorer(window=Duration(3600))
    copies = [make_mention(text, author=who, minutes=i) for i, (text, who) in enumerate(zip(CAMPAIGN[:3], people(3)))]
    await score(copies, spread)
    later = make_mention(CAMPAIGN[3], author="late", minutes=3 + 61)
    await score([later], spread)
    assert spread.indexed == 1 and spread._clusters == {}
    assert "cluster" not in later.labels  # its near-duplicates are out of the window


def test_signatures_are_datasketchs_minhash() -> None:
    texts = [*CAMPAIGN, "アクメ航空の便が遅れた", "two words"]
    found = shingles(contents(texts), len(texts))
    signatures = Signer(64).sign(found)
    assert found.pair_counts.tolist() == [count - 1 for count in found.token_counts.tolist()]
    ends = np.cumsum(found.pair_counts)
    for end, count, signature in zip(ends, found.pair_counts, signatures, strict=True):
        reference = MinHash(num_perm=64, seed=1, scheme="affine32", hashfunc=int)
        reference.update_batch(found.pairs[end - count : end].tolist())
        assert np.array_equal(reference.hashvalues, signature)




def test_shingles_keep_each_content_to_itself() -> None:
    """Contents without a token (first, between, last) count none, and no pair spans two."""
    texts = ["", "red green", "!!!", "blue", "red green blue", "", "green red", ""]
    together = shingles(contents(texts), len(texts))
    alone = [shingles(contents([text]), 1) for text in texts]
    assert together.token_counts.tolist() == [0, 2, 0, 1, 3, 0, 2, 0]
    assert together.pair_counts.tolist() == [0, 1, 0, 0, 2, 0, 1, 0]
    assert np.array_equal(together.pairs, np.concatenate([found.pairs for found in alone]))
    assert len(shingles(contents([]), 0).token_counts) == 0

@pytest.mark.parametrize("share", [0.5, 5, 64])
def test_a_batch_signs_each_post_as_alone_whatever_the_buffer(monkeypatch: pytest.MonkeyPatch, share: float) -> None:
    """The signer's kept buffer takes a few permutations at a time when a batch's pairs do not
    fit (share 5: 13 passes), all at once when they do (64), and is bypassed when a batch's
    pairs are more than it holds (0.5): the signatures stay those of each post alone."""
    texts = [*CAMPAIGN, *(f"{text} and then some more words number {i}" for i, text in enumerate(CAMPAIGN * 8)), "a"]
    alone = [Signer(64).sign(shingles(contents([text]), 1)) for text in texts]
    pairs = len(shingles(contents(texts), len(texts)).pairs)
    monkeypatch.setattr(signatures_module, "SCRATCH", int(pairs * share))
    signer = Signer(64)
    for _ in range(2):  # the second batch reuses the buffer the first one filled
        together = signer.sign(shingles(contents(texts), len(texts)))
        assert np.array_equal(together, np.concatenate(alone))


def test_a_token_hashes_alike_wherever_it_stands() -> None:
    found = shingles(contents(["red green blue", "blue red green", "x red green"]), 3)
    first, second, third = np.split(found.pairs, np.cumsum(found.pair_counts)[:-1])
    assert first[0] == second[1] == third[1]  # "red green"
    assert len({*first.tolist(), *second.tolist()}) == 3


def test_normalisation_keeps_the_content() -> None:
    assert normalize("@jo @acmeair I am DONE!!! https://t.co/x #Boycott") == b"i am done boycott"
    assert normalize("アクメ航空、最悪") == "ア ク メ 航 空 最 悪".encode()


@pytest.mark.parametrize("kept", [4096, 3])
def test_a_non_ascii_post_has_the_tokens_of_the_regular_expressions(monkeypatch: pytest.MonkeyPatch, kept: int) -> None:
    """The character table gives the tokens that replacing each run of ``[\\W_]`` by a space
    gave (after spacing out the characters of scripts written without spaces), for characters
    across Unicode, whether the table keeps them (4096) or is full and looks them up (3)."""
    non_word = re.compile(r"[\W_]+")

    def by_regular_expressions(text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).casefold().replace("\n", " ")
        text = signatures_module._REPLY_PREFIX.sub("", signatures_module._without_urls("\n" + text)).lstrip("\n")
        return non_word.sub(" ", signatures_module._UNSPACED_CHAR.sub(r" \g<0> ", text)).split()

    monkeypatch.setattr(signatures_module, "_CHARS", type(signatures_module._CHARS)())
    monkeypatch.setattr(signatures_module, "_CHARS_KEPT", kept)
    blocks = [range(0, 0x250), range(0x0E00, 0x0E80), range(0x2000, 0x2070), range(0x3000, 0x3100), range(0xFF00, 0xFFF0)]
    characters = [chr(c) for block in blocks for c in block] + [chr(c) for c in range(0x250, 0x110000, 97) if not 0xD800 <= c < 0xE000]
    for char in characters:
        text = f"A{char}b {char}{char}z_q é-{char}\n@x"
        assert signatures_module._normalize_unicode(text).split() == by_regular_expressions(text), hex(ord(char))
    assert len(signatures_module._CHARS) <= kept


def test_a_batch_normalises_each_post_as_alone() -> None:
    texts = [
        "@jo @acmeair I am DONE!!! https://t.co/x #Boycott",
        "  @jo\n@acmeair two lines\nof text, WWW.Example.com/x and HTTPS://T.CO/Y too",
        "not a reply: @acmeair stays",
        "@アクメ 航空、最悪 https://t.co/z",
        "",
        "@only @handles",
        "Ünïcödé and ascii mixed @jo",
    ]
    lines = contents(texts).split(b"\n")
    assert [b" ".join(line.split()) for line in lines] == [normalize(text) for text in texts]
    assert [normalize(text) for text in texts[:4]] == [
        b"i am done boycott", b"two lines of text and too", b"not a reply acmeair stays",
        "航 空 最 悪".encode(),
    ]


def ranked_one_by_one(spreads: list[float], nows: list[float], half_life: float) -> list[float]:
    """Virality by its definition, one mention at a time: the weighted mid-rank of each spread
    in a histogram of log2(1 + spread) (bins of a quarter) whose weights grow as exp(age)."""
    bins, landmark, ranks = [0.0] * 96, 0.0, []
    for spread, now in zip(spreads, nows, strict=True):
        if spread <= 0:
            ranks.append(0.0)
            continue
        rate = math.log2(1.0 + spread) / 0.25
        index = min(int(rate), 95)
        age = (now - landmark) / (half_life / math.log(2))
        if age > 30.0 or landmark == 0.0:
            bins = [b * (math.exp(-age) if landmark else 0.0) for b in bins]
            landmark, age = now, 0.0
        weight = math.exp(age)
        bins[index] += weight
        below = sum(bins[:index]) + min(rate - index, 1.0) * (bins[index] - weight) + 0.5 * weight
        ranks.append(min(below / sum(bins), 1.0))
    return ranks


def test_a_batch_is_ranked_as_one_mention_at_a_time() -> None:
    rng = random.Random(11)
    spread = scorer(baseline_half_life=Duration(86400))
    spreads = [rng.choice([0.0, rng.lognormvariate(1, 2)]) for _ in range(3000)]
    nows = list(accumulate((1.7e9 + 3600 * i + rng.uniform(-600, 600) for i in range(3000)), max))  # 125 days: rescaled on the way
    ranks: list[float] = []
    for start in range(0, 3000, 128):
        ranks += spread._virality(spreads[start : start + 128], nows[start : start + 128])
    assert ranks == pytest.approx(ranked_one_by_one(spreads, nows, 86400), rel=1e-9, abs=1e-12)
    assert 0.2 < statistics.fmean(r for r in ranks if r) < 0.8


async def test_a_checkpoint_of_the_first_version_keeps_its_rates_and_baseline() -> None:
    now = EPOCH.timestamp() + 600
    baseline = [0.0] * 96
    baseline[12] = 5.0
    spread = scorer()
    spread.restore({
        "version": 1, "num_perm": 64, "now": now, "next_slot": 7,
        "entries": [[6, "test:old", "test:a", None, now, None]], "signatures": bytes(256), "clusters": [],
        "engagement": [["test:post", 12.0, 0.0, now]], "baseline": [now - 60, baseline],
    })
    assert spread.indexed == 0 and spread._next_slot == 7
    resharing = make_mention("", author="fan", minutes=10, reshare_of="test:post")
    await score([resharing], spread)
    assert resharing.scores["reshare_velocity"] == pytest.approx(13.0, rel=0.01)
    assert 0.5 < resharing.scores["virality"] < 1.0  # ranked against the restored baseline
