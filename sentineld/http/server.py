"""The HTTP server's life: set up, serve, reconfigure on reload, shut down in order.

The server outlives pipelines: on SIGHUP the daemon swaps its pipeline and calls `attach` with
the new one, while connected dashboards stay connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from sentineld.components import Source
from sentineld.http.auth import TokenAuth, load_or_create_token
from sentineld.http.live import EventHub, LiveSeries
from sentineld.http.metrics import Metrics
from sentineld.http.options import HttpOptions
from sentineld.http.reader import StoreReader
from sentineld.logs import get_logger
from sentineld.model import alert_to_dict
from sentineld.store.dashboard import outbox_counts, series_rows

if TYPE_CHECKING:
    from sentineld.alerting import AlertEvent
    from sentineld.config import Config
    from sentineld.pipeline import Pipeline

__all__ = ["DaemonView", "HttpServer"]

log = get_logger("sentineld.http")

#: How often connected dashboards get the changed chart cells and the live counters.
PUBLISH_EVERY = 1.0


class DaemonView(Protocol):
    """What the HTTP side reads from the daemon."""

    pipeline: Pipeline | None
    config: Config
    state: str
    started_at: float


class HttpServer:
    def __init__(self, daemon: DaemonView, options: HttpOptions, state_dir: Path) -> None:
        self.daemon = daemon
        self.options = options
        self.state_dir = state_dir
        self.auth = TokenAuth(self._token(options))
        self.hub = EventHub()
        self.live = LiveSeries(options.chart_bucket, options.chart_window)
        self.metrics = Metrics(lambda: self.daemon.pipeline)
        self.reader: StoreReader | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._last_rate = (time.monotonic(), 0)
        self.rate = 0.0

    def _token(self, options: HttpOptions) -> str:
        if options.token is not None:
            return options.token.reveal()
        return load_or_create_token(self.state_dir)

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Open the read connection, back-fill the charts, bind and serve. Call before the
        pipeline starts, so that what it re-feeds is counted once."""
        from sentineld.http.api import build_app

        self.reader = await asyncio.to_thread(StoreReader, self.state_dir)
        checkpoint = await self.reader.call("load_checkpoint", "pipeline")
        upto = checkpoint[0] if checkpoint else 0
        rows = await self.reader.run(
            series_rows, upto_seq=upto, bucket=self.live.bucket, window=self.live.window
        )
        self.live.backfill(rows, upto)
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        self._site = await self._bind(self.options)
        self._publisher = asyncio.get_running_loop().create_task(self._publish(), name="http:publish")

    async def _bind(self, options: HttpOptions) -> web.TCPSite:
        assert self._runner is not None
        site = web.TCPSite(self._runner, options.listen, options.port)
        await site.start()
        server = site._server  # noqa: SLF001 - the only way to learn the port picked for port 0
        sockets = getattr(server, "sockets", None) or []
        host, port = (sockets[0].getsockname()[:2]) if sockets else (options.listen, options.port)
        shown = f"[{host}]" if ":" in str(host) else host
        self.url = f"http://{shown}:{port}/"
        log.info("http listening", url=self.url, dashboard=self.url)
        return site

    def attach(self, pipeline: Pipeline) -> None:
        """Watch a (new) pipeline: chart cells and stage latencies."""
        pipeline.on_scored = self.live.add
        pipeline.on_stage = self.metrics.observe_stage

    def on_alert(self, event: AlertEvent) -> None:
        self.metrics.alert_event(event)
        self.hub.publish("alert", {"event": event.event, "alert": alert_to_dict(event.alert)})

    def announce(self, event: str, data: Any) -> None:
        self.hub.publish(event, data)

    async def reconfigure(self, options: HttpOptions) -> None:
        """Apply a reloaded ``[http]`` section: a new token at once; a new address by binding it
        before letting the old one go (if it cannot be bound, the old one stays)."""
        self.auth = TokenAuth(self._token(options))
        if (options.listen, options.port) != (self.options.listen, self.options.port):
            old = self._site
            try:
                self._site = await self._bind(options)
            except OSError as exc:
                log.error("cannot bind the new HTTP address; keeping the old one",
                          listen=options.listen, port=options.port, error=str(exc))
                options = HttpOptions(**{**_fields(options), "listen": self.options.listen,
                                         "port": self.options.port})
            else:
                if old is not None:
                    await old.stop()
        if (options.chart_bucket, options.chart_window) != (self.live.bucket, self.live.window):
            log.warning("chart_bucket and chart_window apply after a restart")
        self.options = options

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
        self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.reader is not None:
            await asyncio.to_thread(self.reader.close)

    # ------------------------------------------------------------------ live state

    def status(self) -> dict[str, Any]:
        """Live counters: what ``/api/status`` returns and the dashboard's header shows."""
        from sentineld import __version__

        daemon = self.daemon
        pipeline = daemon.pipeline
        data: dict[str, Any] = {
            "version": __version__,
            "state": daemon.state,
            "uptime": round(time.monotonic() - daemon.started_at, 1),
            "rate": round(self.rate, 2),
            "clients": self.hub.clients,
        }
        if pipeline is None:
            return data
        stats = pipeline.stats
        data.update(
            received=sum(stats.received.values()),
            stored=stats.stored,
            duplicates=stats.duplicates,
            scored=stats.scored,
            alerts_open=len(pipeline.alerts.open),
            alerts_opened=stats.alerts_opened,
            alerts_resolved=stats.alerts_resolved,
            queues=pipeline.queue_depths(),
            sources=source_health(pipeline),
        )
        return data

    def _update_rate(self) -> None:
        pipeline = self.daemon.pipeline
        stored = pipeline.stats.stored if pipeline else 0
        now = time.monotonic()
        then, before = self._last_rate
        if now > then and stored >= before:
            self.rate = (stored - before) / (now - then)
        self._last_rate = (now, stored)

    async def _publish(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_EVERY)
            self._update_rate()
            changes = self.live.take_changes()
            if changes:
                self.hub.publish("series", {"rows": changes, "latest": self.live.latest})
            self.hub.publish("status", self.status())

    async def refresh_outbox(self) -> None:
        """Read the outbox counts for the next ``/metrics`` scrape."""
        assert self.reader is not None
        self.metrics.extra["outbox"] = await self.reader.run(outbox_counts)
        self.metrics.extra["clients"] = self.hub.clients


def source_health(pipeline: Pipeline) -> list[dict[str, Any]]:
    rows = []
    for guard in pipeline.sources:
        source = guard.component
        if not isinstance(source, Source):
            continue
        rows.append(
            {
                "id": guard.id,
                "type": guard.spec.type_name,
                "state": source.health.state.value,
                "since": source.health.since or None,
                "error": source.health.last_error,
                "malformed": source.malformed,
            }
        )
    return rows


def _fields(options: HttpOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in options.__struct_fields__}
