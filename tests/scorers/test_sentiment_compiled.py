"""The compiled sentiment engine (mypyc, decision 0022) scores exactly as its Python source does.

The compiled build is made from the same ``engine.py`` and ``social.py``; this holds it to the
source run as Python, float for float, on every tweet of the shared data sets, plain and
prefixed with the watched brand, in both engines. The Python run is a child process with
``SENTINELD_NO_EXTENSIONS=1`` (a module cannot be imported twice in one process under its name).
The other sentiment tests run against whichever build is installed, so with the compiled
build they hold it to vaderSentiment and to the reference engine too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentineld_plugins.scorers.sentiment import engine, social
from tests.compiled import require_compiled_build as require_compiled, run_as_built

#: Runs in a child process: every text's token valences, normalised text and compound score,
#: floats as ``float.hex`` (exact, and -0.0 stays -0.0), for each engine. An idiom's valence is
#: an int in vaderSentiment's table (``"the shit": 3``): Python keeps the int in the valence
#: list, the compiled engine (typed ``float``) the equal float; hence ``float(v)``.
SCORE_TEXTS = """
import json, sys
from sentineld.compiled import is_compiled
from sentineld_plugins.scorers.sentiment import engine
texts, terms = json.load(sys.stdin)
engines = {"social": engine.VaderEngine(social=True, neutral_terms=terms),
           "vader": engine.VaderEngine(social=False)}
out = {"compiled": is_compiled(engine)}
for name, scorer in engines.items():
    rows = []
    for text in texts:
        valences, normalised = scorer.sentiments(text)
        rows.append([[float(v).hex() for v in valences], normalised, scorer.compound(text).hex()])
    out[name] = rows
json.dump(out, sys.stdout)
"""

TERMS = ["sentineld", "@sentineld", "United", "Best Buy", "Café Olé"]


def scores(texts: list[str], *, pure: bool) -> dict[str, object]:
    result: dict[str, object] = run_as_built(SCORE_TEXTS, stdin=[texts, TERMS], pure=pure, timeout=600)
    return result


def require_compiled_build() -> None:
    require_compiled("the sentiment engine", (engine, social))


@pytest.mark.slow
def test_compiled_engine_scores_the_data_sets_as_its_source(data_dir: Path) -> None:
    require_compiled_build()
    from tests.scorers.test_sentiment_engine import data_texts

    plain = data_texts(data_dir)
    assert len(plain) > 6000
    texts = plain + ["sentineld " + t for t in plain[::2]] + ["@sentineld " + t for t in plain[1::2]]
    compiled, source = scores(texts, pure=False), scores(texts, pure=True)
    assert compiled["compiled"] is True
    assert source["compiled"] is False
    for name in ("social", "vader"):
        different = [
            (text, got, expected)
            for text, got, expected in zip(texts, compiled[name], source[name], strict=True)  # type: ignore[call-overload]
            if got != expected
        ]
        assert different == [], name

