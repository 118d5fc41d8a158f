"""Cost of taking a component's checkpoint in parts (`ChunkedState`, decision 0015) at a barrier.

    .venv/bin/python bench/state_parts.py [--items 20000] [--changed 1.0] [--checkpoints 20]
        [--runs 5] [--baseline DIR]

A state like viral_post's followed posts: ``--items`` array-like structs (about 170 bytes each
encoded, a string key), of which ``--changed`` (a fraction) change between two checkpoints and
move to the end of the order, as an LRU's do. On the throughput bench nearly every item changes
between two checkpoints (1.0, decision 0041); a live daemon sees a few hundred mentions per
checkpoint (try 0.02). Each checkpoint is `encode_chunks` (cut by the items' keys, each chunk
encoded by msgspec) handed to `ChunkedState.snapshot`, as the components do at each barrier.
Printed: CPU µs per item of one checkpoint and ms per checkpoint (median over the checkpoints
of a pass, then over ``--runs`` passes), with the parts written and their bytes.

``--baseline DIR`` takes a checkout of another revision and measures both trees in turns, each
pass in a fresh process importing that tree (bench/turns.py): medians and the ratio this tree /
baseline, from one run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from operator import attrgetter
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(items: int, changed: float, checkpoints: int) -> dict[str, float]:
    """One pass in this process: the median over `checkpoints` barriers."""
    import msgspec

    from sentineld.state_parts import ChunkedState, encode_chunks

    class Post(msgspec.Struct, array_like=True):
        subject: str
        channel: str
        first_at: float
        last_at: float
        peak: float
        mentions: tuple[str, ...]

    rng = random.Random(7)
    posts = {
        f"x:{n:019d}": Post(f"x:{n:019d}", "x", float(n), float(n), rng.random(), tuple(f"x:{m}" for m in range(4)))
        for n in range(items)
    }
    encode = msgspec.msgpack.Encoder().encode
    state = ChunkedState()
    state.snapshot(b"", {"posts": encode_chunks(list(posts.values()), attrgetter("subject"), encode)}, True)
    costs, written, written_bytes = [], [], []
    for round_number in range(checkpoints):
        for key in rng.sample(list(posts), int(items * changed)):
            post = posts.pop(key)
            mentions = (*post.mentions[1:], str(round_number))
            posts[key] = msgspec.structs.replace(post, last_at=post.last_at + 1, mentions=mentions)
        started = time.process_time()
        chunks = encode_chunks(list(posts.values()), attrgetter("subject"), encode)
        parts = state.snapshot(b"", {"posts": chunks}, False)
        costs.append(time.process_time() - started)
        written.append(len(parts.changed))
        written_bytes.append(sum(map(len, parts.changed.values())))
    cost = statistics.median(costs)
    return {"us_per_item": cost / items * 1e6, "ms_per_checkpoint": cost * 1e3,
            "parts_written": statistics.median(written), "mb_written": statistics.median(written_bytes) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--changed", type=float, default=1.0)
    parser.add_argument("--checkpoints", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.items, args.changed, args.checkpoints)))
        return
    sys.path.insert(0, str(HERE))
    from turns import importable, in_turns, run_child

    arguments = ["--child", "--items", str(args.items), "--changed", str(args.changed),
                 "--checkpoints", str(args.checkpoints)]
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"this tree": importable(HERE.parent, Path(scratch) / "this")}
        if args.baseline is not None:
            trees["baseline"] = importable(args.baseline, Path(scratch) / "baseline")
        results = in_turns(trees, args.runs, lambda code: run_child(__file__, arguments, code))
    print(f"{args.items} items, {args.changed:.0%} changed per checkpoint, {args.runs} passes of "
          f"{args.checkpoints} checkpoints")
    medians = {}
    for name, passes in results.items():
        medians[name] = {key: statistics.median(p[key] for p in passes) for key in passes[0]}
        figures = medians[name]
        each = ", ".join(f"{p['us_per_item']:.3f}" for p in passes)
        print(f"  {name:10} {figures['us_per_item']:.3f} µs per item  {figures['ms_per_checkpoint']:.1f} ms per "
              f"checkpoint  ({each})  "
              f"{figures['parts_written']:.0f} parts, {figures['mb_written']:.2f} MB written")
    if "baseline" in medians:
        ratio = medians["this tree"]["us_per_item"] / medians["baseline"]["us_per_item"]
        print(f"  this tree / baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
