"""Count detectors for triggers: tail probabilities of counts and shares (`stats`), baselines
that learn daily and weekly rhythm robustly (`baseline`), and the windowed machinery the
count-based triggers share (`trigger.CountTrigger`). Third-party triggers may build on them.

Importing this package is cheap: it loads no numerical library (decision 0610).
"""

from sentineld.detect.baseline import Learning, SeasonalCounts, ShareBaseline, rate_for_half_life
from sentineld.detect.stats import binomial_sf, count_isf, count_sf, surprise
from sentineld.detect.trigger import CountOptions, CountTrigger, Series

__all__ = [
    "CountOptions",
    "CountTrigger",
    "Learning",
    "SeasonalCounts",
    "Series",
    "ShareBaseline",
    "binomial_sf",
    "count_isf",
    "count_sf",
    "rate_for_half_life",
    "surprise",
]
