"""Memory: the resident set size of `sentineld replay` (the shipped config's scorers and
triggers, the influencer registry, the SQLite store) as 2,000,000 mentions from 500,000 distinct
authors stream through it, sampled as it goes, to show it stays flat.

    .venv/bin/python bench/memory.py [--mentions 2000000] [--authors 500000] [--samples 20]
                                     [--step-ms 20] [--trace | --breakdown | --checkpoints]

The mentions are generated on the fly and piped to `sentineld replay -` (no file on disk); the
RSS (VmRSS of /proc/PID/status) is read once the replay has taken its first few thousand mentions
(the interpreter, the imports and the components at start), every time another 1/--samples of the
stream is written, and at the end (VmHWM: the peak). A pipe holds little, so the replay is never
far behind the writer: the samples are RSS along the stream. A mention comes every ``--step-ms``
of event time: at the default 20 ms, 2M mentions span 11 hours, under the count triggers'
warm-up, so their tails are never computed; ``--step-ms 150`` spans 3.5 days. The replay's CPU
time (user + system, from the kernel) is printed too, so that what a memory setting costs in
time shows in the same run.

``--trace`` runs the replay under tracemalloc and, once the whole stream is written, prints which
files hold the Python memory still allocated (grouped by component). It slows the replay down
and adds its own memory to RSS: measure RSS without it, then look at the breakdown with it.
SQLite's page cache and other C allocations are not traced; they are the difference between
RSS and the traced total.

``--breakdown`` asks the replay, once the whole stream is written, where its resident memory
is without tracing it: pymalloc's arenas (Python objects up to 512 bytes) and their free blocks,
glibc's heaps and mapped blocks, SQLite's allocations and page cache, the mapped files, the
objects the garbage collector tracks by type (their own size, not what they refer to), and
whether scipy is loaded (decision 0028).

``--checkpoints`` runs the replay with each component's `snapshot()` timed and the checkpoint's
writes counted, and prints, per component, the encoded state's size and the time taken to
take it at each checkpoint barrier, and the bytes each checkpoint hands to the store. The timing
wrappers cost little; the RSS figures are still those of the replay.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import tweet_texts  # noqa: E402
from throughput import CONFIG, shipped_components  # noqa: E402

import msgspec  # noqa: E402


#: Mentions written before the start-up sample.
STARTUP_MENTIONS = 4000
STARTUP_PAUSE = 3.0


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


#: Run in the replay subprocess under ``--trace``: once the file named by argv[1] + ".request"
#: appears, a thread writes the traced memory by file to argv[1] (a thread, not a signal: a
#: signal can land on a thread blocked in read() while the event loop sleeps).
TRACED_REPLAY = """
import sys, threading, time, tracemalloc
from pathlib import Path
tracemalloc.start(1)
out = Path(sys.argv[1])

def dump_on_request():
    while not out.with_suffix(".request").exists():
        time.sleep(0.2)
    stats = tracemalloc.take_snapshot().statistics("filename")
    rows = [f"{s.size} {s.count} {s.traceback[0].filename}" for s in stats]
    out.with_suffix(".tmp").write_text("\\n".join(rows))
    out.with_suffix(".tmp").rename(out)

threading.Thread(target=dump_on_request, daemon=True).start()
from sentineld.cli import main
sys.argv = ["sentineld", *sys.argv[2:]]
raise SystemExit(main())
"""


#: Run in the replay subprocess under ``--breakdown``: like ``TRACED_REPLAY``, a thread waits
#: for the request and writes the report to argv[1].
BREAKDOWN_REPLAY = """
import collections, ctypes, ctypes.util, gc, os, sys, tempfile, threading, time
from pathlib import Path
out = Path(sys.argv[1])

def report():
    rows = []
    libc = ctypes.CDLL(None)
    class Mallinfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
    libc.mallinfo2.restype = Mallinfo2
    info = libc.mallinfo2()
    rows.append(f"glibc: heaps {info.arena / 2**20:.1f} MB ({info.uordblks / 2**20:.1f} in use, "
                f"{info.fordblks / 2**20:.1f} free), mapped blocks {info.hblkhd / 2**20:.1f} MB")
    sqlite = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
    now, high = ctypes.c_int64(), ctypes.c_int64()
    for code, name in ((0, "allocated"), (2, "page cache (from the heap)")):
        sqlite.sqlite3_status64(code, ctypes.byref(now), ctypes.byref(high), 0)
        rows.append(f"SQLite {name}: {now.value / 2**20:.1f} MB (high {high.value / 2**20:.1f})")
    with tempfile.TemporaryFile() as stats:  # _debugmallocstats writes to the C stderr
        saved = os.dup(2)
        os.dup2(stats.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        stats.seek(0)
        text = stats.read().decode(errors="replace")
    for line in text.splitlines():
        if line.startswith(("# arenas allocated current", "# bytes in allocated blocks",
                            "# bytes in available blocks")):
            rows.append("pymalloc " + line.lstrip("# "))
    kinds = collections.Counter()
    name = "?"
    for line in open("/proc/self/smaps"):
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:
            name = fields[5] if len(fields) > 5 else "[anon]"
            name = name if name.startswith("[") else "files"
        elif fields[0] == "Rss:":
            kinds[name] += int(fields[1])
    rows.append("RSS by mapping: " + ", ".join(f"{k} {v / 1024:.1f} MB" for k, v in kinds.most_common() if v >= 100))
    sizes, counts = collections.Counter(), collections.Counter()
    for item in gc.get_objects():
        kind = type(item)
        kind = f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"
        sizes[kind] += sys.getsizeof(item)
        counts[kind] += 1
    rows.append("objects the collector tracks, by type (own size only):")
    rows.extend(f"  {size / 2**20:7.1f} MB {counts[kind]:>9,} {kind}" for kind, size in sizes.most_common(12))
    rows.append(f"modules loaded: {len(sys.modules)}, scipy's: {sum(m.startswith('scipy') for m in sys.modules)}")
    return rows

def report_on_request():
    while not out.with_suffix(".request").exists():
        time.sleep(0.2)
    try:
        rows = report()
    except Exception as exc:  # a report that failed says so rather than leaving the bench waiting
        rows = [f"breakdown failed: {exc!r}"]
    out.with_suffix(".tmp").write_text("\\n".join(rows))
    out.with_suffix(".tmp").rename(out)

threading.Thread(target=report_on_request, daemon=True).start()
from sentineld.cli import main
sys.argv = ["sentineld", *sys.argv[2:]]
raise SystemExit(main())
"""


#: Run in the replay subprocess under ``--checkpoints``: each component's snapshot timed and
#: sized where the pipeline takes it, each checkpoint's bytes counted where the store writes
#: them; written to argv[1] as JSON when the replay ends.
CHECKPOINT_REPLAY = """
import atexit, json, sys, time
from pathlib import Path
from sentineld import pipeline
from sentineld.store import sqlite

out = Path(sys.argv[1])
taken, written = {}, []

def size(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, dict):
        return sum(size(v) for v in value.values())
    if hasattr(value, "changed"):  # a state in parts: what this checkpoint writes of it
        return size(value.changed)
    if isinstance(value, (list, tuple)):
        return sum(size(v) for v in value)
    return 0

original_snapshot = pipeline.Pipeline._snapshot

def timed_snapshot(self, guards, into):
    for guard in guards:
        started = time.perf_counter()
        original_snapshot(self, [guard], into)
        seconds = time.perf_counter() - started
        saved = into.get("components", {}).get(guard.id, {})
        taken.setdefault(guard.id, []).append((size(saved), seconds))

original_save = sqlite.SQLiteStore.save_checkpoint

def counted_save(self, *args, **kwargs):
    kwargs.pop("alert_conditions", None)
    written.append(size(list(args)) + size(kwargs))
    return original_save(self, *args, **kwargs)

pipeline.Pipeline._snapshot = timed_snapshot
sqlite.SQLiteStore.save_checkpoint = counted_save
atexit.register(lambda: out.write_text(json.dumps({"taken": taken, "written": written})))
from sentineld.cli import main
sys.argv = ["sentineld", *sys.argv[2:]]
raise SystemExit(main())
"""


def print_checkpoints(path: Path) -> None:
    import json
    import statistics

    report = json.loads(path.read_text())
    written = report["written"]
    print(f"Checkpoints: {len(written)}; bytes handed to the store per checkpoint: median "
          f"{statistics.median(written) / 1e6:.2f} MB, max {max(written) / 1e6:.2f} MB, "
          f"last {written[-1] / 1e6:.2f} MB, total {sum(written) / 1e6:.0f} MB")
    print(f"  {'component':<24} {'size median':>12} {'size max':>10} {'ms median':>10} {'ms max':>8}")
    rows = sorted(report["taken"].items(), key=lambda kv: -max(s for s, _ in kv[1]))
    for component, taken in rows:
        sizes = [s for s, _ in taken]
        times = [t * 1000 for _, t in taken]
        print(f"  {component:<24} {statistics.median(sizes) / 1e6:>9.2f} MB {max(sizes) / 1e6:>7.2f} MB "
              f"{statistics.median(times):>10.1f} {max(times):>8.1f}")


def component_of(filename: str) -> str:
    """A readable owner for a source file: the plugin, the core module, or the library."""
    parts = Path(filename).parts
    for anchor in ("sentineld_plugins", "plugins"):
        if anchor in parts and len(parts) > parts.index(anchor) + 2:
            index = parts.index(anchor)
            return f"plugin {parts[index + 1]}/{parts[index + 2]}"
    if "sentineld" in parts:
        index = len(parts) - 1 - parts[::-1].index("sentineld")
        return "core " + "/".join(parts[index + 1:]).removesuffix(".py")
    if "site-packages" in parts:
        return "library " + parts[parts.index("site-packages") + 1].removesuffix(".py")
    return "python " + Path(filename).name


def print_traced(path: Path, top: int = 20) -> None:
    by_owner: dict[str, list[int]] = {}
    for line in path.read_text().splitlines():
        size, count, filename = line.split(" ", 2)
        owner = by_owner.setdefault(component_of(filename), [0, 0])
        owner[0] += int(size)
        owner[1] += int(count)
    total = sum(size for size, _ in by_owner.values())
    print(f"Python memory traced at the end of the stream: {total / 2**20:.1f} MB, by owner "
          "(where it was allocated):")
    for owner, (size, count) in sorted(by_owner.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {size / 2**20:8.1f} MB  {count:>10,} blocks  {owner}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=2_000_000)
    parser.add_argument("--authors", type=int, default=500_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--step-ms", type=float, default=20.0,
                        help="event time between mentions (20 ms: 2M span 11 hours; 150 ms: 3.5 days, "
                             "past the count triggers' warm-up)")
    parser.add_argument("--trace", action="store_true",
                        help="print which components hold the Python memory at the end (slower)")
    parser.add_argument("--breakdown", action="store_true",
                        help="print where the resident memory is at the end (allocators, SQLite, objects)")
    parser.add_argument("--checkpoints", action="store_true",
                        help="print each component's checkpointed state size and snapshot time")
    args = parser.parse_args()

    texts = tweet_texts()
    rng = random.Random(5)
    encode = msgspec.json.Encoder().encode
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    step = timedelta(milliseconds=args.step_ms)
    # Every author appears at least once: the first --authors mentions are one per author.
    order = list(range(args.authors))
    rng.shuffle(order)
    with tempfile.TemporaryDirectory(prefix="sentineld-memory-") as scratch:
        config = Path(scratch) / "sentineld.toml"
        config.write_text(CONFIG + shipped_components())
        log = Path(scratch) / "replay.log"
        traced = Path(scratch) / "traced.txt"
        checkpoints = Path(scratch) / "checkpoints.json"
        replay_args = ["replay", "-c", str(config), "-"]
        if args.trace:
            command = [sys.executable, "-c", TRACED_REPLAY, str(traced), *replay_args]
        elif args.breakdown:
            command = [sys.executable, "-c", BREAKDOWN_REPLAY, str(traced), *replay_args]
        elif args.checkpoints:
            command = [sys.executable, "-c", CHECKPOINT_REPLAY, str(checkpoints), *replay_args]
        else:
            command = [sys.executable, "-m", "sentineld", *replay_args]
        replay = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
        )
        assert replay.stdin is not None
        every = args.mentions // args.samples
        samples: list[tuple[int, float]] = []
        started = time.perf_counter()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        chunk: list[bytes] = []
        for index in range(args.mentions):
            moment += step
            author = order[index] if index < args.authors else rng.randrange(args.authors)
            chunk.append(encode({
                "id": f"mem:{index}", "source": "bluesky",
                "created_at": moment.isoformat().replace("+00:00", "Z"),
                "text": f"@sentineld {texts[index % len(texts)]}",
                "author": {"id": f"did:plc:{author}", "handle": f"user{author}.example",
                           "followers": int(rng.lognormvariate(5, 2)), "following": rng.randrange(2000),
                           "posts": rng.randrange(20000)},
                "metrics": {"likes": rng.randrange(20), "reshares": rng.randrange(5), "replies": 0},
            }) + b"\n")
            if len(chunk) == 2000:
                replay.stdin.write(b"".join(chunk))
                chunk = []
                if index + 1 == STARTUP_MENTIONS:
                    replay.stdin.flush()
                    time.sleep(STARTUP_PAUSE)  # it has read them and waits for more
                    print(f"  {index + 1:>9,} mentions written (start-up): RSS {rss_mb(replay.pid):6.1f} MB", flush=True)
            if (index + 1) % every == 0:
                samples.append((index + 1, rss_mb(replay.pid)))
                print(f"  {index + 1:>9,} mentions written, {time.perf_counter() - started:6.0f}s: "
                      f"RSS {samples[-1][1]:6.1f} MB", flush=True)
        replay.stdin.write(b"".join(chunk))
        replay.stdin.flush()
        if args.trace or args.breakdown:
            traced.with_suffix(".request").touch()
            while not traced.exists() and replay.poll() is None:
                time.sleep(0.5)
        replay.stdin.close()
        peak = 0.0
        while replay.poll() is None:  # it is still working through what the pipe holds
            try:
                peak = max(peak, rss_mb(replay.pid, "VmHWM"))
            except FileNotFoundError:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started - STARTUP_PAUSE
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        summary = log.read_text().strip().splitlines()[-1]
        if args.trace and traced.exists():
            print()
            print_traced(traced)
        if args.breakdown and traced.exists():
            print()
            print("Resident memory once the whole stream was written:")
            print(traced.read_text())
        if args.checkpoints and checkpoints.exists():
            print()
            print_checkpoints(checkpoints)
    second_half = [rss for count, rss in samples if count > args.mentions // 2]
    print()
    print(f"{summary}")
    print(f"{args.mentions:,} mentions from {args.authors:,} distinct authors in {elapsed:.0f}s "
          f"(replay CPU time {cpu:.0f}s: {args.mentions / cpu:,.0f} mentions/s per core)")
    print(f"RSS peak {peak:.0f} MB (target < 300 MB); over the second half of the stream RSS moved "
          f"{max(second_half) - min(second_half):+.1f} MB (min {min(second_half):.0f}, max {max(second_half):.0f})")


if __name__ == "__main__":
    main()
