"""What the fuzz tests share: a real HTTP stand-in on 127.0.0.1 whose answer each example sets,
a source run against a real SQLite store, the check that a produced Mention is sound, and
strategies that bend a real payload shape (near-valid input) or make plain junk.

Every example runs on one long-lived event loop in a background thread, with a hard timeout:
a parser that hangs fails the test ("no hang") instead of freezing the suite.
"""

from __future__ import annotations

import asyncio
import copy
import math
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from aiohttp import web
from hypothesis import strategies as st

from sentineld.changes import MentionChange, check_change
from sentineld.components import ComponentContext, Source
from sentineld.model import Mention, decode_mention, encode_mention
from sentineld.options import convert_options
from sentineld.store import SQLiteStore, open_store
from sentineld.watch import WatchConfig

#: Longest one example may take before it counts as a hang.
EXAMPLE_TIMEOUT = 10.0

# --------------------------------------------------------------------------- the stand-in


@dataclass
class Answer:
    body: bytes = b"{}"
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class StandIn:
    """An aiohttp server on 127.0.0.1 (a random port) in its own thread and event loop. It
    answers every path with the `Answer` set for the longest matching prefix; the sources under
    test run on the same loop through `run`."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        #: The path of every request received, in order.
        self.paths: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner: web.AppRunner | None = None
        self.url = self.run(self._start())

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        matches = [p for p in self.answers if request.path.startswith(p)]
        answer = self.answers[max(matches, key=len)] if matches else Answer(b"not here", 404, "text/plain")
        return web.Response(body=answer.body, status=answer.status,
                            headers={"Content-Type": answer.content_type, **answer.headers})

    @staticmethod
    async def _cancel_the_rest() -> None:
        """Connections a test left open (a client that never finished its request)."""
        rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def answer(self, path: str, body: bytes, *, status: int = 200,
               content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        self.answers[path] = Answer(body, status, content_type, headers or {})

    def run(self, coro: Awaitable[Any], timeout: float = EXAMPLE_TIMEOUT) -> Any:
        """Run `coro` on the stand-in's loop; a hang past `timeout` fails the test."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise AssertionError(f"hang: the parser did not finish within {timeout}s") from None

    def close(self) -> None:
        if self.runner is not None:
            self.run(self.runner.cleanup())
        self.run(self._cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


# --------------------------------------------------------------------------- a source under test


WATCH = {"brand": ["acme", "@acme", "#acme"], "accounts": ["acme", "did:plc:acmebrand"]}


class SourceUnderTest:
    """One source instance on a real store: `emit` stores like the pipeline's ingest does
    (mentions and cursor in one transaction), `rejections` collects every `Source.reject`."""

    def __init__(self, cls: type[Source], options: dict[str, Any], store: SQLiteStore,
                 state_dir: Path, *, watch: dict[str, Any] | None = None, cursor: str | None = None) -> None:
        opts = convert_options(options, cls.Options, "sources.fuzz")
        context = ComponentContext(
            id="fuzz", kind="source", state_dir=state_dir,
            watch=convert_options(WATCH if watch is None else watch, WatchConfig, "watch"),
        )
        self.source = cls(opts, context)
        self.source.cursor = cursor
        self.store = store
        self.rejections: list[tuple[str, dict[str, object]]] = []
        self.mentions: list[Mention] = []
        self.cursors: list[str | None] = []
        original = self.source.reject

        def reject(reason: str, sample: object = None, **where: object) -> None:
            self.rejections.append((reason, where))
            original(reason, sample, **where)

        self.source.reject = reject  # type: ignore[method-assign]

    async def emit(self, mentions: Sequence[Mention], cursor: str | None = None, *, wait: bool = False,
                   changes: Sequence[MentionChange] = ()) -> int:
        for mention in mentions:
            check_mention(mention)
        if changes:
            checked = [check_change(change) for change in changes]
            fresh = self.store.ingest_changes([("fuzz", mentions, cursor)], checked)[0][0]
        else:
            fresh = self.store.ingest("fuzz", mentions, cursor)
        self.mentions.extend(mentions)
        self.cursors.append(cursor)
        if cursor is not None:
            self.source.cursor = cursor
        return len(fresh)

    def assert_rejections_explained(self) -> None:
        for reason, _ in self.rejections:
            assert isinstance(reason, str) and reason.strip(), f"a rejection without a reason: {reason!r}"


def fresh_store(directory: Path) -> SQLiteStore:
    directory.mkdir(parents=True, exist_ok=True)
    return open_store(directory)


def check_mention(mention: Mention) -> None:
    """What every stage downstream relies on: an aware, representable event time; text; and a
    JSON form that is valid UTF-8 and reads back as the same mention."""
    assert isinstance(mention, Mention)
    assert mention.id and mention.source, mention
    assert isinstance(mention.text, str)
    assert mention.created_at.tzinfo is not None, f"naive created_at {mention.created_at!r}"
    assert math.isfinite(mention.timestamp)
    mention.created_at.astimezone(UTC)
    if mention.author is not None and mention.author.created_at is not None:
        assert mention.author.created_at.tzinfo is not None, "naive author.created_at"
    again = decode_mention(encode_mention(mention))
    assert (again.id, again.text, again.created_at) == (mention.id, mention.text, mention.created_at)


def expect(call: Callable[[], Any], allowed: tuple[type[BaseException], ...]) -> BaseException | None:
    """Run `call`; an exception outside `allowed` (the documented rejection path) fails."""
    try:
        call()
    except allowed as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return exc
    return None


# --------------------------------------------------------------------------- strategies

#: Values that break parsers: edge numbers and times, odd text, empty containers.
EDGE_INTS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**64, 10**20, -(10**20),
             253402300800, 253402300800 * 1_000_000, -62135596800]
EDGE_TEXT = [
    "", " ", "\x00", "\n\r\t", "é", "🙂", "\u202e", "\ufeff", "\udcff",
    "<p>&#0;&#55296;&#x110000;&amp</p>", "<script>x</script>", "<<<>>>&&&;", "%s%n{}",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00", "2026-11-24T09:15:02",
    "2026-11-24T09:15:02Z", "2026-02-30T00:00:00Z", "not a date", "did:plc:acmebrand",
    "at://did:plc:acmebrand/app.bsky.feed.post/3k", "acme", "@acme", "[deleted]",
]
short_text = st.text(max_size=30)
huge_text = st.integers(60_000, 70_000).map(lambda size: "a" * size)
edge_scalars = (
    st.none() | st.booleans() | st.sampled_from(EDGE_INTS) | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e300, -1e300, 0.5])
    | st.sampled_from(EDGE_TEXT) | short_text | huge_text
)
json_junk = st.recursive(
    edge_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))


def _apply(base: Any, operations: list[tuple[tuple[Any, ...], str, Any]]) -> Any:
    document = copy.deepcopy(base)
    for path, action, junk in operations:
        parent: Any = document
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        key = path[-1]
        if not isinstance(parent, (dict, list)) or (
            key not in parent if isinstance(parent, dict) else not (isinstance(key, int) and key < len(parent))
        ):
            continue
        if action == "delete":
            del parent[key]
        elif action == "null":
            parent[key] = None
        elif action == "add" and isinstance(parent[key], dict):
            parent[key]["zz_unknown"] = junk
        else:
            parent[key] = junk
    return document


EDGE_TIMES = [
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00", "2026-11-24T09:15:02",
    "2026-11-24 09:15:02Z", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2262-04-12T00:00:00Z",
    "2026-11-24T09:15:02.123456789Z", "2026-11-24", "24 Nov 2026 09:15:02 +0000", "", "soon",
]


def like(value: Any) -> st.SearchStrategy[Any]:
    """Values of the same kind as `value` that are likely to break a parser."""
    if isinstance(value, bool) or value is None:
        return st.booleans() | st.none() | st.sampled_from([0, 1, "true"])
    if isinstance(value, int):
        return st.sampled_from(EDGE_INTS) | st.integers() | st.sampled_from([str(value), float(value)])
    if isinstance(value, float):
        return st.sampled_from([1e300, -1e300, -1.0, 0.0, 1e-300]) | st.sampled_from(EDGE_INTS) | st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(value, str):
        if "T" in value and ":" in value and value[:2].isdigit():
            return st.sampled_from(EDGE_TIMES)
        return st.sampled_from(EDGE_TEXT) | st.text(max_size=30) | huge_text
    if isinstance(value, list):
        return st.lists(json_junk, max_size=3) | st.just([]) | st.just([None])
    return st.dictionaries(short_text, json_junk, max_size=3) | st.just({})


def near(base: Any, max_changes: int = 4) -> st.SearchStrategy[Any]:
    """`base` (a real payload shape) with up to `max_changes` fields replaced by a value of the
    same kind that breaks parsers or by junk of any kind, deleted, nulled or given an unknown
    sibling."""
    values = {p: _value_at(base, p) for p in _paths(base) if p}
    actions = st.sampled_from(["replace", "replace", "delete", "null", "add"])
    operation = st.sampled_from(sorted(values, key=repr)).flatmap(
        lambda path: st.tuples(st.just(path), actions, like(values[path]) | json_junk)
    )
    return st.lists(operation, max_size=max_changes).map(lambda ops: _apply(base, ops))


def _value_at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def payloads(base: Any) -> st.SearchStrategy[Any]:
    """Mostly near-valid versions of `base`, sometimes plain junk."""
    return st.one_of(near(base), near(base), near(base), json_junk)
