"""Memory: the resident set size of `sentineld replay` (the shipped config's scorers and
triggers, the influencer registry, the SQLite store) as 2,000,000 mentions from 500,000 distinct
authors stream through it, sampled as it goes, to show it stays flat.

    .venv/bin/python bench/memory.py [--mentions 2000000] [--authors 500000] [--samples 10]

The mentions are generated on the fly and piped to `sentineld replay -` (no file on disk); the
RSS (VmRSS of /proc/PID/status) is read every time another 1/--samples of the stream is written,
and at the end (VmHWM: the peak).
"""

from __future__ import annotations

import argparse
import random
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


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=2_000_000)
    parser.add_argument("--authors", type=int, default=500_000)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()

    texts = tweet_texts()
    rng = random.Random(5)
    encode = msgspec.json.Encoder().encode
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    step = timedelta(milliseconds=20)
    # Every author appears at least once: the first --authors mentions are one per author.
    order = list(range(args.authors))
    rng.shuffle(order)
    with tempfile.TemporaryDirectory(prefix="sentineld-memory-") as scratch:
        config = Path(scratch) / "sentineld.toml"
        config.write_text(CONFIG + shipped_components())
        log = Path(scratch) / "replay.log"
        replay = subprocess.Popen(
            [sys.executable, "-m", "sentineld", "replay", "-c", str(config), "-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
        )
        assert replay.stdin is not None
        every = args.mentions // args.samples
        samples: list[tuple[int, float]] = []
        started = time.perf_counter()
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
            if (index + 1) % every == 0:
                samples.append((index + 1, rss_mb(replay.pid)))
                print(f"  {index + 1:>9,} mentions written: RSS {samples[-1][1]:6.1f} MB", flush=True)
        replay.stdin.write(b"".join(chunk))
        replay.stdin.close()
        peak = 0.0
        while replay.poll() is None:  # it is still working through what the pipe holds
            try:
                peak = max(peak, rss_mb(replay.pid, "VmHWM"))
            except FileNotFoundError:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        summary = log.read_text().strip().splitlines()[-1]
    second_half = [rss for count, rss in samples if count > args.mentions // 2]
    print()
    print(f"{summary}")
    print(f"{args.mentions:,} mentions from {args.authors:,} distinct authors in {elapsed:.0f}s")
    print(f"RSS peak {peak:.0f} MB (target < 300 MB); over the second half of the stream RSS moved "
          f"{max(second_half) - min(second_half):+.1f} MB (min {min(second_half):.0f}, max {max(second_half):.0f})")


if __name__ == "__main__":
    main()
