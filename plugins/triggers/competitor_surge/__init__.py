"""competitor_surge: a competitor's chatter picks up unusually, or takes share of voice.

For each competitor of ``[watch.competitors]``, on all channels ("*") and per channel, counts
the competitor's mentions per event-time window, and the competitor's share of voice: its
mentions among its and the brand's together. It alerts when the count is improbable under its
seasonal, spike-robust baseline (negative binomial tail), or when the share of voice is
improbable under its usual share (over-dispersed binomial tail): the rival is suddenly the talk,
or the talk turns from the brand to the rival. Machinery: `sentineld.detect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from sentineld import AlertSink, Mention, hookimpl
from sentineld.detect import CountOptions, CountTrigger, Series

BRAND = "brand"
PREFIX = "competitor:"


class CompetitorSurgeOptions(CountOptions):
    #: Competitors to watch, by their name in [watch.competitors], or "*" for all of them.
    competitors: list[str] = msgspec.field(default_factory=lambda: ["*"])
    #: Also alert on the competitor's share of voice against the brand.
    share_of_voice: bool = True


class CompetitorSurge(CountTrigger):
    type_name = "competitor_surge"
    description = "a competitor's mentions or share of voice against the brand far above usual"
    Options = CompetitorSurgeOptions

    def __init__(self, options: CompetitorSurgeOptions, context: Any) -> None:
        self.share_test = options.share_of_voice
        super().__init__(options, context)
        names = list(context.watch.competitors)
        if "*" not in options.competitors:
            names = [name for name in names if name in options.competitors]
        self.watched = frozenset(PREFIX + name for name in names)
        #: `watched.difference(rivals)` when a mention names no rival, in that set's order.
        self._all_watched = tuple(self.watched.difference(()))

    async def observe(self, mentions: Sequence[Mention], alerts: AlertSink) -> None:
        add_each, watched, all_watched = self.keys.add_each, self.watched, self._all_watched
        share_test, per_channel = self.share_test, self.options.per_channel
        for mention in mentions:
            matches = mention.matches
            if not matches:
                continue
            # Most mentions name no rival: no list is made to find that out.
            rivals = [] if watched.isdisjoint(matches) else [subject for subject in matches if subject in watched]
            about_brand = share_test and BRAND in matches
            if not rivals and not about_brand:
                continue
            moment = mention.timestamp
            add_each(rivals, mention, moment, True, per_channel, alerts)
            if about_brand:
                # The brand's mentions count in each rival's total (the share-of-voice base).
                add_each(watched.difference(rivals) if rivals else all_watched, mention, moment, False,
                         per_channel, alerts)

    def describe(self, series: Series, evidence: dict[str, Any]) -> str:
        if evidence["test"] != "share":
            return self.describe_count("mentions", series, evidence)
        where = "all channels" if series.channel == "*" else series.channel
        since = evidence["window_start"][11:16]
        return (
            f"{series.subject} holds {evidence['share']:.0%} of the conversation against the brand "
            f"on {where} in the {evidence['window']} from {since} UTC ({evidence['observed']} of "
            f"{evidence['total']} mentions), {evidence['factor']}x its usual "
            f"{evidence['expected_share']:.0%} (p = {evidence['p_value']:.1e})"
        )


@hookimpl
def register_triggers(register: Any) -> None:
    register(CompetitorSurge)
