"""Fixtures for the trigger tests: a harness whose pipeline carries preset scores.

The influence, virality and cluster scores come from another part of the scoring stage. To
test triggers through the real pipeline without it, a mention carries the scores it should
have under the unknown key ``preset`` (kept in `extra` by the Mention format), and the
``preset_scores`` scorer below copies them into `scores` and `labels` — exactly what a scorer
does, with the numbers chosen by the test.
"""

from __future__ import annotations

from typing import Any

import pytest

from sentineld import Scorer, hookimpl
from sentineld.testing import Harness


class PresetScores(Scorer):
    type_name = "preset_scores"
    description = "test stand-in: copies extra.preset.scores/labels into the mention"

    async def score(self, mentions: Any) -> None:
        for mention in mentions:
            preset = mention.extra.get("preset") or {}
            mention.scores.update(preset.get("scores", {}))
            mention.labels.update(preset.get("labels", {}))


class PresetPlugin:
    @hookimpl
    def register_scorers(self, register: Any) -> None:
        register(PresetScores)


@pytest.fixture
def harness(sentineld_harness: Harness) -> Harness:
    return sentineld_harness.with_plugins(PresetPlugin()).configure(
        scorers={"preset": {"type": "preset_scores"}},
        sentineld={"tick": "1m", "checkpoint_interval": "50ms"},
    )
