"""Isolation of plugin code: every call into a component goes through a `Guard`.

A call that raises is logged with the component id (and the mention ids it was working on),
counted, and the stream goes on. A call that hangs is cut off after the component's `timeout`.
A component that keeps failing is taken out of the stream for a backoff period and then rebuilt
from its config (Erlang's one-for-one restart), with the backoff doubling each time.

Methods may be ``async def`` (run on the loop) or plain ``def`` (run in a worker thread, so that
blocking I/O does not freeze the daemon and a hang can be timed out).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sentineld.components import Component
from sentineld.config import ComponentSpec, Config
from sentineld.logs import get_logger
from sentineld.model import Mention

__all__ = ["ComponentStats", "Guard"]

log = get_logger("sentineld.supervisor")

#: Consecutive failures after which a component is benched and rebuilt.
FAILURE_LIMIT = 5
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0

_plugin_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sentineld-plugin")


@dataclass(slots=True)
class ComponentStats:
    """Counters kept per component instance (exported as metrics, shown by `status`)."""

    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    restarts: int = 0
    skipped: int = 0
    last_error: str | None = None


class _Resumed:
    """Awaits the rest of a coroutine whose first step has run and yielded `waiting_on` (what
    ``await coroutine`` would have done had it been awaited from the start)."""

    __slots__ = ("_coroutine", "_waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, waiting_on = self._coroutine, self._waiting_on
        del self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - a cancellation goes to the coroutine
                try:
                    waiting_on = coroutine.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_on = coroutine.send(sent)
                except StopIteration as done:
                    return done.value


class Guard:
    """Owns one component instance and makes every call into it safe."""

    def __init__(
        self, spec: ComponentSpec, config: Config, *,
        on_rebuild: Callable[[Component], None] | None = None, influencers: Any = None,
        request_checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.config = config
        self.influencers = influencers
        self.request_checkpoint = request_checkpoint
        self.component = spec.build(config.context(spec, influencers, request_checkpoint))
        self.stats = ComponentStats()
        self._consecutive = 0
        self._backoff = FIRST_BACKOFF
        self._benched_until = 0.0
        self._needs_rebuild = False
        self._on_rebuild = on_rebuild
        self._async_methods: dict[str, bool] = {}

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def available(self) -> bool:
        """False while the component is benched after repeated failures."""
        if self._benched_until and time.monotonic() < self._benched_until:
            return False
        return True

    async def call(
        self,
        method: str,
        *args: Any,
        mentions: Sequence[Mention] = (),
        timeout: float | None = None,
    ) -> tuple[bool, Any]:
        """Call ``component.method(*args)``; returns (succeeded, result)."""
        if not self.available:
            self.stats.skipped += 1
            return False, None
        if self._needs_rebuild:
            await self._rebuild()
        function = getattr(self.component, method)
        limit = self.spec.timeout if timeout is None else timeout
        self.stats.calls += 1
        loop = asyncio.get_running_loop()
        try:
            if self._is_async(method, function):
                # The first step runs before any timer is set: most calls (a scorer, a trigger)
                # never wait on anything, and setting and cancelling a timer per call cost more
                # than the rest of the call (decision 0044). A call that waits finishes under
                # the deadline its start set.
                deadline = loop.time() + limit
                coroutine = function(*args)
                try:
                    waiting_on = coroutine.send(None)
                except StopIteration as done:
                    result = done.value
                else:
                    async with asyncio.timeout_at(deadline):
                        result = await _Resumed(coroutine, waiting_on)
            else:
                async with asyncio.timeout(limit):
                    result = await loop.run_in_executor(_plugin_threads, function, *args)
        except TimeoutError:
            self.stats.timeouts += 1
            self._failed(method, f"timed out after {limit:g}s", mentions)
            return False, None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats.errors += 1
            self._failed(method, f"{type(exc).__name__}: {exc}", mentions, exc)
            return False, None
        self._consecutive = 0
        self._backoff = FIRST_BACKOFF
        return True, result

    def _is_async(self, method: str, function: Any) -> bool:
        known = self._async_methods.get(method)
        if known is None:
            known = self._async_methods[method] = inspect.iscoroutinefunction(function)
        return known

    def _failed(
        self, method: str, reason: str, mentions: Sequence[Mention], exc: BaseException | None = None
    ) -> None:
        self.stats.last_error = reason
        self._consecutive += 1
        ids = [m.id for m in mentions[:5]]
        log.error(
            "component call failed",
            component=self.id,
            type=self.spec.type_name,
            method=method,
            error=reason,
            mention_ids=ids,
            batch=len(mentions),
            consecutive_failures=self._consecutive,
            exc_info=exc if exc is not None and self._consecutive == 1 else None,
        )
        if self._consecutive >= FAILURE_LIMIT:
            self._benched_until = time.monotonic() + self._backoff
            log.warning(
                "component keeps failing: benched, then rebuilt",
                component=self.id,
                backoff_s=self._backoff,
            )
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            self._consecutive = 0
            self._needs_rebuild = True

    async def _rebuild(self) -> None:
        self._needs_rebuild = False
        self._benched_until = 0.0
        self.stats.restarts += 1
        old = self.component
        state = old.snapshot()
        try:
            async with asyncio.timeout(self.spec.timeout):
                await old.stop()
        except Exception as exc:  # noqa: BLE001 - a failing stop must not stop the rebuild
            log.warning("component stop failed", component=self.id, error=repr(exc))
        self.component = self.spec.build(self.config.context(self.spec, self.influencers, self.request_checkpoint))
        self._async_methods.clear()
        if state is not None:
            self.component.restore(state)
        await self.start()
        if self._on_rebuild is not None:
            self._on_rebuild(self.component)
        log.info("component rebuilt", component=self.id, restarts=self.stats.restarts)

    async def start(self) -> bool:
        ok, _ = await self.call("start")
        return ok

    async def stop(self) -> None:
        await self.call("stop")
