"""What `Guard.call` itself costs: the config's scorers and triggers called through their Guards
on an empty batch (their own work is then next to nothing), against the same calls made
directly, in µs of thread CPU per call.

    .venv/bin/python bench/guard_calls.py -c CONFIG [--calls 20000] [--runs 3] [--baseline DIR]

``--baseline DIR`` measures another checkout in turns with this tree, each run in a fresh
process, and prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from turns import importable, in_turns, run_child  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

CHILD = r'''
import asyncio, json, sys, time
from sentineld.alerting.signals import TriggerAlertSink
from sentineld.config import load_config
from sentineld.supervisor import Guard

config_path, calls = sys.argv[1], int(sys.argv[2])
config = load_config(config_path)


async def main() -> dict[str, float]:
    guards = [Guard(spec, config) for kind in ("scorer", "trigger") for spec in config.of_kind(kind).values()]
    calls_of = []
    for guard in guards:
        if guard.spec.kind == "scorer":
            calls_of.append((guard, "score", ([],)))
        else:
            calls_of.append((guard, "observe", ([], TriggerAlertSink(guard.id, guard.spec.type_name))))
    for guard, method, args in calls_of:  # warm up, and fill each Guard's method cache
        await guard.call(method, *args)
    through = direct = 0.0
    for guard, method, args in calls_of:
        function = getattr(guard.component, method)
        started = time.thread_time()
        for _ in range(calls):
            await guard.call(method, *args)
        through += time.thread_time() - started
        started = time.thread_time()
        for _ in range(calls):
            await function(*args)
        direct += time.thread_time() - started
    count = calls * len(calls_of)
    return {"guard_us": through / count * 1e6, "direct_us": direct / count * 1e6}

print(json.dumps(asyncio.run(main())))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "child.py"
        script.write_text(CHILD)
        trees = {"this": importable(REPO, Path(scratch) / "this")}
        if options.baseline is not None:
            trees["baseline"] = importable(options.baseline, Path(scratch) / "baseline")
        figures = in_turns(trees, options.runs,
                           lambda code: run_child(str(script), [str(options.config), str(options.calls)], code))
    for name, runs in figures.items():
        guard = [run["guard_us"] for run in runs]
        direct = [run["direct_us"] for run in runs]
        print(f"{name}: Guard.call {statistics.median(guard):.2f} µs per call ({', '.join(f'{g:.2f}' for g in guard)}), "
              f"the call alone {statistics.median(direct):.2f}, overhead {statistics.median(guard) - statistics.median(direct):.2f}")
    if "baseline" in figures:
        ratio = [t["guard_us"] / b["guard_us"] for t, b in zip(figures["this"], figures["baseline"], strict=True)]
        print(f"this / baseline, Guard.call per pair: {', '.join(f'{r:.2f}' for r in ratio)} (median {statistics.median(ratio):.2f})")


if __name__ == "__main__":
    main()
