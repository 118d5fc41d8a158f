"""The example plugin's own tests, on the real sentineld core (via sentineld.testing)."""

from __future__ import annotations

import sentineld_example
from sentineld.testing import Harness, make_mention


async def test_shouting_scorer_scores_capitals(sentineld_harness: Harness) -> None:
    harness = sentineld_harness.with_plugins(sentineld_example)
    harness.configure(scorers={"caps": {"type": "shouting"}})
    loud, calm = await harness.score(
        [make_mention("@acme WHERE IS MY BAG"), make_mention("@acme where is my bag")]
    )
    assert loud.labels["shouting"] == "yes" and loud.scores["shouting"] == 0.75
    assert calm.labels["shouting"] == "no" and calm.scores["shouting"] == 0.0


async def test_keyword_trigger_fires_and_resolves_through_the_pipeline(sentineld_harness: Harness) -> None:
    harness = sentineld_harness.with_plugins(sentineld_example)
    harness.configure(triggers={"legal": {"type": "keyword", "keywords": ["lawyer", "refund"],
                                          "window": "30m", "min_count": 3}})
    mentions = [make_mention(f"@acme I want a refund #{i}", minutes=i) for i in range(3)]
    mentions += [make_mention("@acme thanks, all good", minutes=120)]
    result = await harness.replay(mentions)
    assert [a.kind for a in result.opened] == ["keyword"]
    assert result.opened[0].evidence["observed"] == 3
    assert [a.id for a in result.resolved] == [result.opened[0].id]


async def test_keyword_trigger_stays_quiet_below_min_count(sentineld_harness: Harness) -> None:
    harness = sentineld_harness.with_plugins(sentineld_example)
    harness.configure(triggers={"legal": {"type": "keyword", "keywords": ["lawyer"], "min_count": 3}})
    mentions = [make_mention("@acme calling my lawyer", minutes=m) for m in (0, 40, 80)]
    result = await harness.replay(mentions)
    assert result.opened == []


def test_sample_config_is_shipped_and_valid() -> None:
    from sentineld.config import load_config

    sample = sentineld_example.KeywordTrigger.sample_config()
    assert sample is not None and sample == sentineld_example.ShoutingScorer.sample_config()
    config = load_config(text=sample, extra_plugins=(sentineld_example,), entry_points=False)
    assert config.components["trigger"]["legal"].options.keywords == ["lawyer", "sue", "refund"]
    assert config.components["scorer"]["caps"].type_name == "shouting"
