"""`sentineld mentions`: stored mentions with their scores, filtered, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sentineld.changes import MentionChange
from sentineld.store import open_store
from sentineld.testing import make_mention


def stored(tmp_path: Path) -> Path:
    """A config whose state directory holds six scored mentions, one of them deleted since."""
    now = datetime.now(UTC).replace(microsecond=0)
    mentions = []
    for n in range(6):
        mention = make_mention(f"post number {n} about acme", id=f"bluesky:{n}" if n % 2 else f"mastodon:{n}",
                               source="bluesky" if n % 2 else "mastodon", author=f"user{n}",
                               at=now - timedelta(hours=5 - n))
        mention.scores["sentiment"] = -0.6 if n in (1, 4) else 0.4
        mention.labels["sentiment"] = "negative" if n in (1, 4) else "positive"
        mention.matches = ["brand"] if n != 2 else ["competitor:rivald"]
        if n == 4:
            mention.labels["addressed"] = "yes"
        mentions.append(mention)
    store = open_store(tmp_path / "state")
    try:
        store.save_scores(store.ingest("test", mentions, "c1"))
        store.ingest_changes([("test", [], "c2")], [MentionChange.deleted("mastodon:0", now)])
    finally:
        store.close()
    config = tmp_path / "sentineld.toml"
    config.write_text('[sentineld]\nstate_dir = "state"\n[watch]\nbrand = ["acme"]\n')
    return config


def lines(result) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_lists_newest_first_with_scores(tmp_path: Path, cli) -> None:
    config = stored(tmp_path)
    rows = lines(cli("mentions", "-c", str(config), "--json"))
    assert [r["id"] for r in rows] == ["bluesky:5", "mastodon:4", "bluesky:3", "mastodon:2", "bluesky:1",
                                       "mastodon:0"]
    assert rows[1]["scores"]["sentiment"] == -0.6 and rows[1]["labels"]["addressed"] == "yes"
    assert rows[-1]["text"] == ""  # deleted by its author: redacted in the store

    text = cli("mentions", "-c", str(config), "--limit", "6")
    assert text.returncode == 0, text.stderr
    assert "post number 5 about acme" in text.stdout
    assert "sentiment -0.60" in text.stdout and "[competitor:rivald]" in text.stdout
    assert "(deleted by its author at" in text.stdout and "post number 0" not in text.stdout


def test_filters_by_label_match_source_and_time(tmp_path: Path, cli) -> None:
    config = stored(tmp_path)
    negative = lines(cli("mentions", "-c", str(config), "--json", "sentiment=negative"))
    assert [r["id"] for r in negative] == ["mastodon:4", "bluesky:1"]
    both = lines(cli("mentions", "-c", str(config), "--json", "sentiment=negative", "addressed=yes"))
    assert [r["id"] for r in both] == ["mastodon:4"]
    rival = lines(cli("mentions", "-c", str(config), "--json", "match=competitor:rivald"))
    assert [r["id"] for r in rival] == ["mastodon:2"]
    not_rival = lines(cli("mentions", "-c", str(config), "--json", "match!~competitor:.*",
                          "sentiment!=negative"))
    assert [r["id"] for r in not_rival] == ["bluesky:5", "bluesky:3", "mastodon:0"]
    bluesky = lines(cli("mentions", "-c", str(config), "--json", "--source", "bluesky", "--limit", "2"))
    assert [r["id"] for r in bluesky] == ["bluesky:5", "bluesky:3"]
    recent = lines(cli("mentions", "-c", str(config), "--json", "--since", "150m"))
    assert [r["id"] for r in recent] == ["bluesky:5", "mastodon:4", "bluesky:3"]
    author = lines(cli("mentions", "-c", str(config), "--json", "--author", "bluesky:user3"))
    assert [r["id"] for r in author] == ["bluesky:3"]
    none = cli("mentions", "-c", str(config), "sentiment=furious")
    assert none.returncode == 0 and none.stdout.strip() == "no mentions match"


def test_a_label_no_mention_carries_is_pointed_out(tmp_path: Path, cli) -> None:
    """A misspelt label is a valid matcher that matches nothing: say so, not only "no match"."""
    config = stored(tmp_path)
    misspelt = cli("mentions", "-c", str(config), "sentimnt=negative")
    assert misspelt.returncode == 0
    assert misspelt.stdout.splitlines() == [
        "no mentions match",
        "no mention read has a label 'sentimnt'; did you mean 'sentiment'? "
        "(labels seen: addressed, match, sentiment)",
    ]
    # A negative matcher on it matches every mention: nothing to point out.
    assert len(lines(cli("mentions", "-c", str(config), "--json", "sentimnt!=negative"))) == 6


def test_bad_arguments_are_explained(tmp_path: Path, cli) -> None:
    config = stored(tmp_path)
    bad_label = cli("mentions", "-c", str(config), "negative")
    assert bad_label.returncode == 2 and "is not LABEL=VALUE" in bad_label.stderr
    bad_regex = cli("mentions", "-c", str(config), "match=~(")
    assert bad_regex.returncode == 2 and "not a valid regular expression" in bad_regex.stderr
    bad_since = cli("mentions", "-c", str(config), "--since", "soon")
    assert bad_since.returncode == 2 and "--since" in bad_since.stderr
