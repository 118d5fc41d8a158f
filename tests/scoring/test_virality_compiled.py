"""The compiled virality group (mypyc, decision 0140) scores exactly as its Python sources do.

`sketch`, `clusters`, `joins` and `rates` (the author sketch, `Cluster`, the per-post join
loop and the velocities) are compiled from the same ``.py`` files; viral_post's learned histogram (`learned`) likewise. This holds
the compiled build to the sources run as Python (a child process with
``SENTINELD_NO_EXTENSIONS=1``) on a stream made of the shared data sets' tweets: copies of the
same texts by many authors (clusters past the exact author count, so the sketch counts them),
reshares, replies, self-replies, posts out of order, and a checkpoint restored half-way. Every
score as ``float.hex``, every label, every alert the trigger raises and the checkpoints' bytes
must be the same. The other virality and viral_post tests run against whichever build is
installed, so with the compiled build they hold it to the reference behaviour too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentineld.compiled import COMPILED
from tests.compiled import require_compiled_build as require_compiled, run_as_built

#: Runs in a child process; prints one JSON object (see the module docstring).
RUN_STREAM = """
import asyncio, hashlib, json, random, sys
from datetime import timedelta
from pathlib import Path

import msgspec

from sentineld.alerting import TriggerAlertSink
from sentineld.components import ComponentContext
from sentineld.compiled import COMPILED, is_compiled
from sentineld.model import Author, Metrics
from sentineld.testing import EPOCH, make_mention
from sentineld.watch import Matcher, WatchConfig
from sentineld_plugins.scorers.virality import ViralityOptions, ViralityScorer
from sentineld_plugins.triggers.viral_post import ViralPost, ViralPostOptions

texts = json.load(sys.stdin)
rng = random.Random(11)
watch = WatchConfig(brand=["acmeair", "@acmeair"], accounts=["acmeair"])
context = ComponentContext("test", "scorer", watch, Path("."))
pool = [t for t in texts if len(t.split()) >= 8][:300]
campaign = "acmeair lost my bag and nobody answers, share this until they fix it please everyone"
authors = [Author(id=f"a{i}", handle=f"a{i}.example", followers=rng.randrange(5000)) for i in range(2500)]
mentions, originals = [], []
minutes = 0.0
for i in range(12_000):
    minutes += rng.uniform(0.0, 0.4)
    at = minutes + (rng.uniform(-3.0, 0.0) if rng.random() < 0.05 else 0.0)  # some come late
    author = rng.choice(authors)
    metrics = Metrics(likes=rng.randrange(9), reshares=rng.randrange(4), replies=rng.randrange(4))
    roll = rng.random()
    if roll < 0.08:
        text, fields = campaign + (" " + rng.choice(["now", "today", "!!"]) if rng.random() < 0.5 else ""), {}
    elif roll < 0.6 or not originals:
        text, fields = "acmeair " + rng.choice(pool), {}
    elif roll < 0.85:
        parent = rng.choice(originals[-400:])
        text, fields = "RT " + parent.text, {"reshare_of": parent.id}
    else:
        parent = rng.choice(originals[-400:])
        if rng.random() < 0.2:
            author = parent.author  # a self-reply
        text, fields = "acmeair " + rng.choice(pool), {"in_reply_to": parent.id}
    mention = make_mention(text, id=f"s:{i}", source="bluesky", minutes=at, author=author, metrics=metrics, **fields)
    mentions.append(mention)
    if "reshare_of" not in fields:
        originals.append(mention)

async def run():
    matcher = Matcher(watch)
    scorer = ViralityScorer(ViralityOptions(max_posts=3000, tracked_posts=2000), context)
    await scorer.start()
    options = ViralPostOptions(subjects=["*"], velocity=6.0, cluster_growth=20.0, warmup=20, max_tracked=500)
    viral = ViralPost(options, context)
    sink = TriggerAlertSink("viral", "viral")
    signals, checkpoints = [], []
    start, sizes = 0, [1, 7, 64, 300, 512]
    while start < len(mentions):
        part = mentions[start : start + sizes[start % len(sizes)]]
        start += len(part)
        matcher.apply(part)
        await scorer.score(part)
        await viral.observe(part, sink)
        signals += [msgspec.json.encode(s).decode() for s in sink.take()]
        if start >= len(mentions) // 2 and not checkpoints:  # restart from a checkpoint
            scored, triggered = scorer.snapshot_parts(True), viral.snapshot_parts(True)
            checkpoints.append(hashlib.sha256(scorer.snapshot() + viral.snapshot()).hexdigest())
            scorer = ViralityScorer(ViralityOptions(max_posts=3000, tracked_posts=2000), context)
            await scorer.start()
            scorer.restore_parts(scored.changed)
            viral = ViralPost(options, context)
            viral.restore_parts(triggered.changed)
    checkpoints.append(hashlib.sha256(scorer.snapshot() + viral.snapshot()).hexdigest())
    return signals, checkpoints

signals, checkpoints = asyncio.run(run())
modules = [sys.modules[f"{package}.{name}"] for package in COMPILED for name in COMPILED[package]
           if package.startswith(("sentineld_plugins.scorers.virality", "sentineld_plugins.triggers.viral_post"))]
json.dump({
    "compiled": [is_compiled(module) for module in modules],
    "scores": [{k: v.hex() for k, v in sorted(m.scores.items())} for m in mentions],
    "labels": [m.labels for m in mentions],
    "signals": signals,
    "checkpoints": checkpoints,
}, sys.stdout)
"""

#: The compiled groups this test covers.
GROUPS = [package for package in COMPILED
          if package in ("sentineld_plugins.scorers.virality", "sentineld_plugins.triggers.viral_post")]


def run_stream(texts: list[str], *, pure: bool) -> dict[str, object]:
    result: dict[str, object] = run_as_built(RUN_STREAM, stdin=texts, pure=pure, timeout=600)
    return result


def require_compiled_build() -> None:
    import importlib

    modules = [importlib.import_module(f"{package}.{name}") for package in GROUPS for name in COMPILED[package]]
    require_compiled("the virality group", modules)


@pytest.mark.slow
def test_compiled_virality_scores_a_stream_as_its_sources(data_dir: Path) -> None:
    require_compiled_build()
    from tests.scorers.test_sentiment_engine import data_texts

    texts = data_texts(data_dir)
    compiled, source = run_stream(texts, pure=False), run_stream(texts, pure=True)
    assert compiled["compiled"] and all(compiled["compiled"])  # type: ignore[arg-type]
    assert source["compiled"] and not any(source["compiled"])  # type: ignore[arg-type]
    labels = compiled["labels"]
    clustered = sum(1 for label in labels if "cluster" in label)  # type: ignore[attr-defined]
    assert clustered > 1000  # the stream exercises the joins (and the sketch: see below)
    assert any(float.fromhex(s.get("cluster_size", "0x0p+0")) > 32 for s in compiled["scores"])  # type: ignore[attr-defined]
    assert compiled["signals"]
    for part in ("scores", "labels", "signals", "checkpoints"):
        different = [
            (index, got, expected)
            for index, (got, expected) in enumerate(zip(compiled[part], source[part], strict=True))  # type: ignore[call-overload]
            if got != expected
        ]
        assert different[:3] == [], part
