"""`sentineld influencers` on a real store written by a replay."""

from __future__ import annotations

import json
from pathlib import Path

from sentineld.model import Author, Metrics, encode_mention
from sentineld.testing import make_mention

from .conftest import audience

CONFIG = """
[sentineld]
state_dir = "state"

[watch]
brand = ["acmeair", "@acmeair"]
accounts = ["acmeair"]
watchlist = ["@critic.example"]

[scorers.reach]
type = "influence"

[scorers.spread]
type = "virality"
"""


def write_stream(path: Path) -> None:
    stream = audience(120)
    guru = Author(id="guru", handle="fareguru.example", followers=150, following=140, posts=3000)
    for day in range(4):
        stream.append(
            make_mention(f"@acmeair fare rules, part {day}", author=guru, minutes=100 + day,
                         metrics=Metrics(reshares=200, replies=50, likes=600))
        )
    star = Author(id="star", handle="star.example", followers=900_000, following=500, posts=40_000)
    stream.append(make_mention("@acmeair on my way", author=star, minutes=120))
    critic = Author(id="critic", handle="critic.example", followers=80, following=90, posts=300)
    stream.append(make_mention("@acmeair never again", author=critic, minutes=130))
    brand = Author(id="acme", handle="acmeair", followers=2_000_000, following=10, posts=90_000)
    stream.append(make_mention("@acmeair news: new routes", author=brand, minutes=140, metrics=Metrics(reshares=5000)))
    path.write_bytes(b"".join(encode_mention(m) + b"\n" for m in stream))


def test_influencers_json_top_maven(tmp_path: Path, cli) -> None:
    (tmp_path / "sentineld.toml").write_text(CONFIG)
    write_stream(tmp_path / "stream.jsonl")
    config = str(tmp_path / "sentineld.toml")
    replayed = cli("replay", "-c", config, "--state-dir", str(tmp_path / "state"), str(tmp_path / "stream.jsonl"))
    assert replayed.returncode == 0, replayed.stderr

    result = cli("influencers", "-c", config, "--json", "--top", "3", "--kind", "maven", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    assert rows[0]["author"] == "test:guru"
    assert rows[0]["handle"] == "fareguru.example"
    assert rows[0]["mentions"] == rows[0]["on_topic"] == 4
    assert rows[0]["maven"] > 0.5 > rows[0]["connector"]
    assert [r["maven"] for r in rows] == sorted((r["maven"] for r in rows), reverse=True)
    assert all(r["author"] != "test:acme" for r in rows)  # the brand's own account is left out
    assert set(rows[0]) >= {"author", "source", "influence", "connector", "maven", "followers", "mentions",
                            "first_seen", "last_seen", "sentiment", "watchlist"}

    connectors = cli("influencers", "-c", config, "--json", "--top", "1", "--kind", "connector", cwd=tmp_path)
    assert [json.loads(line)["author"] for line in connectors.stdout.splitlines()] == ["test:star"]

    watchlist = cli("influencers", "-c", config, "--json", "--watchlist", cwd=tmp_path)
    assert [json.loads(line)["author"] for line in watchlist.stdout.splitlines()] == ["test:critic"]

    table = cli("influencers", "-c", config, "--top", "2", cwd=tmp_path)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert "influence" in lines[0] and len(lines) == 3


def test_influencers_on_an_empty_store(tmp_path: Path, cli) -> None:
    (tmp_path / "sentineld.toml").write_text(CONFIG)
    result = cli("influencers", "-c", str(tmp_path / "sentineld.toml"), cwd=tmp_path)
    assert result.returncode == 0
    assert "no authors tracked yet" in result.stdout
    bad = cli("influencers", "-c", str(tmp_path / "sentineld.toml"), "--top", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "--top: expected a whole number of at least 1, got '0'" in bad.stderr
    watched = cli("influencers", "-c", str(tmp_path / "sentineld.toml"), "--watchlist", cwd=tmp_path)
    assert watched.returncode == 0 and "no authors on the watchlist" in watched.stdout


def test_score_command_runs_influence_and_virality_without_a_store(tmp_path: Path, cli) -> None:
    (tmp_path / "sentineld.toml").write_text(CONFIG)
    write_stream(tmp_path / "stream.jsonl")
    result = cli("score", "-c", str(tmp_path / "sentineld.toml"), str(tmp_path / "stream.jsonl"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    scored = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(scored) == 127  # 120 fans, 4 posts by the guru, the star, the critic, the brand
    guru = [m for m in scored if m["author"]["id"] == "guru"]
    assert guru[-1]["scores"]["maven"] > 0.5
    assert all({"connector", "maven", "influence", "virality", "reshare_velocity"} <= m["scores"].keys() for m in scored)
    assert next(m for m in scored if m["author"]["id"] == "critic")["labels"]["watchlist"] == "yes"
    assert not (tmp_path / "state").exists()
