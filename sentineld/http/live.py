"""What the dashboard watches live: a bucketed mention series and a server-sent-events hub.

`LiveSeries` counts scored mentions per (event-time bucket, subject, channel) as they leave the
scoring stage, so the charts move with the stream instead of waiting for the store. It is
back-filled from the store on start up to the last checkpoint; the pipeline re-feeds what came
after it, and the sequence number keeps anything from being counted twice.

`EventHub` fans events out to every connected dashboard over server-sent events. A client that
cannot keep up is dropped (its browser reconnects and reloads the state), so a slow client never
holds memory or the pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec

from sentineld.model import Mention

__all__ = ["EventHub", "LiveSeries", "UNMATCHED"]

UNMATCHED: Final = "unmatched"

SeriesKey = tuple[float, str, str]  # (bucket start, subject, channel)


class LiveSeries:
    """Mentions, sentiment sum, scored count and negatives per (bucket, subject, channel),
    over a sliding `window` of event time that ends at the newest mention seen."""

    def __init__(self, bucket: float, window: float) -> None:
        self.bucket = float(bucket)
        self.window = float(window)
        self.cells: dict[SeriesKey, list[float]] = {}
        self.high_water = 0
        self.latest = 0.0
        self._changed: set[SeriesKey] = set()

    def backfill(self, rows: Iterable[Sequence[Any]], upto_seq: int) -> None:
        """Load `sentineld.store.dashboard.series_rows` output; later mentions count live."""
        for start, subject, channel, count, total, scored, negative in rows:
            key = (float(start), subject, channel)
            self.cells[key] = [count, total, scored, negative]
            self.latest = max(self.latest, float(start))
        self.high_water = max(self.high_water, upto_seq)

    def add(self, batch: Sequence[tuple[int, Mention]]) -> None:
        """Count a scored batch, in stream order; sequence numbers already counted are skipped."""
        bucket = self.bucket
        for seq, mention in batch:
            if seq <= self.high_water:
                continue
            self.high_water = seq
            moment = mention.timestamp
            start = moment - moment % bucket
            self.latest = max(self.latest, moment)
            sentiment = mention.scores.get("sentiment")
            negative = mention.labels.get("sentiment") == "negative"
            for subject in mention.matches or (UNMATCHED,):
                key = (start, subject, mention.source)
                cell = self.cells.get(key)
                if cell is None:
                    cell = self.cells[key] = [0, 0.0, 0, 0]
                cell[0] += 1
                if sentiment is not None:
                    cell[1] += sentiment
                    cell[2] += 1
                if negative:
                    cell[3] += 1
                self._changed.add(key)
        self._prune()

    def _prune(self) -> None:
        horizon = self.latest - self.window
        if not self.cells or min(self.cells)[0] >= horizon:
            return
        for key in [k for k in self.cells if k[0] < horizon]:
            del self.cells[key]
            self._changed.discard(key)

    @staticmethod
    def _row(key: SeriesKey, cell: list[float]) -> list[Any]:
        return [key[0], key[1], key[2], cell[0], round(cell[1], 4), cell[2], cell[3]]

    def snapshot(self) -> dict[str, Any]:
        """Every cell: ``rows`` of [bucket start, subject, channel, mentions, sentiment sum,
        scored, negative], with the bucket width and the window."""
        rows = [self._row(k, c) for k, c in sorted(self.cells.items())]
        return {"bucket": self.bucket, "window": self.window, "latest": self.latest, "rows": rows}

    def take_changes(self) -> list[list[Any]]:
        """The cells changed since the last call (whole values, not increments)."""
        rows = [self._row(k, self.cells[k]) for k in sorted(self._changed) if k in self.cells]
        self._changed.clear()
        return rows


class EventHub:
    """Publishes named events to every subscriber; each has a bounded queue."""

    def __init__(self, max_queued: int = 512) -> None:
        self.max_queued = max_queued
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._next_id = 0

    @property
    def clients(self) -> int:
        return len(self._clients)

    def publish(self, event: str, data: Any) -> None:
        """Frame the event once and queue it for everyone; a client whose queue is full is
        dropped (its EventSource reconnects and starts from a fresh state)."""
        if not self._clients:
            return
        self._next_id += 1
        frame = _frame(event, data, self._next_id)
        for queue in list(self._clients):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._drop(queue)

    def _drop(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._clients.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self.max_queued)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._clients.discard(queue)

    def close(self) -> None:
        """Tell every stream to end (at shutdown)."""
        for queue in list(self._clients):
            self._drop(queue)


def _frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One server-sent event. JSON never holds a raw newline, so one ``data:`` line suffices."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\n".encode() + b"data: " + msgspec.json.encode(data) + b"\n\n"


async def stream_events(request: Any, hub: EventHub, hello: dict[str, Any], keepalive: float = 15.0) -> Any:
    """The ``text/event-stream`` response: a ``hello`` with the current state, then every event
    published, with a comment line as keep-alive so proxies do not time the stream out."""
    from aiohttp import web

    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = hub.subscribe()
    try:
        await response.write(b"retry: 2000\n" + _frame("hello", hello))
        while True:
            try:
                frame = await asyncio.wait_for(queue.get(), timeout=keepalive)
            except TimeoutError:
                frame = b": keep-alive\n\n"
            if frame is None:
                break
            await response.write(frame)
    except ConnectionResetError:
        pass
    finally:
        hub.unsubscribe(queue)
        with contextlib.suppress(Exception):
            await response.write_eof()
    return response
