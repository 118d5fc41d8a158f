"""`sentineld run`: the long-running daemon.

One `Daemon` owns the store, the pipeline, the HTTP side and the conversation with systemd.
Signals become requests handled one at a time by the main loop, so a SIGTERM that arrives
during a reload waits for the reload to finish, and two SIGHUPs in a row reload once.

SIGHUP reloads the configuration file (see `Daemon.reload`): a configuration that does not
validate, or whose components cannot be built, is rejected with the reason logged and the
running one stays (as Alertmanager does). A good one replaces the pipeline without losing a
queued mention: the old pipeline stops its sources and drains every queue into the store and a
final checkpoint; the new one, on the same store, restores that checkpoint (components keep their
state when their id and type are unchanged) and starts the sources again from their cursors.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Literal

from sentineld.components import HealthState, Source
from sentineld.config import Config, ConfigError, load_config
from sentineld.logs import configure_logging, get_logger
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.sqlite import lock_state_dir
from sentineld.store.worker import StoreWorker
from sentineld.systemd import ProgressProbe, SystemdNotifier, run_heartbeat, watchdog_interval

if TYPE_CHECKING:
    from sentineld.alerting import AlertEvent
    from sentineld.http.options import HttpOptions
    from sentineld.http.server import HttpServer

__all__ = ["Daemon", "run_daemon"]

log = get_logger("sentineld")

Request = Literal["reload", "stop"]


async def run_daemon(config: Config, *, stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set), then drain, checkpoint and return 0."""
    return await Daemon(config).run(stop=stop)


class Daemon:
    """The running daemon; `pipeline`, `config` and `state` are what the HTTP side reads."""

    def __init__(self, config: Config, *, notifier: SystemdNotifier | None = None) -> None:
        self.config = config
        self.notifier = notifier or SystemdNotifier()
        self.pipeline: Pipeline | None = None
        self.http: HttpServer | None = None
        self.state: Literal["starting", "running", "reloading", "stopping"] = "starting"
        self.started_at = time.monotonic()
        self.probe = ProgressProbe()
        self._requests: asyncio.Queue[Request] = asyncio.Queue()
        self._reload_pending = False
        self._worker: StoreWorker | None = None
        self._stack: AsyncExitStack | None = None

    # ------------------------------------------------------------------ requests

    def request(self, what: Request) -> None:
        """Ask the main loop to reload or stop (what the signal handlers do)."""
        if what == "stop" and self.state != "stopping":
            self.notifier.stopping("stopping: draining queues")
        if what == "reload":
            if self._reload_pending:
                return
            self._reload_pending = True
        self._requests.put_nowait(what)

    # ------------------------------------------------------------------ main loop

    async def run(self, *, stop: asyncio.Event | None = None) -> int:
        loop = asyncio.get_running_loop()
        async with AsyncExitStack() as stack:
            self._stack = stack
            stack.callback(os.close, lock_state_dir(self.config.state_dir))
            self._worker = StoreWorker(open_store(self.config.state_dir))
            stack.callback(self._worker.close)
            handlers = {signal.SIGTERM: "stop", signal.SIGINT: "stop", signal.SIGHUP: "reload"}
            for signum, what in handlers.items():
                loop.add_signal_handler(signum, self.request, what)
                stack.callback(loop.remove_signal_handler, signum)
            if stop is not None:
                watcher = loop.create_task(self._stop_when(stop))
                stack.callback(watcher.cancel)
            try:
                await self._start_http(self.config)
            except OSError as exc:
                http = self.config.section("http")
                log.error("cannot listen for HTTP; set [http] port (or enabled = false)",
                          listen=http.listen, port=http.port, error=str(exc))
                return 1
            pipeline = self._build_pipeline(self.config)
            await self._start_pipeline(pipeline)
            self.state = "running"
            log.info(
                "sentineld running",
                config=str(self.config.path or "<embedded>"),
                state_dir=str(self.config.state_dir),
                sources=[g.id for g in pipeline.sources],
                triggers=[g.id for g in pipeline.triggers],
                notifiers=[g.id for g in pipeline.notifiers],
            )
            self.notifier.ready(self.status_text())
            if self.notifier.enabled:
                heartbeat = loop.create_task(
                    run_heartbeat(self.notifier, healthy=self.healthy, status=self.status_text,
                                  watchdog=watchdog_interval()),
                    name="systemd:heartbeat",
                )
                stack.callback(heartbeat.cancel)
            while (await self._requests.get()) != "stop":
                self._reload_pending = False
                await self.reload()
            self.state = "stopping"
            log.info("stopping: draining queues")
            await self.pipeline.stop()  # type: ignore[union-attr]
            stats = self.pipeline.stats  # type: ignore[union-attr]
            log.info("stopped", stored=stats.stored, alerts_opened=stats.alerts_opened,
                     checkpoints=stats.checkpoints)
        self.notifier.close()
        return 0

    async def _stop_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.request("stop")

    def _build_pipeline(self, config: Config) -> Pipeline:
        """Construct (but not start) a pipeline; raises if a component cannot be built."""
        assert self._worker is not None
        return Pipeline(config, self._worker, live=True, notify=True, on_alert=self._on_alert)

    async def _start_pipeline(self, pipeline: Pipeline) -> None:
        if self.http is not None:
            self.http.attach(pipeline)
        self.pipeline = pipeline
        await pipeline.start()

    def _on_alert(self, event: AlertEvent) -> None:
        if self.http is not None:
            self.http.on_alert(event)

    async def _start_http(self, config: Config) -> None:
        options: HttpOptions = config.section("http")
        if not options.enabled or self.http is not None:
            return
        from sentineld.http.server import HttpServer

        server = HttpServer(self, options, config.state_dir)
        await server.start()
        self.http = server
        assert self._stack is not None
        self._stack.push_async_callback(self._stop_http)

    async def _stop_http(self) -> None:
        if self.http is not None:
            server, self.http = self.http, None
            await server.stop()

    # ------------------------------------------------------------------ reload

    async def reload(self) -> bool:
        """Re-read the configuration file and swap the pipeline; False if it was rejected."""
        self.notifier.reloading("reloading the configuration")
        log.info("reloading the configuration", config=str(self.config.path or "<embedded>"))
        try:
            config = await asyncio.to_thread(load_config, self.config.path)
        except ConfigError as exc:
            return self._reject(str(exc))
        if config.state_dir != self.config.state_dir:
            return self._reject(
                f"state_dir changed ({self.config.state_dir} → {config.state_dir}); "
                "that takes a restart"
            )
        try:
            pipeline = self._build_pipeline(config)
        except Exception as exc:  # noqa: BLE001 - any plugin may raise while constructing
            return self._reject(f"a component cannot be built: {type(exc).__name__}: {exc}")

        self.state = "reloading"
        old = self.pipeline
        assert old is not None
        await old.stop()
        _carry_over(old, pipeline)
        result = "ok"
        try:
            await self._apply_http(config)
            await self._start_pipeline(pipeline)
        except Exception as exc:  # noqa: BLE001 - fall back to the configuration that worked
            log.error("the new configuration failed to start; going back to the old one",
                      error=repr(exc), exc_info=exc)
            result = "failed"
            await self._restart_with(self.config, failed=pipeline)
        else:
            self.config = config
            configure_logging(config.daemon.log_level, config.daemon.log_format)
        self.state = "running"
        self._count_reload(result)
        if self.http is not None:
            self.http.announce("reload", {"ok": result == "ok"})
        log.info("configuration reloaded" if result == "ok" else "reload failed; old configuration back",
                 sources=[g.id for g in self.pipeline.sources])  # type: ignore[union-attr]
        self.notifier.ready(self.status_text())
        return result == "ok"

    async def _restart_with(self, config: Config, *, failed: Pipeline) -> None:
        await failed.stop()
        pipeline = self._build_pipeline(config)
        _carry_over(failed, pipeline)
        await self._start_pipeline(pipeline)

    async def _apply_http(self, config: Config) -> None:
        options: HttpOptions = config.section("http")
        if self.http is not None and not options.enabled:
            await self._stop_http()
        elif self.http is None and options.enabled:
            await self._start_http(config)
        elif self.http is not None:
            await self.http.reconfigure(options)

    def _reject(self, reason: str) -> bool:
        log.error("reload rejected; the running configuration stays", reason=reason)
        self._count_reload("rejected")
        if self.http is not None:
            self.http.announce("reload", {"ok": False, "reason": reason})
        self.notifier.ready(f"reload rejected: {reason.splitlines()[0]}")
        return False

    def _count_reload(self, result: str) -> None:
        if self.http is not None:
            self.http.metrics.reloads.labels(result).inc()

    # ------------------------------------------------------------------ systemd

    def healthy(self) -> bool:
        """For the watchdog: a reload is bounded by stop_timeout, so it counts as healthy."""
        if self.state != "running" or self.pipeline is None:
            return True
        return self.probe.healthy(self.pipeline)

    def status_text(self) -> str:
        pipeline = self.pipeline
        if pipeline is None:
            return self.state
        sources = [g.component for g in pipeline.sources if isinstance(g.component, Source)]
        ok = sum(1 for s in sources if s.health.state == HealthState.OK)
        queued = sum(pipeline.queue_depths().values())
        return (
            f"{self.state}: {pipeline.stats.stored} mentions stored, "
            f"{len(pipeline.alerts.open)} alerts open, {ok}/{len(sources)} sources ok, "
            f"{queued} batches queued"
        )


def _carry_over(old: Pipeline, new: Pipeline) -> None:
    """Keep counters across a reload, so that metrics only ever go up."""
    new.stats = old.stats
    previous: dict[tuple[str, str, str], Any] = {
        (g.spec.kind, g.id, g.spec.type_name): g.stats for g in old.all_guards
    }
    for guard in new.all_guards:
        stats = previous.get((guard.spec.kind, guard.id, guard.spec.type_name))
        if stats is not None:
            guard.stats = stats
    workers = {w.destination: w for w in old.workers}
    for worker in new.workers:
        before = workers.get(worker.destination)
        if before is not None:
            worker.delivered, worker.dead = before.delivered, before.dead
