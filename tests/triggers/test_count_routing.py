"""Which keys negativity_spike and competitor_surge add a mention to, for every mix of watched
and unwatched subjects in its matches: their shortcuts for the usual mention (it names only
watched subjects; it names no rival) route it, in order, exactly as the definition does."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from sentineld.alerting import TriggerAlertSink
from sentineld.model import Mention
from sentineld.testing import Harness, make_mention

from .streams import START, WATCH, build_trigger

SUBJECTS = ["brand", "competitor:rivaljet", "competitor:skyco", "competitor:zoom", "topic:fares"]
COMPETITORS = {"rivaljet": ["rivaljet"], "skyco": ["skyco"], "zoom": ["zoomair"]}


class Recorder:
    """Stands in for the trigger's keys: what `add_each` was asked to count."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bool]] = []

    def add_each(self, subjects: Iterable[str], mention: Mention, moment: float, hit: bool,
                 per_channel: bool, alerts: Any) -> None:
        self.calls.append((list(subjects), hit))


def mentions() -> list[Mention]:
    """One mention per ordered selection of the subjects (none to three), half of them negative."""
    made = []
    for size in range(4):
        for index, matches in enumerate(itertools.permutations(SUBJECTS, size)):
            mention = make_mention("text", at=START)
            mention.matches = list(matches)
            mention.labels = {"sentiment": "negative" if index % 2 else "neutral"}
            made.append(mention)
    return made


def configure(harness: Harness, **triggers: dict[str, Any]) -> Harness:
    return harness.configure(watch={"brand": WATCH.brand, "accounts": WATCH.accounts, "competitors": COMPETITORS},
                             triggers=triggers)


async def routed(trigger: Any, stream: list[Mention]) -> list[tuple[list[str], bool]]:
    trigger.keys = recorder = Recorder()
    await trigger.observe(stream, TriggerAlertSink(trigger.id, trigger.type_name))
    return recorder.calls


async def test_negativity_counts_the_watched_subjects_of_each_mention(sentineld_harness: Harness) -> None:
    for subjects in (["brand"], ["brand", "competitor:skyco"], ["*"]):
        for share in (True, False):
            trigger = build_trigger(configure(sentineld_harness, anger={
                "type": "negativity_spike", "subjects": subjects, "share": share}), "anger")
            stream = mentions()
            expected = []
            for mention in stream:
                hit = mention.labels["sentiment"] == "negative"
                if mention.matches and (hit or share):
                    watched = mention.matches if "*" in subjects else [s for s in mention.matches if s in subjects]
                    expected.append((watched, hit))
            assert await routed(trigger, stream) == expected, (subjects, share)


async def test_competitors_count_their_rivals_and_the_brand_as_their_total(sentineld_harness: Harness) -> None:
    for competitors in (["*"], ["skyco"], ["rivaljet", "zoom"]):
        trigger = build_trigger(configure(sentineld_harness, rivals={
            "type": "competitor_surge", "competitors": competitors}), "rivals")
        watched = trigger.watched
        assert watched == {f"competitor:{name}" for name in COMPETITORS if competitors == ["*"] or name in competitors}
        stream = mentions()
        expected = []
        for mention in stream:
            rivals = [subject for subject in mention.matches if subject in watched]
            if rivals or "brand" in mention.matches:
                expected.append((rivals, True))
            if "brand" in mention.matches:
                expected.append((list(watched.difference(rivals)), False))
        assert await routed(trigger, stream) == expected, competitors
