"""negativity_spike: negative mentions of a subject far above their usual count or share.

For each watched subject, on all channels ("*") and per channel, counts the mentions the
scoring stage labelled negative (``labels["sentiment"] == "negative"``) and all mentions, per
event-time window. It alerts when the negative *count* is improbable under its seasonal,
spike-robust baseline (negative binomial tail), or when the negative *share* of the window is
improbable under its usual share (over-dispersed binomial tail): a crisis shows either as more
anger or as a conversation turning sour at the same volume. Machinery: `sentineld.detect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from sentineld import AlertSink, Mention, hookimpl
from sentineld.detect import CountOptions, CountTrigger, Series


class NegativitySpikeOptions(CountOptions):
    #: Subjects to watch: "brand", "competitor:NAME", "topic:NAME", or "*" for every one.
    subjects: list[str] = msgspec.field(default_factory=lambda: ["brand"])
    #: The label (set by a scorer) and its value that make a mention negative.
    label: str = "sentiment"
    negative: str = "negative"
    #: Also alert on the negative share of all mentions, not only on the negative count.
    share: bool = True


class NegativitySpike(CountTrigger):
    type_name = "negativity_spike"
    description = "negative mentions far above their usual count or share, per subject and channel"
    Options = NegativitySpikeOptions

    def __init__(self, options: NegativitySpikeOptions, context: Any) -> None:
        self.share_test = options.share
        #: The subjects counted, as a set: a mention's matches are tested against it.
        self.watched = frozenset(options.subjects)
        super().__init__(options, context)

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        options = self.options
        label, negative, wanted = options.label, options.negative, options.subjects
        every, per_channel, share_test = "*" in wanted, options.per_channel, self.share_test
        watched = self.watched
        add_each = self.keys.add_each
        for mention in mentions:
            matches = mention.matches
            if not matches:
                continue
            hit = mention.labels.get(label) == negative
            if not hit and not share_test:
                continue
            # Most mentions name only watched subjects: their matches are the list itself.
            subjects = matches if every or watched.issuperset(matches) else [s for s in matches if s in watched]
            add_each(subjects, mention, mention.timestamp, hit, per_channel, alerts)

    def describe(self, series: Series, evidence: dict[str, Any]) -> str:
        noun = "negative" if evidence["test"] == "share" else "negative mentions"
        return self.describe_count(noun, series, evidence)


@hookimpl
def register_triggers(register: Any) -> None:
    register(NegativitySpike)
