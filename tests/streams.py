"""Constructed mention streams shared by tests (plain functions, deterministic)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 11, 20, tzinfo=UTC)


def _line(index: int, moment: datetime, text: str, author: str, source: str = "bluesky") -> str:
    return json.dumps({
        "id": f"{source}:{index}", "source": source,
        "created_at": moment.isoformat().replace("+00:00", "Z"),
        "text": text, "author": {"id": author, "handle": f"{author}.example"},
    })


def burst_stream(days: float = 3, burst: int = 60, seed: int = 7, after: int = 150) -> list[str]:
    """Quiet background chatter about @acme (one mention every ~10 min), then a burst of
    `burst` angry mentions within ten minutes, then quiet again."""
    rng = random.Random(seed)
    lines, moment, index = [], START, 0
    while moment < START + timedelta(days=days):
        moment += timedelta(seconds=rng.expovariate(1 / 600))
        lines.append(_line(index, moment, "flying with @acme today", f"u{index % 40}"))
        index += 1
    for k in range(burst):
        lines.append(_line(index, moment + timedelta(seconds=10 * k),
                           "@acme lost my bag AGAIN, worst airline ever", f"angry{k}"))
        index += 1
    moment += timedelta(minutes=10)
    for _ in range(after):
        moment += timedelta(seconds=rng.expovariate(1 / 600))
        lines.append(_line(index, moment, "flying with @acme today", f"u{index % 40}"))
        index += 1
    return lines


def long_stream(count: int, *, bursts: int = 4, interval: float = 20.0, seed: int = 11) -> list[str]:
    """`count` mentions: chatter about @acme every `interval` seconds on average, with `bursts`
    evenly spaced bursts of 150 angry mentions within ten minutes."""
    rng = random.Random(seed)
    lines: list[str] = []
    moment = START
    burst_at = {int(count * (k + 1) / (bursts + 1)) for k in range(bursts)}
    while len(lines) < count:
        index = len(lines)
        if index in burst_at:
            for k in range(min(150, count - index)):
                lines.append(_line(len(lines), moment + timedelta(seconds=4 * k),
                                   "@acme lost my bag AGAIN, worst airline ever", f"angry{index}-{k}"))
            moment += timedelta(minutes=10)
            continue
        moment += timedelta(seconds=rng.expovariate(1 / interval))
        lines.append(_line(index, moment, "flying with @acme today", f"u{index % 400}"))
    return lines


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


ACME_CONFIG = """
[sentineld]
state_dir = "state"
checkpoint_interval = "200ms"
tick = "1h"

[watch]
brand = ["acme", "@acme"]

[scorers.mood]
type = "sentiment"

[triggers.buzz]
type = "volume_spike"
window = "15m"
"""


def log_records(stderr: str) -> list[dict]:
    """The JSON log records among a subprocess's stderr lines (logs are JSON when not a tty)."""
    records = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records
