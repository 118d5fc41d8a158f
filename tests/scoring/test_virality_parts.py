"""Parts of the virality scorer that stand in for datasketch (its LSH bands, its counts) must agree with it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from datasketch.lsh import _optimal_param

from sentineld_plugins.scorers.virality.banding import lsh_params


@pytest.mark.parametrize("num_perm", [8, 16, 32, 64, 128, 256])
def test_bands_are_datasketchs_choice(num_perm: int) -> None:
    for step in range(1, 20):
        threshold = step / 20
        bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
        if bands < 2:  # where datasketch's MinHashLSH refuses the threshold
            with pytest.raises(ValueError):
                lsh_params(threshold, num_perm)
        else:
            assert lsh_params(threshold, num_perm) == (bands, rows)


def test_a_threshold_that_leaves_one_band_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="single band"):
        lsh_params(1.0, 64)


def test_building_the_scorer_imports_neither_numpy_nor_datasketch() -> None:
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sentineld.components import ComponentContext\n"
        "from sentineld.watch import WatchConfig\n"
        "from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer\n"
        "context = ComponentContext('spread', 'scorer', WatchConfig(brand=['acme']), Path('.'))\n"
        "ViralityScorer(ViralityOptions(), context)\n"
        "print(sorted(m for m in ('numpy', 'datasketch', 'scipy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_large_cluster_counts_its_authors_with_the_sketch() -> None:
    from sentineld_plugins.scorers.virality.clusters import EXACT_AUTHORS, Cluster

    cluster = Cluster.start("c1", 0.0)
    for i in range(5000):
        cluster.add(f"bluesky:did:plc:{i}", float(i), 3600.0)
    assert cluster.authors is None and cluster.hll is not None  # beyond EXACT_AUTHORS
    assert EXACT_AUTHORS < cluster.size
    assert abs(cluster.size - 5000) < 5000 * 0.1
    assert cluster.size == max(cluster.size, round(cluster.hll.count()))
    size = cluster.size
    for i in range(5000):  # the same authors again: nobody new
        cluster.add(f"bluesky:did:plc:{i}", 5000.0 + i, 3600.0)
    assert cluster.size == size


def test_a_clusters_growth_is_the_decayed_count_of_authors_joining_in_any_order() -> None:
    """Cluster.add keeps its growth inline (a hot loop): it must stay `bump` of the authors that
    join, to the bit, with posts arriving late as well as in order."""
    import random

    from sentineld_plugins.scorers.virality.clusters import Cluster, bump, decayed

    rng = random.Random(5)
    tau = 3600.0
    cluster = Cluster.start("c1", 1000.0)
    growth, growth_at, size = 0.0, 1000.0, 0
    authors: set[str] = set()
    for step in range(200):
        author = f"bluesky:did:plc:{rng.randrange(60)}"
        at = 1000.0 + step * 30.0 + rng.uniform(-900.0, 300.0)  # some arrive before the last
        cluster.add(author, at, tau)
        if author not in authors and len(authors) < 32:  # exact counting, then the sketch
            authors.add(author)
            growth, growth_at = bump(growth, growth_at, at, tau, len(authors) - size)
            size = len(authors)
        if cluster.authors is not None:
            assert (cluster.size, cluster.growth, cluster.growth_at) == (size, growth, growth_at)
    assert cluster.growth_per_hour(9000.0, tau) == decayed(cluster.growth, cluster.growth_at, 9000.0, tau) * 3600.0 / tau


def test_the_author_sketch_is_datasketchs_hyperloglog() -> None:
    """Same registers and the same count as datasketch's HyperLogLog (p=10), from a handful of
    authors (linear counting) to far beyond the small range (the harmonic mean)."""
    import warnings

    import numpy as np
    from datasketch import HyperLogLog

    from sentineld_plugins.scorers.virality.sketch import AuthorSketch

    ours, theirs = AuthorSketch(), HyperLogLog(p=10)
    checkpoints = {1, 2, 33, 100, 700, 1500, 2500, 3000, 6000, 20_000}
    for i in range(1, 20_001):
        author = f"bluesky:did:plc:{i * 7919}"
        moved = ours.add(author)
        before = theirs.reg.copy()
        theirs.update(author.encode())
        assert moved == (not np.array_equal(before, theirs.reg))
        if i in checkpoints:
            assert bytes(ours.registers) == theirs.reg.tobytes()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # datasketch warns near its small-range threshold
                assert ours.count() == theirs.count()
    assert AuthorSketch(theirs.reg.tobytes()).count() == ours.count()  # a checkpoint read back


def test_a_non_ascii_author_hashes_as_utf8() -> None:
    from datasketch import HyperLogLog

    from sentineld_plugins.scorers.virality.sketch import AuthorSketch

    ours, theirs = AuthorSketch(), HyperLogLog(p=10)
    for author in ("mastodon:@zoë@example.social", "bluesky:did:plc:日本語"):
        ours.add(author)
        theirs.update(author.encode())
    assert bytes(ours.registers) == theirs.reg.tobytes()


def test_a_cluster_checkpointed_with_an_author_set_still_knows_its_authors() -> None:
    """The exact authors were a set (written in any order), now a sorted tuple searched by
    bisection: a cluster read back from either form counts a returning author once."""
    import msgspec

    from sentineld_plugins.scorers.virality.clusters import Cluster, encode_hook

    authors = [f"bluesky:did:plc:{i}" for i in (7, 3, 11, 5)]
    written = ["c0123456789ab", 0.0, 5.0, 4, authors, None, 1.0, 5.0, 4]  # as the set was written
    cluster = Cluster.from_state(written)
    for author in authors:
        cluster.add(author, 6.0, 3600.0)
    assert cluster.size == 4
    cluster.add("bluesky:did:plc:4", 7.0, 3600.0)
    assert cluster.size == 5 and list(cluster.authors) == sorted(cluster.authors)
    encoded = msgspec.msgpack.encode(cluster, enc_hook=encode_hook)
    again = Cluster.from_state(msgspec.msgpack.decode(encoded))
    again.add("bluesky:did:plc:11", 8.0, 3600.0)
    assert again.size == 5


@pytest.mark.parametrize("few", [0, 48, 10**6])
def test_the_band_walk_finds_the_same_pairs_in_numpy_and_one_by_one(few: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk back along each bucket goes on in Python once few chains are left: with no
    chain left to Python (0), the default, or every chain after the first step, the same
    candidates, on a ring that reuses its rows and with posts leaving the live range. Copies of
    a few texts (some bands changed) make chains longer than `BUCKET`."""
    import numpy as np

    from sentineld_plugins.scorers.virality import index

    def pairs_of(walks: int) -> list[tuple[list[int], list[int]]]:
        monkeypatch.setattr(index, "_FEW_WALKS", walks)
        rng = np.random.default_rng(7)
        texts = rng.integers(0, 2**32, size=(4, 60), dtype=np.uint32)
        band_index, found, next_slot, oldest = index.BandIndex(10, 6, 300), [], 0, 0
        for _ in range(40):
            count = int(rng.integers(1, 40))
            signatures = texts[rng.integers(0, 4, size=count)].copy()
            changed = rng.random(signatures.shape) < 0.05
            signatures[changed] = rng.integers(0, 2**32, size=int(changed.sum()), dtype=np.uint32)
            fresh = rng.random(count) < 0.3
            signatures[fresh] = rng.integers(0, 2**32, size=(int(fresh.sum()), 60), dtype=np.uint32)
            oldest = max(oldest + int(rng.integers(0, 10)), next_slot + count - 300)
            posts, others = band_index.add(next_slot, signatures, oldest)
            found.append((posts.tolist(), others.tolist()))
            next_slot += count
        return found

    reference = pairs_of(0)
    assert sum(len(posts) for posts, _ in reference) > 1000
    assert pairs_of(few) == reference


def test_the_walk_goes_on_in_python_for_long_chains(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from sentineld_plugins.scorers.virality import index

    tails: list[int] = []
    walk_on = index.BandIndex._walk_on

    def counted(self: index.BandIndex, at: list[int], *args: object) -> object:
        tails.append(len(at))
        return walk_on(self, at, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(index.BandIndex, "_walk_on", counted)
    band_index = index.BandIndex(10, 6, 100)
    text = np.arange(60, dtype=np.uint32).reshape(1, 60)
    for slot in range(30):  # one copy at a time: its 10 bands each walk back along the copies
        posts, others = band_index.add(slot, text, 0)
        assert others.tolist() == list(range(max(slot - index.BUCKET, 0), slot))
    assert tails and max(tails) <= 10


def test_the_band_index_finds_the_same_pairs_in_batches_across_the_rings_end_as_one_by_one() -> None:
    """A batch's rows are consecutive in the ring except when it wraps round its end: the index
    takes them as a slice, or as positions when it wraps (decision 0150). Either way a batch
    finds what its posts find added one at a time (with the batch's live range: a batch makes
    room for all its posts before indexing them)."""
    import numpy as np

    from sentineld_plugins.scorers.virality import index

    rng = np.random.default_rng(11)
    texts = rng.integers(0, 2**32, size=(5, 60), dtype=np.uint32)
    signatures = texts[rng.integers(0, 5, size=900)].copy()
    changed = rng.random(signatures.shape) < 0.05
    signatures[changed] = rng.integers(0, 2**32, size=int(changed.sum()), dtype=np.uint32)
    capacity = 120

    def pairs_of(sizes: list[int], one_by_one: bool) -> list[tuple[int, int]]:
        band_index, found, slot = index.BandIndex(10, 6, capacity), [], 0
        for size in sizes:
            oldest = max(slot + size - capacity, 0)  # a batch makes room for all its posts first
            for start, stop in [(p, p + 1) for p in range(slot, slot + size)] if one_by_one else [(slot, slot + size)]:
                posts, others = band_index.add(start, signatures[start:stop], oldest)
                found += zip(posts.tolist(), others.tolist(), strict=True)
            slot += size
        return found

    sizes: list[int] = []
    while sum(sizes) < len(signatures):
        sizes.append(min(int(rng.integers(1, 50)), len(signatures) - sum(sizes)))
    assert any(start % capacity + size > capacity for start, size in zip(np.cumsum([0, *sizes]), sizes))
    reference = pairs_of(sizes, one_by_one=True)
    assert len(reference) > 1000
    assert pairs_of(sizes, one_by_one=False) == reference


def test_a_clusters_authors_grown_in_place_checkpoint_as_the_tuple_did() -> None:
    """The exact authors are a list grown in place (decision 0150); a checkpoint writes them as
    the sorted tuple was written, and reads a tuple written before."""
    import msgspec

    from sentineld_plugins.scorers.virality.clusters import Cluster, encode_hook

    cluster = Cluster.start("c0123456789ab", 0.0)
    for step, author in enumerate(["mastodon:9", "bluesky:1", "bluesky:5", "bluesky:1", "mastodon:0"]):
        cluster.add(author, float(step), 3600.0)
    authors = ("bluesky:1", "bluesky:5", "mastodon:0", "mastodon:9")
    assert cluster.authors == list(authors)
    fields = ["c0123456789ab", 0.0, 4.0, 4, authors, None, cluster.growth, cluster.growth_at, 0]
    assert msgspec.msgpack.encode(cluster, enc_hook=encode_hook) == msgspec.msgpack.encode(fields)
    again = Cluster.from_state(fields)
    again.add("bluesky:3", 5.0, 3600.0)
    assert again.authors == ["bluesky:1", "bluesky:3", "bluesky:5", "mastodon:0", "mastodon:9"]
    assert again.size == 5 and authors == ("bluesky:1", "bluesky:5", "mastodon:0", "mastodon:9")
