"""The trigger stage's own calls, recorded once from a real replay and played again on fresh
triggers, so that two trees can be compared on exactly the same calls without the rest of the
pipeline (scorers, store, other threads) in the same process.

    .venv/bin/python bench/trigger_calls.py record -c CONFIG STREAM CALLS
    .venv/bin/python bench/trigger_calls.py play -c CONFIG CALLS [--runs 3] [--baseline DIR] [--triggers ID,…] [--segment N]

``record`` runs one `sentineld.replay.replay` of STREAM and writes to CALLS what the trigger
stage did, in order: each chunk of scored mentions the triggers observed (the mentions with the
values kept in their ``__dict__``, such as the case step's answer to `names_own`), each clock
tick, and each checkpoint barrier.

``play`` builds the config's triggers and an `AlertManager` afresh and makes the same calls
(`observe`, `tick`, `AlertManager.apply` of what each call signalled, `AlertManager.tick`, and
at each barrier the triggers' `snapshot_parts` and the manager's `take_dirty`, `snapshot` and
`take_changes`), each timed with `time.thread_time()`, decoding the recorded mentions outside
the timers. It prints µs of CPU per mention for each trigger (observe and tick), for its
checkpoints, and for the alert manager, and a digest of every signal and of the last checkpoint's
decoded state (`snapshot()`) of each trigger: two trees that play the same calls to the same
digest gave the same alerts and the same checkpoints. The alert events are not stored: what
the store does with them (completing partial alerts, writing rows) is not counted.

``--baseline DIR`` plays the calls with another checkout (its extensions built) in turns with
this tree, each run in a fresh process, and prints the medians and their ratios.
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
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# The playing child: imports sentineld from the root it is given, prints its figures as JSON.
CHILD = r'''
import asyncio, hashlib, json, sys, time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

root, config_path, calls_path, links, only, segment = sys.argv[1:7]
segment = int(segment)
sys.path.insert(0, links)
import msgspec
import sentineld, sentineld_plugins
assert Path(sentineld.__file__).resolve().parent == (Path(root) / "sentineld").resolve(), sentineld.__file__
from sentineld.alerting import AlertManager
from sentineld.alerting.signals import TriggerAlertSink
from sentineld.cli.common import tune_gc_for_streaming
from sentineld.config import load_config
from sentineld.authors import InfluencerRegistry
from sentineld.watch import Matcher
from sentineld.model import Mention
from sentineld.supervisor import Guard

tune_gc_for_streaming()
config = load_config(config_path)
matcher = Matcher(config.watch)
influencers = InfluencerRegistry(config.sections.get("influencers"), matcher)
guards = [Guard(spec, config, influencers=influencers, request_checkpoint=lambda reason: None)
          for spec in config.of_kind("trigger").values() if not only or spec.id in only.split(",")]
sinks = {g.id: TriggerAlertSink(g.id, g.spec.type_name) for g in guards}
manager = AlertManager(config.sections.get("alerting"))
decode = msgspec.msgpack.Decoder(tuple[str, float, list[bytes], list[dict]]).decode
decode_mention = msgspec.json.Decoder(Mention).decode
spent, signals, parts = Counter(), hashlib.sha256(), hashlib.sha256()
mentions_seen = checkpoints = 0
segments, segment_start = [], Counter()  # what each `segment` mentions cost (--segment)
clock = time.thread_time

def note(taken):
    for signal in taken:
        signals.update(repr((signal.fire, signal.trigger, signal.subject, signal.channel, signal.at,
                             signal.summary, signal.severity, sorted(signal.evidence.items()),
                             tuple(signal.mentions), signal.reason)).encode())

def apply(taken):
    note(taken)
    started = clock()
    manager.apply(taken)
    spent["alert manager"] += clock() - started

async def play():
    global mentions_seen, checkpoints, segment_start
    with open(calls_path, "rb") as file:
        while size := int.from_bytes(file.read(4), "little"):
            kind, boundary, raw, extras = decode(file.read(size))
            mentions = [decode_mention(data) for data in raw]
            if kind == "o":
                for mention, extra in zip(mentions, extras):
                    mention.__dict__.update(extra)
                mentions_seen += len(mentions)
                if segment and mentions_seen // segment > len(segments):
                    segments.append([mentions_seen, dict(spent - segment_start)])
                    segment_start = Counter(spent)
                for guard in guards:
                    sink = sinks[guard.id]
                    started = clock()
                    await guard.component.observe(mentions, sink)
                    spent[guard.id] += clock() - started
                    if sink.signals:
                        apply(sink.take())
            elif kind == "t":
                now = datetime.fromtimestamp(boundary, UTC)
                for guard in guards:
                    sink = sinks[guard.id]
                    started = clock()
                    await guard.component.tick(now, sink)
                    spent[guard.id] += clock() - started
                    if sink.signals:
                        apply(sink.take())
                started = clock()
                manager.tick(boundary)
                spent["alert manager"] += clock() - started
            else:
                checkpoints += 1
                for guard in guards:
                    started = clock()
                    taken = guard.component.snapshot_parts(complete=checkpoints == 1)
                    spent[guard.id + ": checkpoints"] += clock() - started
                    if taken is not None:
                        parts.update(repr((guard.id, sorted(taken.changed.items()), taken.removed,
                                           taken.complete)).encode())
                started = clock()
                manager.take_dirty()
                manager.snapshot(whole=False)
                manager.take_changes()
                spent["alert manager: checkpoints"] += clock() - started

started = time.process_time()
asyncio.run(play())
process = time.process_time() - started
states = {g.id: hashlib.sha256(msgspec.msgpack.encode(g.component.snapshot())).hexdigest()[:16]
          if g.component.snapshot() is not None else None for g in guards}
if segment:
    segments.append([mentions_seen, dict(spent - segment_start)])
print(json.dumps({"spent": spent, "segments": segments, "mentions": mentions_seen, "checkpoints": checkpoints, "process": process,
                  "signals": signals.hexdigest()[:16],
                  "parts": parts.hexdigest()[:16], "states": states}))
'''


def record(config_path: Path, stream: Path, calls: Path) -> None:
    import asyncio

    import msgspec

    from sentineld.cli.common import tune_gc_for_streaming
    from sentineld.config import load_config
    from sentineld.logs import configure_logging
    from sentineld.replay import replay

    encode, encode_json = msgspec.msgpack.Encoder().encode, msgspec.json.Encoder().encode
    out = calls.open("wb")
    frames = {"o": 0, "t": 0, "c": 0}

    def write(kind: str, boundary: float, mentions: list[Any], extras: list[dict[str, Any]]) -> None:
        """One call as a length-prefixed msgpack frame; the mentions as JSON, which keeps each
        one's time as its source wrote it (its UTC offset included)."""
        frames[kind] += 1
        data = encode((kind, boundary, [encode_json(m) for m in mentions], extras))
        out.write(len(data).to_bytes(4, "little") + data)

    def watch(pipeline: Any) -> None:
        observe_chunk, tick, snapshot = pipeline._observe_chunk, pipeline._tick, pipeline._snapshot

        async def recorded_chunk(chunk: list[Any]) -> None:
            write("o", 0.0, chunk, [dict(m.__dict__) for m in chunk])
            await observe_chunk(chunk)

        async def recorded_tick(boundary: float) -> None:
            write("t", boundary, [], [])
            await tick(boundary)

        def recorded_snapshot(guards: Any, into: dict[str, Any]) -> None:
            if guards is pipeline.triggers:
                write("c", 0.0, [], [])
            snapshot(guards, into)

        pipeline._observe_chunk, pipeline._tick, pipeline._snapshot = recorded_chunk, recorded_tick, recorded_snapshot

    config = load_config(config_path)
    configure_logging(config.daemon.log_level, config.daemon.log_format)
    tune_gc_for_streaming()  # as `sentineld replay` does
    summary = asyncio.run(replay(config, [str(stream)], watch=watch))
    out.write(bytes(4))
    out.close()
    print(f"{summary.stored:,} mentions: {frames['o']:,} chunks observed, {frames['t']:,} ticks, "
          f"{frames['c']:,} checkpoints; alerts {summary.alerts_opened:,} opened")


def play_child(root: Path, config: Path, calls: Path, scratch: Path, only: str, segment: int) -> dict[str, Any]:
    links = scratch / f"links-{abs(hash(str(root)))}"
    if not links.exists():
        links.mkdir()
        (links / "sentineld").symlink_to(root / "sentineld")
        (links / "sentineld_plugins").symlink_to(root / "plugins")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(config), str(calls), str(links), only, str(segment)],
        capture_output=True, text=True, check=False, cwd=scratch, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if result.returncode != 0:
        raise SystemExit(f"playing with {root} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def play(config: Path, calls: Path, runs: int, baseline: Path | None, only: str, segment: int = 0) -> None:
    variants = {"this tree": REPO}
    if baseline is not None:
        variants = {"baseline": baseline.resolve(), **variants}
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    #: per variant, per run: each segment's µs per mention by label (--segment)
    by_segment: dict[str, list[list[dict[str, float]]]] = {name: [] for name in variants}
    digests: dict[str, set[str]] = {name: set() for name in variants}
    with tempfile.TemporaryDirectory(prefix="sentineld-bench-") as folder:
        for run in range(runs):
            for name, root in variants.items():
                data = play_child(root, config.resolve(), calls.resolve(), Path(folder), only, segment)
                per = 1e6 / data["mentions"]
                row = {label: seconds * per for label, seconds in sorted(data["spent"].items())}
                row["all timed"] = sum(data["spent"].values()) * per
                row["process"] = data["process"] * per
                figures[name].append(row)
                by_segment[name].append(_per_mention(data["segments"]))
                digests[name].add(json.dumps([data["signals"], data["parts"], data["states"]]))
                print(f"  run {run + 1} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    print(f"\nµs of CPU per mention ({data['mentions']:,} mentions, {data['checkpoints']} checkpoints), "
          f"median of {runs} runs:")
    labels = list(figures["this tree"][0])
    medians = {name: {label: statistics.median(r.get(label, 0.0) for r in rows) for label in labels}
               for name, rows in figures.items()}
    width = max(map(len, labels))
    print(f"  {'':<{width}} " + "".join(f"{name:>12}" for name in variants) + ("       ratio" if baseline else ""))
    for label in labels:
        line = f"  {label:<{width}} " + "".join(f"{medians[name][label]:>12.3f}" for name in variants)
        if baseline is not None and medians["baseline"][label]:
            line += f"{medians['this tree'][label] / medians['baseline'][label]:>12.2f}"
        print(line)
    if segment:
        _print_segments(by_segment, labels, segment)
    for name, seen in digests.items():
        print(f"  {name}: signals, checkpoint parts, last states {' / '.join(sorted(seen))}")
    if baseline is not None:
        print("  same signals, parts and states: " + ("yes" if digests["baseline"] == digests["this tree"] else "NO"))


def _per_mention(segments: list[list[Any]]) -> list[dict[str, float]]:
    """Each segment's seconds by label as µs per mention of that segment."""
    rows, before = [], 0
    for upto, spent in segments:
        if upto > before:
            rows.append({label: seconds * 1e6 / (upto - before) for label, seconds in spent.items()})
        before = upto
    return rows


def _print_segments(by_segment: dict[str, list[list[dict[str, float]]]], labels: list[str], segment: int) -> None:
    """Per variant, the median over runs of each label's µs per mention in each segment: what
    grows with the stream (state filling up, bounds reached) shows as a rising column."""
    labels = [label for label in labels if label not in ("all timed", "process")] + ["all timed"]
    for name, runs in by_segment.items():
        print(f"\n  {name}, µs of CPU per mention in each segment of {segment:,} mentions (medians):")
        print("  " + f"{'segment':>9}" + "".join(f"{label.replace(': checkpoints', ' ckpt')[:14]:>15}" for label in labels))
        for index in range(min(map(len, runs))):
            rows = [run[index] for run in runs]
            cells = []
            for label in labels:
                values = [sum(row.values()) if label == "all timed" else row.get(label, 0.0) for row in rows]
                cells.append(f"{statistics.median(values):>15.3f}")
            print("  " + f"{index + 1:>9}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record")
    recording.add_argument("-c", "--config", type=Path, required=True)
    recording.add_argument("stream", type=Path)
    recording.add_argument("calls", type=Path)
    playing = commands.add_parser("play")
    playing.add_argument("-c", "--config", type=Path, required=True)
    playing.add_argument("calls", type=Path)
    playing.add_argument("--runs", type=int, default=3)
    playing.add_argument("--baseline", type=Path, help="a checkout of another revision, played in turns")
    playing.add_argument("--triggers", default="", help="play only these triggers (ids, comma-separated)")
    playing.add_argument("--segment", type=int, default=0,
                         help="also print each trigger's cost per mention in segments of this many mentions")
    args = parser.parse_args()
    if args.command == "record":
        record(args.config, args.stream, args.calls)
    else:
        play(args.config, args.calls, args.runs, args.baseline, args.triggers, args.segment)


if __name__ == "__main__":
    main()
