"""Customer Support on Twitter (../shared/data/twcs/sample.csv): brand replies linked to the
customer posts they answer, and the customers left waiting flagged, through the real pipeline.

Every expected figure is derived here from the CSV with plain Python, independently of the code
under test: which tweets are addressed to a support account (an @-mention of one, or a reply to
one of its tweets), which brand reply answers which customer tweet, and when each customer tweet
was first answered (a reply to it, or to a later tweet of the same customer)."""

from __future__ import annotations

import csv
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sentineld.model import Author, Mention
from sentineld.store import open_store
from sentineld.testing import Harness

SLA_MINUTES = 120
TICK = 60.0


def load_rows(data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / "twcs" / "sample.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def when(row: dict[str, str]) -> datetime:
    return datetime.strptime(row["created_at"], "%a %b %d %H:%M:%S %z %Y")


def to_mention(row: dict[str, str]) -> Mention:
    """A row as a Twitter source would give it: the reply link in `in_reply_to`."""
    target = row["in_response_to_tweet_id"].split(",")[0].strip()
    return Mention(
        id=f"twitter:{row['tweet_id']}", source="twitter", created_at=when(row), text=row["text"],
        author=Author(id=row["author_id"], handle=row["author_id"]),
        in_reply_to=f"twitter:{target}" if target else None,
    )


class Expected:
    """What the CSV says, computed without sentineld."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.by_id = {r["tweet_id"]: r for r in rows}
        self.support = {r["author_id"] for r in rows if r["inbound"] == "False"}
        lower = {s.lower() for s in self.support}

        def addressed(row: dict[str, str]) -> bool:
            if row["inbound"] != "True":
                return False
            if any(h.lower() in lower for h in re.findall(r"@(\w+)", row["text"])):
                return True
            parent = self.by_id.get(row["in_response_to_tweet_id"])
            return parent is not None and parent["author_id"] in self.support

        self.addressed = [r for r in rows if addressed(r)]
        #: brand reply id -> the customer tweet it answers
        self.links = {
            r["tweet_id"]: r["in_response_to_tweet_id"] for r in rows
            if r["inbound"] == "False" and r["in_response_to_tweet_id"] in self.by_id
            and self.by_id[r["in_response_to_tweet_id"]]["inbound"] == "True"
        }
        self.end = max(when(r) for r in rows).timestamp()

    def answered_at(self, row: dict[str, str]) -> float | None:
        """The first brand reply to this tweet or to a later tweet of the same customer."""
        times = [
            when(self.by_id[reply]).timestamp() for reply, target in self.links.items()
            if self.by_id[target]["author_id"] == row["author_id"] and when(self.by_id[target]) >= when(row)
        ]
        return min(times) if times else None

    def flagged(self) -> tuple[set[str], set[str]]:
        """(tweets overdue then answered, tweets overdue and never answered): a tweet is flagged
        on the first clock tick at or after its due time, if that comes before its answer."""
        late, waiting = set(), set()
        for row in self.addressed:
            due = when(row).timestamp() + SLA_MINUTES * 60
            fires_at = math.ceil(due / TICK) * TICK
            answered = self.answered_at(row)
            if answered is None:
                if fires_at <= self.end:
                    waiting.add(row["tweet_id"])
            elif fires_at <= answered:
                late.add(row["tweet_id"])
        return late, waiting


@pytest.fixture
def twcs(sentineld_harness: Harness, data_dir: Path) -> tuple[Harness, list[dict[str, str]]]:
    rows = load_rows(data_dir)
    support = sorted({r["author_id"] for r in rows if r["inbound"] == "False"})
    harness = sentineld_harness.configure(
        watch={"brand": support, "accounts": support},
        sentineld={"tick": "1m"},
        triggers={"waiting": {"type": "unanswered"}},
        cases={"first_response": f"{SLA_MINUTES}m"},
    )
    return harness, rows


async def test_brand_replies_are_linked_and_the_unanswered_are_flagged(twcs: Any) -> None:
    harness, rows = twcs
    expected = Expected(rows)
    assert len(rows) == 93
    mentions = sorted((to_mention(r) for r in rows), key=lambda m: (m.created_at, m.id))
    result = await harness.replay(mentions, keep_state=True)
    assert result.summary.stored == 93

    store = open_store(harness.config().state_dir)
    try:
        cases = store.cases(state="all")
        items = [item for case in cases for item, _ in store.case_mentions(case.id)]
        alerts = store.alerts(limit=1000)
    finally:
        store.close()

    # Every brand reply to a customer tweet is linked to the tweet it answers.
    links = {i.mention_id.split(":")[1]: (i.answers or "").split(":")[-1] for i in items if i.role == "brand"}
    assert {k: v for k, v in links.items() if v} == expected.links
    assert len(expected.links) > 30  # the sample is mostly conversations

    # Addressed customer tweets are in cases; the answered ones know their answer.
    customer_items = {i.mention_id.split(":")[1]: i for i in items if i.role == "customer"}
    assert {r["tweet_id"] for r in expected.addressed} <= set(customer_items)
    for row in expected.addressed:
        answered = expected.answered_at(row)
        item = customer_items[row["tweet_id"]]
        assert (item.answered_by is not None) == (answered is not None), row["tweet_id"]
    answered_cases = {c.customer for c in cases if c.first_response_at is not None}
    assert len(answered_cases) == len({expected.by_id[t]["author_id"] for t in expected.links.values()})

    # Flagged: every tweet that went past its SLA, and exactly those; the ones never answered
    # are in the alerts still open at the end.
    late, waiting = expected.flagged()
    flagged = {m.split(":")[1] for a in alerts for m in a.mentions}
    still_waiting = {m.split(":")[1] for a in alerts if a.is_open for m in a.mentions}
    assert flagged == late | waiting
    assert still_waiting == waiting
    assert len(waiting) >= 5 and len(late) >= 5  # the sample exercises both
    assert all(a.kind == "unanswered" and a.channel == "twitter" for a in alerts)
