"""The sentiment engine as it stood before it was tuned for speed, kept verbatim as an oracle.

The shipped engine (``sentineld_plugins.scorers.sentiment.engine``) was rewritten for speed
with the rule that no output may change. ``test_sentiment_equivalence.py`` holds it to that:
for every text tried, its token valences, normalised text and compound score must equal this
copy's exactly. Only the lexicon import differs from the original modules. Do not "fix" or
speed up anything here; a deliberate change of the engine's behaviour changes this copy in
the same commit, with the reason.
"""

from .engine import VaderEngine

__all__ = ["VaderEngine"]
