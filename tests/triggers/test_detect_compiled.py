"""The compiled count-trigger keys (mypyc, decision 0230) decide exactly as their Python source.

`sentineld.detect`'s ``stats``, ``baseline`` and ``keys`` are compiled from the same ``.py``
files. This holds the compiled build to the source run as Python on a real stream: the first
three weeks of NAB's Twitter volume for Facebook (each 5-minute count as that many mentions,
as bench/nab.py writes them), with a fifth of them negative, a quarter about a rival, spread
over 40 channels, and a burst added in the third week, through volume_spike (tumbling and
sliding windows), negativity_spike (count and share) and competitor_surge (count and share of
voice). Every signal (subject, channel, time, summary, evidence, mention ids; floats as
``float.hex``) and the final checkpoint must be identical, and every checkpoint taken on the
way (each encodes only the keys that changed since the one before) must hold every key's
current row. The Python run is a child process
with ``SENTINELD_NO_EXTENSIONS=1`` (a module cannot be imported twice in one process). The
other trigger tests run against whichever build is installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentineld.detect import baseline, keys, stats
from tests.compiled import require_compiled_build as require_compiled, run_as_built

#: Runs in a child process with the data folder as its argument; prints the signals as JSON.
RUN_TRIGGERS = r"""
import asyncio, csv, hashlib, json, sys, zlib
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from sentineld.alerting import TriggerAlertSink
from sentineld.compiled import is_compiled
from sentineld.components import ComponentContext
from sentineld.detect import keys
from sentineld.detect.records import encode_arrays
from sentineld.model import Mention
from sentineld.options import convert_options
from sentineld.watch import WatchConfig
from sentineld_plugins.triggers.competitor_surge import CompetitorSurge
from sentineld_plugins.triggers.negativity_spike import NegativitySpike
from sentineld_plugins.triggers.volume_spike import VolumeSpike

DAYS, ROWS_PER_DAY, BURST_ROW = 21, 288, 17 * 288 + 130
WATCH = WatchConfig(brand=["acme"], competitors={"rivaljet": ["rivaljet"]})
OPTIONS = {"window": "5m", "warmup": "2d"}
TRIGGERS = {
    "volume": (VolumeSpike, {}),
    "volume-sliding": (VolumeSpike, {"slices": 5}),
    "negativity": (NegativitySpike, {}),
    "rivals": (CompetitorSurge, {}),
}


def mentions(data):
    with (data / "nab" / "realTweets" / "Twitter_volume_FB.csv").open() as handle:
        rows = list(csv.DictReader(handle))[: DAYS * ROWS_PER_DAY]
    out = []
    for row, spec in enumerate(rows):
        start = datetime.strptime(spec["timestamp"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=UTC).timestamp()
        count = int(spec["value"]) + (400 if BURST_ROW <= row < BURST_ROW + 3 else 0)
        for k in range(count):
            ident = f"fb:{row}:{k}"
            spread = zlib.crc32(ident.encode())
            mention = Mention(id=ident, source=f"site{(spread >> 8) % 40}", text="acme",
                              created_at=datetime.fromtimestamp(start + (k + 0.5) * 300 / count, UTC))
            mention.matches = ["competitor:rivaljet"] if spread % 4 == 0 else ["brand"]
            if spread % 5 == 1 or (BURST_ROW <= row < BURST_ROW + 3 and spread % 2):
                mention.labels = {"sentiment": "negative"}
            out.append(mention)
    return out


def hexed(value):
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, dict):
        return {key: hexed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [hexed(item) for item in value]
    return value


async def run(cls, options, stream):
    context = ComponentContext(cls.type_name, "trigger", WATCH, None)
    trigger = cls(convert_options({**OPTIONS, **options}, cls.Options, cls.type_name), context)
    sink = TriggerAlertSink("t", cls.type_name)
    signals, chunk, next_tick = [], [], (stream[0].timestamp // 5 + 1) * 5
    encoder, checkpoints, stale = msgspec.msgpack.Encoder(enc_hook=encode_arrays), 0, 0
    for index, mention in enumerate(stream):
        if index % 5000 == 0:
            # A checkpoint encodes only the keys touched since the last one: it must still be
            # every key's row as it is now.
            whole = encoder.encode([series.row() for series in trigger.series.values()])
            checkpoints += 1
            stale += trigger.snapshot()["series"] != whole
        if mention.timestamp >= next_tick:
            if chunk:
                await trigger.observe(chunk, sink)
                chunk = []
            while mention.timestamp >= next_tick:
                await trigger.tick(datetime.fromtimestamp(next_tick, UTC), sink)
                next_tick += 5
        chunk.append(mention)
        if len(chunk) >= 256:
            await trigger.observe(chunk, sink)
            chunk = []
        signals += sink.take()
    await trigger.observe(chunk, sink)
    signals += sink.take()
    snapshot = msgspec.msgpack.encode(trigger.snapshot())
    return {
        "signals": [[s.fire, s.subject, s.channel, s.at.isoformat(), s.summary, s.severity,
                     hexed(s.evidence), list(s.mentions)] for s in signals],
        "checkpoint": hashlib.sha256(snapshot).hexdigest(),
        "keys": len(trigger.series),
        "checkpoints": checkpoints,
        "stale": stale,
    }


stream = mentions(Path(sys.argv[1]))
out = {"compiled": is_compiled(keys), "mentions": len(stream)}
for name, (cls, options) in TRIGGERS.items():
    out[name] = asyncio.run(run(cls, options, stream))
json.dump(out, sys.stdout)
"""


def run_triggers(data_dir: Path, *, pure: bool) -> dict[str, object]:
    result: dict[str, object] = run_as_built(RUN_TRIGGERS, str(data_dir), pure=pure)
    return result


def require_compiled_build() -> None:
    require_compiled("sentineld.detect", (stats, baseline, keys))


@pytest.mark.slow
def test_compiled_keys_alert_on_a_real_stream_as_their_source(data_dir: Path) -> None:
    require_compiled_build()
    compiled, source = run_triggers(data_dir, pure=False), run_triggers(data_dir, pure=True)
    assert compiled["compiled"] is True
    assert source["compiled"] is False
    assert compiled["mentions"] == source["mentions"] > 100_000
    for name in ("volume", "volume-sliding", "negativity", "rivals"):
        got, expected = compiled[name], source[name]
        assert isinstance(got, dict) and isinstance(expected, dict)
        # The stream must exercise what is compared: alerts open and resolve on every trigger.
        fired = [s for s in expected["signals"] if s[0]]
        assert fired and len(fired) < len(expected["signals"]), name
        assert got["signals"] == expected["signals"], name
        assert got["keys"] == expected["keys"] > 40, name
        assert got["checkpoint"] == expected["checkpoint"], name
        assert got["checkpoints"] == expected["checkpoints"] > 20, name
        assert got["stale"] == expected["stale"] == 0, name
