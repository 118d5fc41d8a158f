"""viral_post's compiled group (`learned`, `followed`: mypyc, decisions 0140 and 0141) follows
posts and raises alerts exactly as its Python sources do.

The behaviour tests' mixed stream (posts and clusters at all rates, some as ints, fires,
resolutions, evictions at the bound, late mentions) runs once with the compiled build and once
with the sources as Python (a child process with ``SENTINELD_NO_EXTENSIONS=1``), straight and
restarted from checkpoints: every alert signal and the final checkpoint's bytes must be the
same. The other viral_post tests run against whichever build is installed.
"""

from __future__ import annotations

import importlib

from sentineld.compiled import COMPILED
from tests.compiled import require_compiled_build, run_as_built

PACKAGE = "sentineld_plugins.triggers.viral_post"

#: Runs in a child process; prints the signals and final states of three runs as JSON.
RUN_STREAM = """
import asyncio, json, sys

from sentineld.compiled import COMPILED, is_compiled
from tests.triggers.test_viral_post_behaviour import mixed_stream, run

async def main():
    mentions = mixed_stream(8000, seed=9)
    runs = [await run(mentions, every, parts) for every, parts in ((None, False), (5, False), (3, True))]
    return [([s.decode() for s in signals], state.hex()) for signals, state in runs]

package = "sentineld_plugins.triggers.viral_post"
runs = asyncio.run(main())
json.dump({"compiled": [is_compiled(sys.modules[f"{package}.{m}"]) for m in COMPILED[package]], "runs": runs},
          sys.stdout)
"""


def test_compiled_viral_post_alerts_and_checkpoints_as_its_sources() -> None:
    require_compiled_build("viral_post's group", [importlib.import_module(f"{PACKAGE}.{m}") for m in COMPILED[PACKAGE]])
    compiled, source = run_as_built(RUN_STREAM, pure=False), run_as_built(RUN_STREAM, pure=True)
    assert all(compiled["compiled"]) and not any(source["compiled"])
    signals, _state = compiled["runs"][0]
    assert sum('"fire":true' in s for s in signals) > 50 and sum('"fire":false' in s for s in signals) > 50
    assert compiled["runs"] == source["runs"]
    assert all(run == compiled["runs"][0] for run in compiled["runs"])  # restarts change nothing
