"""The shipped config runs Bluesky and Hacker News sources, and the daemon must live with them
when the network is gone: they report "failing" and retry with backoff, while the other
sources and the pipeline go on."""

from __future__ import annotations

import tomllib

from harness_http import closed_port_url

from sentineld.components import HealthState
from sentineld.config import load_config
from sentineld.testing import make_mention
from sentineld.model import encode_mention


def test_shipped_config_runs_bluesky_and_hackernews(repo_root):
    shipped = tomllib.loads((repo_root / "sentineld.toml").read_text())
    types = {spec["type"] for spec in shipped["sources"].values()}
    assert {"bluesky", "hackernews"} <= types
    config = load_config(repo_root / "sentineld.toml", entry_points=False)
    assert {"bluesky", "hackernews"} <= {s.type_name for s in config.of_kind("source").values()}


async def test_unreachable_network_sources_do_not_stop_the_daemon(live_core, tmp_path):
    inbox = tmp_path / "mentions.jsonl"
    inbox.write_bytes(encode_mention(make_mention("@acme my bag", id="t:1")) + b"\n")
    fast = {"backoff_initial": "50ms", "backoff_max": "200ms"}
    sources = {
        "inbox": {"type": "jsonl", "path": str(inbox), "poll_interval": "50ms"},
        "bluesky": {"type": "bluesky", "url": closed_port_url("ws", "/subscribe"),
                    "api_url": closed_port_url(), **fast},
        "hn": {"type": "hackernews", "api_url": closed_port_url(path="/api/v1"), **fast},
    }
    async with live_core.running(sources) as core:
        await core.wait_stored(1)
        bluesky, hn = core.source("bluesky"), core.source("hn")
        await core.wait_for(lambda: bluesky.health.state == HealthState.FAILING
                            and hn.health.state == HealthState.FAILING, what="failing health")
        with inbox.open("ab") as handle:
            handle.write(encode_mention(make_mention("@acme still no bag", id="t:2")) + b"\n")
        stored = await core.wait_stored(2)
        assert [m.id for m in stored] == ["t:1", "t:2"]
        assert "connect" in (bluesky.health.last_error or "").lower()
        tasks = core.pipeline._source_tasks
        assert not tasks["bluesky"].done() and not tasks["hn"].done()
