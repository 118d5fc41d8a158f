"""Component states checkpointed in parts (decision 0015): a checkpoint writes only the parts
that changed, and what is stored is always exactly the state at the checkpoint's barrier."""

from __future__ import annotations

import random
from collections import OrderedDict
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sentineld.components import StateParts
from sentineld.state_parts import (
    ChunkedState,
    StatePartsError,
    chunk_bounds,
    decoded_chunks,
    encode_chunks,
    merge_parts,
    recency_ordered,
)
from sentineld.store import open_store

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


def _item_key(item: list[Any]) -> str:
    return item[0]


def take(parts: ChunkedState, items: list[list[Any]], complete: bool = False) -> StateParts:
    return parts.snapshot(_encode({"count": len(items)}), {"items": encode_chunks(items, _item_key, _encode)}, complete)


def restored(stored: dict[str, bytes]) -> list[list[Any]]:
    _head, sequences = ChunkedState().restore(stored)
    return decoded_chunks(sequences["items"], _decode)


def apply(stored: dict[str, bytes], parts: StateParts) -> None:
    """What the store does with a component's parts."""
    if parts.complete:
        stored.clear()
    for name in parts.removed:
        stored.pop(name, None)
    stored.update(parts.changed)


def test_chunks_are_cut_where_the_keys_say_and_bounded() -> None:
    keys = [f"k{n}" for n in range(1000)]
    bounds = chunk_bounds(keys, every=16, longest=64)
    assert bounds[-1] == 1000 and bounds == sorted(set(bounds))
    assert max(b - a for a, b in zip([0, *bounds], bounds, strict=False)) <= 64
    assert 1000 / 40 < len(bounds) < 1000 / 8  # about one chunk in 16 items
    assert chunk_bounds([]) == []
    # where a chunk ends depends on its own keys only: the same run is cut the same way wherever it is
    unbounded = chunk_bounds(keys, every=16, longest=10**9)
    shifted = chunk_bounds(["other", *keys], every=16, longest=10**9)
    assert [b for b in shifted if b > 1] == [b + 1 for b in unbounded]


def test_restore_equals_the_state_after_many_checkpoints_with_changes_removals_and_a_restart() -> None:
    rng = random.Random(3)
    items = [[f"id{n}", n] for n in range(3000)]
    parts, stored, fresh = ChunkedState(), {}, 3000
    apply(stored, take(parts, items, complete=True))
    for round_ in range(60):
        for _ in range(rng.randrange(1, 40)):
            action = rng.random()
            if action < 0.3 and items:
                items.pop(rng.randrange(len(items)))  # removed
            elif action < 0.6 and items:
                item = items.pop(rng.randrange(len(items)))  # changed, and moved to the end
                items.append([item[0], item[1] + 1])
            else:
                items.insert(rng.randrange(len(items) + 1), [f"id{fresh}", fresh])
                fresh += 1
        if round_ == 30:  # a restart: a new instance restores, then writes all its parts once
            parts = ChunkedState()
            _head, sequences = parts.restore(stored)
            items = decoded_chunks(sequences["items"], _decode)
            written = take(parts, items, complete=True)
            assert written.complete and len(written.changed) > 100
        else:
            written = take(parts, items)
            assert len(written.changed) < 2 * 40 + 2  # the chunks touched, and the head
        apply(stored, written)
        assert restored(stored) == items
    assert set(stored) == parts.stored | {"head"}  # nothing left behind


def test_an_unchanged_state_writes_only_its_head() -> None:
    items = [[f"id{n}", n] for n in range(500)]
    parts = ChunkedState()
    take(parts, items, complete=True)
    again = take(parts, items)
    assert list(again.changed) == ["head"] and again.removed == [] and not again.complete


def test_a_missing_part_is_an_error_not_a_wrong_state() -> None:
    items = [[f"id{n}", n] for n in range(500)]
    stored: dict[str, bytes] = {}
    apply(stored, take(ChunkedState(), items, complete=True))
    del stored[next(name for name in stored if name != "head")]
    with pytest.raises(StatePartsError, match="missing"):
        restored(stored)


def test_the_parts_of_a_checkpoint_not_stored_ride_with_the_next() -> None:
    rng = random.Random(5)
    items = [[f"id{n}", n] for n in range(800)]
    parts, stored = ChunkedState(), {}
    apply(stored, take(parts, items, complete=True))
    pending: StateParts | None = None
    for round_ in range(20):
        for _ in range(10):
            items.pop(rng.randrange(len(items)))
            items.append([f"new{round_}-{len(items)}", round_])
        written = take(parts, items)
        pending = written if pending is None else merge_parts(pending, written)
        if round_ % 4 == 3:  # three checkpoints in four fail to be stored
            apply(stored, pending)
            pending = None
            assert restored(stored) == items


def test_the_store_writes_changed_parts_in_the_checkpoint_transaction(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        store.save_checkpoint("pipeline", 1, b"s", state_parts={
            "a": StateParts({"head": b"h1", "x": b"1", "y": b"2"}, complete=True),
            "b": StateParts({"head": b"b1"}, complete=True)})
        store.save_checkpoint("pipeline", 2, b"s", state_parts={
            "a": StateParts({"head": b"h2", "z": b"3"}, removed=["x"])})
        assert store.load_state_parts("pipeline", "a") == {"head": b"h2", "y": b"2", "z": b"3"}
        assert store.load_state_parts("pipeline", "b") == {}  # not in the checkpoint: dropped
        store.save_checkpoint("pipeline", 3, b"s", state_parts={"a": StateParts({"head": b"h3"}, complete=True)})
        assert store.load_state_parts("pipeline", "a") == {"head": b"h3"}
    finally:
        store.close()


@pytest.mark.parametrize("seed", range(5))
def test_a_recency_order_is_listed_in_its_order(seed: int) -> None:
    """Keys added, set again in place, put back last, taken out anywhere and from the front
    (enough of them for the dict to resize): `recency_ordered` is always the OrderedDict's
    order."""
    rng = random.Random(seed)
    recent: OrderedDict[int, int] = OrderedDict()
    for step in range(5000):
        draw = rng.random()
        if draw < 0.4 or not recent:
            recent[rng.randrange(600)] = step
        elif draw < 0.65:
            key = rng.choice(list(recent))
            recent[key] = recent.pop(key)
        elif draw < 0.85:
            recent.popitem(last=False)
        else:
            del recent[rng.choice(list(recent))]
        assert recency_ordered(recent) == list(recent.values())
