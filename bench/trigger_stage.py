"""CPU time of the pipeline's trigger stage per mention, in a real replay, split into the
triggers' own work (observe, tick, settle, snapshot) and the rest (the stage's plumbing and the alert path: the alert manager,
routing, completing and recording alert events), and the store thread's alert writes.

    .venv/bin/python bench/trigger_stage.py [--mentions 300000] [--authors 200000] [--runs 3]
        [--components sentineld.toml] [--baseline DIR] [--stream FILE]

The stream is bench/throughput.py's (one in five mentions addresses the brand's account and
nobody answers, so the `unanswered` trigger opens an alert for almost every customer). Each run
is `sentineld.replay.replay` in a fresh subprocess, with the shipped config's scorers and
triggers and a real SQLite store. CPU is counted per asyncio task step (`thread_time` around
each step of the ``stage:trigger`` task), per trigger call (`observe`, `tick`, `settle`,
`snapshot`, `snapshot_parts`: they never suspend), and around the store's alert methods on the
store thread. "of which checkpoints" is the `snapshot_parts` of unanswered and influencer_mention
(per mention, and per checkpoint: a checkpoint is taken every 5 s of wall time, so how many a
run takes depends on the machine's load).
``--option waiting.max_customer_alerts=0`` sets a trigger option in this tree's config only.

``--baseline DIR`` takes a checkout of another revision (e.g. ``git archive REV | tar -x -C
DIR``) and runs it in turns with this one on the same stream, so the ratio is from one run.

"rest" is the stage without the own work of viral_post and of the count triggers
(volume_spike, negativity_spike, competitor_surge): what the alert path costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import CONFIG, shipped_components, write_stream  # noqa: E402

COUNT_TRIGGERS = ("volume_spike", "negativity_spike", "competitor_surge")
EXCLUDED = ("viral_post", *COUNT_TRIGGERS)
STORE_ALERT_METHODS = ("record_alerts", "alerts_by_id", "save_checkpoint")

# The measuring child: runs one replay and prints its figures as JSON on the last line.
CHILD = r'''
import asyncio, json, sys, time
from collections import Counter
from pathlib import Path

root, config_path, stream = sys.argv[1:4]
links = Path(sys.argv[4])
sys.path.insert(0, str(links))

import sentineld, sentineld_plugins
assert Path(sentineld.__file__).resolve().parent == (Path(root) / "sentineld").resolve(), sentineld.__file__
assert Path(sentineld_plugins.__file__).resolve().parent == (Path(root) / "plugins").resolve()

from sentineld.config import load_config
from sentineld.replay import replay
from sentineld.cli.common import tune_gc_for_streaming

tune_gc_for_streaming()  # as `sentineld replay` does

tasks = Counter()
own = Counter()
store = Counter()
original_run = asyncio.events.Handle._run

def run(handle):
    started = time.thread_time()
    try:
        return original_run(handle)
    finally:
        owner = getattr(handle._callback, "__self__", None)
        name = owner.get_name() if isinstance(owner, asyncio.Task) else "callbacks"
        tasks[name] += time.thread_time() - started

asyncio.events.Handle._run = run

def timed_async(label, function):
    async def wrapper(*args, **kwargs):
        started = time.thread_time()
        try:
            return await function(*args, **kwargs)
        finally:
            own[label] += time.thread_time() - started
    return wrapper

calls = Counter()

def timed(counter, label, function):
    def wrapper(*args, **kwargs):
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            counter[label] += time.thread_time() - started
            calls[label] += 1
    return wrapper

def watch(pipeline):
    for guard in pipeline.triggers:
        component = guard.component
        for method in ("observe", "tick", "settle"):
            if hasattr(component, method):
                setattr(component, method, timed_async(guard.spec.type_name, getattr(component, method)))
        component.snapshot = timed(own, guard.spec.type_name, component.snapshot)
        component.snapshot_parts = timed(own, guard.spec.type_name,
                                         timed(own, guard.spec.type_name + ": checkpoint", component.snapshot_parts))
    for method in %(store_methods)r:
        setattr(pipeline.store.store, method, timed(store, method, getattr(pipeline.store.store, method)))

config = load_config(config_path)
process_started = time.process_time()
summary = asyncio.run(replay(config, [stream], watch=watch))
print(json.dumps({
    "tasks": tasks, "own": own, "store": store, "calls": calls, "process": time.process_time() - process_started,
    "stored": summary.stored, "opened": summary.alerts_opened, "resolved": summary.alerts_resolved,
}))
'''


def with_options(config: str, options: list[str]) -> str:
    """The config text with `trigger.key=value` options set (values in TOML syntax)."""
    import tomllib

    import tomli_w

    tables = tomllib.loads(config)
    for option in options:
        name, _, value = option.partition("=")
        trigger, _, key = name.partition(".")
        tables["triggers"][trigger][key] = tomllib.loads(f"v = {value}")["v"]
    return tomli_w.dumps(tables)


def run_child(root: Path, config: Path, stream: Path, scratch: Path) -> dict:
    links = scratch / f"links-{abs(hash(str(root)))}"
    if not links.exists():
        links.mkdir()
        (links / "sentineld").symlink_to(root / "sentineld")
        (links / "sentineld_plugins").symlink_to(root / "plugins")
    code = CHILD % {"store_methods": STORE_ALERT_METHODS}
    result = subprocess.run(
        [sys.executable, "-c", code, str(root), str(config), str(stream), str(links)],
        capture_output=True, text=True, check=False, cwd=scratch,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if result.returncode != 0:
        raise SystemExit(f"replay of {root} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def figures(data: dict, mentions: int) -> dict[str, float]:
    """µs of CPU per mention."""
    per = 1e6 / mentions
    stage = data["tasks"].get("stage:trigger", 0.0)
    own = data["own"]
    excluded = sum(own.get(name, 0.0) for name in EXCLUDED)
    return {
        "stage": stage * per,
        "viral_post": own.get("viral_post", 0.0) * per,
        "count triggers": sum(own.get(name, 0.0) for name in COUNT_TRIGGERS) * per,
        "unanswered": own.get("unanswered", 0.0) * per,
        "influencer_mention": own.get("influencer_mention", 0.0) * per,
        "of which checkpoints": sum(own.get(f"{name}: checkpoint", 0.0)
                                    for name in ("unanswered", "influencer_mention")) * per,
        "ms per checkpoint": sum(own.get(f"{name}: checkpoint", 0.0) for name in ("unanswered", "influencer_mention"))
                             * 1e3 / max(1, data["calls"].get("unanswered: checkpoint", 0)),
        "rest": (stage - excluded) * per,
        "store: alerts": (data["store"].get("record_alerts", 0.0)
                          + data["store"].get("alerts_by_id", 0.0)) * per,
        "store: checkpoints": data["store"].get("save_checkpoint", 0.0) * per,
        "process": data["process"] * per,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=300_000)
    parser.add_argument("--authors", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--components", type=Path, default=REPO / "sentineld.toml",
                        help="take the scorers and triggers of this config (default: the shipped one)")
    parser.add_argument("--baseline", type=Path, help="a checkout of another revision, run in turns")
    parser.add_argument("--stream", type=Path, help="reuse this stream (written if missing)")
    parser.add_argument("--option", action="append", default=[], metavar="TRIGGER.KEY=VALUE",
                        help="a trigger option (TOML value) for this tree's config only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as folder:
        scratch = Path(folder)
        config = scratch / "sentineld.toml"
        config.write_text(CONFIG + shipped_components(args.components))
        this_config = scratch / "this.toml"
        this_config.write_text(with_options(config.read_text(), args.option))
        stream = args.stream or scratch / "stream.jsonl"
        if not stream.exists():
            print(f"writing {args.mentions:,} mentions from {args.authors:,} authors …", flush=True)
            write_stream(stream, args.mentions, args.authors)
        variants = {"this tree": (REPO, this_config)}
        if args.baseline is not None:
            variants = {"baseline": (args.baseline.resolve(), config), **variants}
        results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        counts: dict[str, tuple[int, int, int]] = {}
        for run in range(args.runs):
            for name, (root, variant_config) in variants.items():
                data = run_child(root, variant_config, stream, scratch)
                results[name].append(figures(data, data["stored"]))
                counts[name] = (data["stored"], data["opened"], data["resolved"])
                print(f"  run {run + 1} {name}: " + ", ".join(
                    f"{k} {v:.2f}" for k, v in results[name][-1].items()), flush=True)

    print()
    print(f"µs of CPU per mention, median of {args.runs} runs ({args.components.name} components):")
    columns = list(next(iter(results.values()))[0])
    print(f"  {'':<11}" + "".join(f"{c:>20}" for c in columns))
    medians = {}
    for name, runs in results.items():
        medians[name] = {c: statistics.median(r[c] for r in runs) for c in columns}
        print(f"  {name:<11}" + "".join(f"{medians[name][c]:>20.2f}" for c in columns))
    for name, (stored, opened, resolved) in counts.items():
        print(f"  {name}: {stored:,} mentions, alerts {opened:,} opened, {resolved:,} resolved")
    if args.baseline is not None:
        base, this = medians["baseline"], medians["this tree"]
        print("  ratio this tree / baseline: " + ", ".join(
            f"{c} {this[c] / base[c]:.2f}" for c in ("stage", "rest", "store: alerts") if base[c]))


if __name__ == "__main__":
    main()
