"""volume_spike: unprecedented buzz about a subject, on all channels and on each one.

Counts the mentions of each watched subject (the brand, each competitor, each topic) per
event-time window, on all channels together ("*") and per channel (the mention's source), and
alerts when the running count is improbable under a seasonal, spike-robust baseline (negative
binomial tail; see `sentineld.detect`). The alert opens on the mention that makes the window
unusual and resolves once the windows have been ordinary for `resolve_after`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from sentineld import AlertSink, Mention, hookimpl
from sentineld.detect import CountOptions, CountTrigger


class VolumeSpikeOptions(CountOptions):
    #: Subjects to watch: "brand", "competitor:NAME", "topic:NAME", or "*" for every one.
    subjects: list[str] = msgspec.field(default_factory=lambda: ["*"])


class VolumeSpike(CountTrigger):
    type_name = "volume_spike"
    description = "mention volume far above its seasonal baseline, per subject and channel"
    Options = VolumeSpikeOptions

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        wanted = self.options.subjects
        every = "*" in wanted
        per_channel = self.options.per_channel
        add_each = self.keys.add_each
        for mention in mentions:
            matches = mention.matches
            if not matches:
                continue
            subjects = matches if every else [s for s in matches if s in wanted]
            add_each(subjects, mention, mention.timestamp, True, per_channel, alerts)


@hookimpl
def register_triggers(register: Any) -> None:
    register(VolumeSpike)
