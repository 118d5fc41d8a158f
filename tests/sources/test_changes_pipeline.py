"""Deletions and edits through the real pipeline (Emitter → ingest stage → SQLite store), from
the Mastodon source against its local stand-in: applied with the source's cursor, once, across
a restart; a malformed change from a plugin is rejected and the rest of its batch is kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from harness_http import FAST, LocalServer
from test_mastodon import BASE_TIME, FakeMastodon, mid, status

from sentineld import MentionChange
from sentineld.http.metrics import PipelineCollector


def sources(server: LocalServer) -> dict:
    return {"masto": {"type": "mastodon", "instance": server.url(), "hashtags": ["acme"],
                      "poll_interval": "100ms", **FAST}}


async def test_changes_are_applied_once_with_the_cursor(live_core) -> None:
    fake = FakeMastodon()
    async with LocalServer(fake.app) as server:
        async with live_core.running(sources(server)) as core:
            await core.wait_for(lambda: fake.streams_open("hashtag:acme"), what="the stream")
            bag = fake.post("acme", status("<p>#acme lost my bag in Lisbon</p>", minute=1))
            late = fake.post("acme", status("<p>#acme my flight is late</p>", minute=2))
            await core.wait_stored(2)
            edited = dict(late, content="<p>#acme my flight is late, 3 hours now</p>",
                          edited_at=(BASE_TIME + timedelta(minutes=4)).isoformat().replace("+00:00", "Z"))
            fake.push("hashtag:acme", "status.update", json.dumps(edited))
            fake.push("hashtag:acme", "delete", bag["id"])
            fake.push("hashtag:acme", "delete", "109999999999999999")
            stats = core.pipeline.stats
            await core.wait_for(lambda: sum(stats.changes.values()) == 3, what="three changes")
            assert stats.changes == {"deleted": 1, "edited": 1, "unknown": 1, "repeated": 0}
            families = {f.name: f for f in PipelineCollector(lambda: core.pipeline, dict).collect()}
            scraped = {s.labels["outcome"]: s.value for s in families["sentineld_mention_changes"].samples}
            assert scraped == {"deleted": 1, "edited": 1, "unknown": 1, "repeated": 0}
            texts = {m.id: m.text for m in await core.mentions()}
            assert texts == {mid(bag): "", mid(late): "#acme my flight is late, 3 hours now"}
            cursor = json.loads(await core.cursor("masto"))
            assert cursor == {"tag:acme": late["id"]}

            # A plugin handing over malformed changes: each rejected with its reason, the
            # valid one beside them applied, the batch's cursor stored.
            guard = next(g for g in core.pipeline.sources if g.id == "masto")
            source = core.source("masto")
            before = source.malformed
            emit = core.pipeline.emitter(guard)
            stored = await emit([], json.dumps(cursor), wait=True, changes=[
                "delete 42",  # type: ignore[list-item]
                MentionChange(mention_id="", kind="deleted", at=datetime.now(UTC)),
                MentionChange(mention_id=mid(late), kind="edited", at=datetime.now(UTC)),  # no text
                MentionChange.edited(mid(late), "#acme landed at last", datetime.now(UTC)),
            ])
            assert stored == 0 and source.malformed == before + 3
            assert stats.changes["edited"] == 2

        # Restart: the instance sends the same deletion and an older edit again.
        connects = len(fake.stream_connects)
        async with live_core.running(sources(server)) as core:
            await core.wait_for(lambda: fake.streams_open("hashtag:acme") == 1
                                and len(fake.stream_connects) > connects, what="the stream")
            fake.push("hashtag:acme", "status.update", json.dumps(edited))
            fake.push("hashtag:acme", "delete", bag["id"])
            stats = core.pipeline.stats
            await core.wait_for(lambda: stats.changes.get("repeated") == 2, what="the repeats")
            assert stats.changes == {"deleted": 0, "edited": 0, "unknown": 0, "repeated": 2}
            texts = {m.id: m.text for m in await core.mentions()}
            assert texts == {mid(bag): "", mid(late): "#acme landed at last"}
            assert await core.count() == 2


async def test_changes_survive_a_batch_stored_one_by_one(tmp_path) -> None:
    """A batch the store cannot take as a whole (a mention it cannot encode) is stored one
    mention at a time; its changes are then applied with its cursor, after its mentions."""
    import asyncio

    from sentineld.config import load_config
    from sentineld.pipeline import Pipeline, _IngestBatch
    from sentineld.store import open_store
    from sentineld.store.worker import StoreWorker
    from sentineld.testing import make_mention

    config = load_config(text=f'[sentineld]\nstate_dir = "{tmp_path}"\n')
    worker = StoreWorker(open_store(tmp_path))
    worker.store.ingest("s", [make_mention("@acme my bag is lost in Lisbon", id="t:0")], "cursor-0")
    pipeline = Pipeline(config, worker, live=False, notify=False, sources=[])
    await pipeline.start()
    bad = make_mention("@acme x", id="t:bad")
    bad.extra = {"unencodable": object()}
    stored = asyncio.get_running_loop().create_future()
    batch = [make_mention("@acme ok", id="t:1"), bad]
    now = datetime.now(UTC)
    changes = [MentionChange.deleted("t:0", now), MentionChange.edited("t:1", "@acme ok now", now)]
    await pipeline.ingest_queue.put(_IngestBatch("s", batch, "cursor-1", stored, changes))
    assert await asyncio.wait_for(stored, timeout=10) == 1
    await pipeline.stop()
    assert pipeline.stats.changes == {"deleted": 1, "edited": 1, "unknown": 0, "repeated": 0}
    assert worker.store.cursor("s") == "cursor-1"
    assert worker.store.mention("t:0").text == ""
    assert worker.store.mention("t:1").text == "@acme ok now"
    assert worker.store.mention("t:bad") is None
    worker.close()
