"""A component's checkpointed state in parts, of which a checkpoint writes only the new ones.

A component with a big state implements `Component.snapshot_parts` / `restore_parts` (decision
0015) instead of re-encoding and re-writing its whole state at every checkpoint. `ChunkedState`
does the bookkeeping for the common case, a state made of a small *head* and long ordered
sequences of items (followed posts, waiting mentions, clusters, a ring of indexed posts):

- each sequence is cut into chunks at *content-defined* boundaries (after an item whose key
  hashes to 0 modulo `every`, as rsync and backup tools cut files), so that an item added,
  changed or removed changes only the chunk it is in, and a run of unchanged items keeps
  giving the same chunks wherever it moves in the sequence;
- each chunk is encoded by the component (msgspec, at the barrier) and named after its digest
  (96 bits: a chunk taken for one already stored by chance has odds of about 2^-64 per pair);
  a checkpoint writes the chunks whose name is new and removes those no longer listed;
- the head (always written) lists each sequence's chunk names in order, so that a restore puts
  every sequence back exactly, order included.

Unchanged chunks are still encoded (their digest says they are unchanged: nothing can be
forgotten, where a component marking what it changes could miss a change), but they are not
held until the checkpoint is written, nor copied into the store. A component whose items say
when they change (the same object, a version) can have `ChunkMemo` name the chunks of the last
snapshot that hold the same unchanged items without encoding them (decision 0232).

A state kept in recency order in an `OrderedDict` whose items seldom move (influencer_mention's
open rants) can be listed for a checkpoint by `recency_ordered`, from the dict's own table
rather than by walking the OrderedDict's links (decision 0236).
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from operator import is_
from typing import Any, Final, TypeVar

import msgspec

from sentineld.components import StateParts

__all__ = ["ChunkMemo", "ChunkedState", "StatePartsError", "chunk_bounds", "decoded_chunks", "encode_chunks", "merge_parts", "recency_ordered"]

#: The part that holds the head and the chunk lists.
HEAD: Final = "head"
#: Items per chunk on average, and at most (a chunk is cut there whatever its keys).
EVERY: Final = 16
LONGEST: Final = 64

_T = TypeVar("_T")


class _Head(msgspec.Struct, array_like=True):
    state: bytes
    sequences: dict[str, list[str]]


_encode_head = msgspec.msgpack.Encoder().encode
_decode_head = msgspec.msgpack.Decoder(_Head).decode


class StatePartsError(ValueError):
    """The stored parts do not make a state (a chunk the head lists is missing)."""


def chunk_bounds(keys: Iterable[Hashable], every: int = EVERY, longest: int = LONGEST) -> list[int]:
    """The end of each chunk of a sequence whose items have these keys: after an item whose
    key's hash is 0 modulo `every`, and after `longest` items without one; the last is the
    sequence's length (no chunk for an empty sequence)."""
    hashes = list(map(hash, keys))
    bounds: list[int] = []
    start = 0
    for cut in [position for position, code in enumerate(hashes, 1) if not code % every]:
        bounds.extend(range(start + longest, cut, longest))
        bounds.append(cut)
        start = cut
    bounds.extend(range(start + longest, len(hashes), longest))
    if len(hashes) > start and (not bounds or bounds[-1] != len(hashes)):
        bounds.append(len(hashes))
    return bounds


def _name(chunk: bytes) -> str:
    """96 bits of digest: the interpreter's keyed hash of bytes (SipHash, random per process:
    a new process writes all its parts once anyway) and CRC-32, about twice as fast as any
    hashlib digest on this path."""
    return f"{hash(chunk) & 0xFFFF_FFFF_FFFF_FFFF:016x}{zlib.crc32(chunk):08x}"


class ChunkedState:
    """Turns a head and ordered sequences of encoded chunks into the `StateParts` of one
    checkpoint (only what is new since the last one), and stored parts back into them."""

    def __init__(self) -> None:
        #: The chunk names the last snapshot listed (what the store holds once it is written).
        self.stored: set[str] = set()

    def snapshot(self, head: bytes, sequences: Mapping[str, Iterable[bytes | tuple[str, bytes | None]]],
                 complete: bool) -> StateParts:
        """The parts for a checkpoint: the head with the chunk lists, and the chunks not in the
        last snapshot (all of them when `complete`); those it listed and this one does not are
        removed. A chunk is its bytes, or (name, bytes) from a `ChunkMemo`, whose bytes are None
        for a chunk the last snapshot listed."""
        listed: dict[str, list[str]] = {}
        changed: dict[str, bytes] = {}
        stored = self.stored
        for sequence, chunks in sequences.items():
            names = listed[sequence] = []
            for chunk in chunks:
                data: bytes | None
                if isinstance(chunk, tuple):  # named by a `ChunkMemo`: (name, None) when unchanged
                    name, data = chunk
                else:
                    name, data = _name(chunk), chunk
                names.append(name)
                if complete or name not in stored:
                    if data is None:
                        raise StatePartsError(f"chunk {name} named unchanged was not in the last snapshot")
                    changed[name] = data
        now = {name for names in listed.values() for name in names}
        removed = [] if complete else sorted(stored - now)
        changed[HEAD] = _encode_head(_Head(head, listed))
        self.stored = now
        return StateParts(changed, removed, complete)

    def restore(self, parts: Mapping[str, bytes]) -> tuple[bytes, dict[str, list[bytes]]]:
        """The head and each sequence's chunks, in order, from the stored parts."""
        try:
            head = _decode_head(parts[HEAD])
            sequences = {sequence: [parts[name] for name in names] for sequence, names in head.sequences.items()}
        except KeyError as exc:
            raise StatePartsError(f"checkpoint part {exc.args[0]!r} is missing") from None
        except msgspec.DecodeError as exc:
            raise StatePartsError(f"unreadable checkpoint head: {exc}") from None
        self.stored = {name for names in head.sequences.values() for name in names}
        return head.state, sequences


def encode_chunks(items: Sequence[_T], key: Callable[[_T], Hashable] | None,
                  encode: Callable[[Sequence[_T]], bytes]) -> Iterator[bytes]:
    """`items` cut at content-defined boundaries (`chunk_bounds` of their keys, or of the
    items themselves when `key` is None), each chunk encoded by `encode` as it is asked for:
    `ChunkedState.snapshot` lets go of a chunk it already stored at once, so that the whole
    state is never held encoded."""
    start = 0
    for end in chunk_bounds(items if key is None else map(key, items)):
        yield encode(items[start:end])
        start = end


class ChunkMemo:
    """`encode_chunks` for a component whose items mostly stay as they were between two
    checkpoints: where a chunk of the last snapshot starts again, holding the same items, each
    unchanged, it is named again without its items' keys being hashed or the chunk encoded
    (decision 0232). The chunks are those `chunk_bounds` cuts: a chunk of the last snapshot
    starts where a chunk starts now and ends where a chunk ends now, since a cut depends only
    on the items since the last cut.

    An item is unchanged when it is the same object with the same `version` (an attribute
    getter for what changes whenever the item changes in place; None for items never changed
    in place once made, such as tuples, or structs replaced rather than changed). The memo
    holds the items of the chunks it last named, so no id is reused meanwhile."""

    def __init__(self, version: Callable[[Any], Hashable] | None = None) -> None:
        self._version = version
        #: id of a chunk's first item -> (its items, their versions, its name, whether it was
        #: cut by the end of the sequence rather than by its items)
        self._chunks: dict[int, tuple[Sequence[Any], list[Hashable] | None, str, bool]] = {}

    def clear(self) -> None:
        """Forget the chunks (the component was restored: its items are new objects)."""
        self._chunks = {}

    def chunks(self, items: Sequence[_T], key: Callable[[_T], Hashable] | None,
               encode: Callable[[Sequence[_T]], bytes], complete: bool) -> Iterator[tuple[str, bytes | None]]:
        """`encode_chunks`' chunks with their names, for `ChunkedState.snapshot`; the bytes are
        None for a chunk the last snapshot listed (every chunk is encoded when `complete`)."""
        version, last, now = self._version, self._chunks, {}
        total = len(items)
        start = 0
        while start < total:
            seen = None if complete else last.get(id(items[start]))
            if seen is not None:
                end = start + len(seen[0])
                chunk = items[start:end]
                if (len(chunk) == len(seen[0]) and (not seen[3] or end == total)
                        and (version is None or seen[1] == list(map(version, chunk)))
                        and all(map(is_, seen[0], chunk))):
                    now[id(chunk[0])] = seen
                    yield seen[2], None
                    start = end
                    continue
            end = limit = min(start + LONGEST, total)
            for position in range(start, limit):
                if not hash(items[position] if key is None else key(items[position])) % EVERY:
                    end = position + 1
                    break
            chunk = items[start:end]
            data = encode(chunk)
            name = _name(data)
            now[id(chunk[0])] = (chunk, None if version is None else list(map(version, chunk)), name,
                                 end == total)
            yield name, data
            start = end
        self._chunks = now


def recency_ordered(recent: OrderedDict[Any, _T]) -> list[_T]:
    """``list(recent.values())`` for an `OrderedDict` kept in recency order whose keys go to its
    end only as new keys: a key seen again is taken out and put back
    (``recent[key] = recent.pop(key)``), never moved by `move_to_end`, which relinks only the
    OrderedDict's own list. Then the dict's table (where a new key goes last and a key taken
    out leaves a hole) is in the same order, and is read here in one pass. Walking the
    OrderedDict looks every key up again on the way: about 1 µs per item once the items are
    spread over a large heap (9-14 ms for 10,000 open rants, where the table takes 0.1 ms).
    Taking a key out and putting it back costs more than relinking it, so this pays where
    items are listed more often than they move (decision 0236)."""
    return list(dict.values(recent))


def merge_parts(earlier: StateParts, later: StateParts) -> StateParts:
    """The parts of two checkpoints in a row as one (a checkpoint that could not be stored
    rides with the next): `later`'s changes applied over `earlier`'s."""
    if later.complete:
        return later
    gone = set(later.removed)
    changed = {name: part for name, part in earlier.changed.items() if name not in gone}
    changed.update(later.changed)
    removed = sorted((set(earlier.removed) | gone) - later.changed.keys())
    return StateParts(changed, removed, earlier.complete)


def decoded_chunks(chunks: Iterable[bytes], decode: Callable[[bytes], list[Any]]) -> list[Any]:
    """The items of a sequence's chunks, in order."""
    items: list[Any] = []
    for chunk in chunks:
        items.extend(decode(chunk))
    return items
