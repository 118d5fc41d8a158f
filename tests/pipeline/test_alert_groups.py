"""The trigger stage stores the alert changes of the batches queued behind each other in one
transaction (`AlertWrites.end_item`): the rows must come out as one transaction per batch left
them, rowids included, and the pipeline must raise the same alerts whatever the grouping."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sentineld.alerting import AlertEvent
from sentineld.alertwrites import AlertWrites
from sentineld.store.sqlite import open_store
from sentineld.testing import EPOCH, make_alert


def _event(alert_id: str, minutes: int, severity: str = "high", resolved: bool = False) -> AlertEvent:
    alert = make_alert(id=alert_id, severity=severity, opened_at=EPOCH,
                       resolved_at=EPOCH + timedelta(minutes=minutes) if resolved else None,
                       summary=f"{alert_id} at {minutes}")
    return AlertEvent("resolved" if resolved else "opened", alert)


#: Three trigger-stage items: an alert opened in the first changes again in the next two, so
#: that one dict over all of them would upsert it after the others.
ITEMS = [
    [_event("a", 1), _event("b", 1)],
    [_event("a", 2, severity="critical"), _event("c", 2)],
    [_event("b", 3, resolved=True), _event("d", 3)],
]


async def _written(tmp_path: Path, *, grouped: bool) -> list[tuple[Any, ...]]:
    store = open_store(tmp_path)

    async def call(method: str, *args: Any) -> Any:
        return getattr(store, method)(*args)

    writes = AlertWrites(call)
    for item in ITEMS:
        for event in item:
            writes.add(event, [(f"hook-{event.alert.id}", event.key, b"{}")])
        if grouped:
            writes.end_item()
        else:
            await writes.flush()
    await writes.flush()
    rows = store.db.execute("SELECT rowid, id, severity, resolved_us, body FROM alerts ORDER BY rowid").fetchall()
    outbox = store.db.execute("SELECT seq, destination, key FROM outbox ORDER BY seq").fetchall()
    store.close()
    return [*rows, *outbox]


async def test_items_sharing_a_transaction_write_the_rows_of_one_transaction_each(tmp_path: Path) -> None:
    alone = await _written(tmp_path / "alone", grouped=False)
    shared = await _written(tmp_path / "shared", grouped=True)
    assert shared == alone
    assert [row[1] for row in alone[:4]] == ["a", "b", "c", "d"]


async def test_an_earlier_item_s_alert_is_completed_from_memory_before_the_flush(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    asked: list[tuple[str, Any]] = []

    async def call(method: str, *args: Any) -> Any:
        asked.append((method, args))
        return getattr(store, method)(*args)

    writes = AlertWrites(call)
    writes.add(_event("a", 1), [])
    writes.end_item()
    writes.add(_event("a", 2, severity="critical"), [])
    writes.end_item()
    found = await writes._stored({"a"})
    assert found["a"].severity == "critical" and not asked  # the newest form, not the store's
    store.close()


CONFIG = """
[sentineld]
batch_size = 16
tick = "1h"

[watch]
brand = ["acme", "@acme"]

[scorers.mood]
type = "sentiment"

[triggers.buzz]
type = "volume_spike"
window = "15m"

[triggers.anger]
type = "negativity_spike"
"""


async def _replayed(tmp_path: Path, monkeypatch: Any, group: int) -> tuple[list[Any], list[tuple[Any, ...]], int]:
    """Alert events, the alerts table (rowids included) and the number of alert transactions
    of a replay whose stages take at most `group` mentions of queued batches at a time."""
    from sentineld import pipeline as pipeline_module
    from sentineld.config import load_config
    from sentineld.replay import replay
    from sentineld.store.worker import StoreWorker
    from tests.streams import burst_stream, write_lines

    tmp_path.mkdir()
    monkeypatch.setattr(pipeline_module, "GROUP_MENTIONS", group)
    transactions = 0
    call = StoreWorker.call

    async def counted(self: StoreWorker, method: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal transactions
        transactions += method == "record_alerts"
        return await call(self, method, *args, **kwargs)

    monkeypatch.setattr(StoreWorker, "call", counted)
    stream = write_lines(tmp_path / "stream.jsonl", burst_stream(days=4, burst=120))
    events: list[AlertEvent] = []
    await replay(load_config(text=CONFIG), [str(stream)], on_alert=events.append, state_dir=tmp_path / "state")
    store = open_store(tmp_path / "state")
    rows = store.db.execute("SELECT rowid, id, severity, resolved_us, body FROM alerts ORDER BY rowid").fetchall()
    store.close()
    return [(e.event, e.alert.id, e.alert.severity) for e in events], rows, transactions


async def test_batches_observed_together_raise_what_batches_one_at_a_time_raise(
    tmp_path: Path, monkeypatch: Any
) -> None:
    alone = await _replayed(tmp_path / "alone", monkeypatch, group=1)
    together = await _replayed(tmp_path / "together", monkeypatch, group=4096)
    assert together[:2] == alone[:2]
    assert len(alone[0]) >= 4  # the burst opened and resolved alerts
    assert together[2] < alone[2]  # and the grouped run shared transactions
