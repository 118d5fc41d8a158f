"""The compiled author path (mypyc, decision 0131) gives what its Python sources give.

`sentineld.authors` (records, recent posts, the registry's per-mention work) and
`sentineld.audience` (the influence scorer's work) are compiled as one group. This replays the
crash drill's stream (600 authors through a hot set of 40, replies and reshares crediting
authors who left memory, the brand's own account, moving follower counts) with the shipped
scorers and triggers twice, compiled and as Python (``SENTINELD_NO_EXTENSIONS=1``), each a
child process, and holds every stored score and label, author row, alert and case, and the
``--json`` output, to be equal. The other registry and influence tests run against whichever
build is installed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sentineld import audience, authors
from sentineld.compiled import NO_EXTENSIONS_VARIABLE
from tests.compiled import require_compiled_build as require_compiled
from tests.conftest import run_cli
from tests.crashing import influence_stream, shipped_components, stored_outcome

CONFIG = """
[watch]
brand = ["acme", "@acme"]
accounts = ["a0"]
watchlist = ["a7"]

[influencers]
hot_authors = 40
recent_posts = 200
flush_every = 25
"""


def require_compiled_build() -> None:
    require_compiled("the author path", (authors, audience))


def replay(tmp_path: Path, *, pure: bool) -> tuple[list[str], dict[str, dict[str, object]], list[tuple[object, ...]]]:
    name = "python" if pure else "compiled"
    env = {NO_EXTENSIONS_VARIABLE: "1" if pure else "0"}
    done = run_cli("replay", "--json", "-c", str(tmp_path / "sentineld.toml"), "--state-dir", str(tmp_path / name),
                   str(tmp_path / "stream.jsonl"), env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "StaleCompiledWarning" not in done.stderr
    database = tmp_path / name / "sentineld.sqlite3"
    db = sqlite3.connect(database)
    try:  # every score, virality's too: both runs cut the stream into the same batches
        scores = sorted(db.execute("SELECT * FROM mention_scores"))
    finally:
        db.close()
    return sorted(done.stdout.splitlines()), stored_outcome(database), scores


@pytest.mark.slow
def test_the_compiled_author_path_stores_what_its_sources_store(tmp_path: Path) -> None:
    require_compiled_build()
    (tmp_path / "sentineld.toml").write_text(CONFIG + shipped_components())
    lines = influence_stream(3000, authors=600)
    (tmp_path / "stream.jsonl").write_text("".join(line + "\n" for line in lines))
    compiled = replay(tmp_path, pure=False)
    python = replay(tmp_path, pure=True)
    output, outcome, scores = compiled
    assert len(outcome["authors"]) > 300 and len(outcome["alerts"]) > 10, "the stream must exercise the registry"
    assert any(row[21] for row in outcome["authors"].values()), "a watchlisted author"
    assert any(row[22] for row in outcome["authors"].values()), "an own account"
    assert len(scores) >= 3000 and output
    for part in ("authors", "scores", "alerts", "cases"):
        assert outcome[part] == python[1][part], part
    assert scores == python[2]
    assert output == python[0]
