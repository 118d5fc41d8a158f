"""Checkpoint chunks named without being encoded again (`ChunkMemo`, decision 0232): unanswered
and influencer_mention write, at every checkpoint, exactly the parts a full encoding writes."""

from __future__ import annotations

import random
from datetime import timedelta
from operator import attrgetter
from pathlib import Path

import msgspec
import pytest

from sentineld.alerting import TriggerAlertSink
from sentineld.components import ComponentContext
from sentineld.model import Author, Mention
from sentineld.options import Duration
from sentineld.state_parts import ChunkedState, ChunkMemo, StatePartsError, encode_chunks
from sentineld.testing import make_mention
from sentineld.watch import WatchConfig
from sentineld_plugins.triggers.influencer_mention import InfluencerMention, InfluencerMentionOptions, _encode_rants
from sentineld_plugins.triggers.unanswered import _CHUNKED, Unanswered, UnansweredOptions
from sentineld_plugins.triggers.unanswered import _encode_state as _encode_unanswered

WATCH = WatchConfig(brand=["acme"], accounts=["acme"])


def context(name: str) -> ComponentContext:
    return ComponentContext(name, "trigger", WATCH, Path("."))


def stream(count: int, seed: int) -> list[Mention]:
    """Customers writing to @acme (some answered), influencers, quiet spells that let mentions
    fall due and rants go quiet: every kind of change the two states see."""
    rng = random.Random(seed)
    mentions: list[Mention] = []
    minutes = 0.0
    for n in range(count):
        minutes += rng.choice((0.05, 0.2, 1.0, 1.0, 30.0)) if rng.random() < 0.05 else 0.3
        if rng.random() < 0.08 and mentions:
            target = rng.choice(mentions[-300:])
            mention = make_mention("@someone we are on it", id=f"m{n}", minutes=minutes, author="acme",
                                   in_reply_to=target.id, matches=["brand"])
        else:
            # the same author again now and then: a rant changed in place, already the last
            author = f"u{rng.randrange(150)}" if rng.random() < 0.7 or not mentions else mentions[-1].author.id
            mention = make_mention(f"@acme help with order {rng.randrange(50)}", id=f"m{n}", minutes=minutes,
                                   author=author, matches=["brand"],
                                   scores={"connector": rng.choice((0.1, 0.9)), "maven": 0.1, "sentiment": -0.5},
                                   labels={"sentiment": rng.choice(("negative", "positive"))})
            mention.author = Author(id=author, handle=author)
        mentions.append(mention)
    return mentions


def unanswered_reference(trigger: Unanswered) -> tuple[bytes, dict[str, list[bytes]]]:
    state = trigger._state()
    sequences = {name: list(encode_chunks(state.pop(name), key, _encode_unanswered)) for name, key in _CHUNKED.items()}
    return _encode_unanswered(state), sequences


def influencer_reference(trigger: InfluencerMention) -> tuple[bytes, dict[str, list[bytes]]]:
    rants = list(trigger.rants.values())
    return b"", {"rants": list(encode_chunks(rants, attrgetter("subject", "author"), _encode_rants))}


def make_trigger(kind: str) -> Unanswered | InfluencerMention:
    if kind == "unanswered":
        return Unanswered(UnansweredOptions(first_response=Duration(600), max_pending=400, max_customer_alerts=3),
                          context("waiting"))
    return InfluencerMention(InfluencerMentionOptions(connector=0.8, sentiment="any", quiet=Duration(1800),
                                                      max_open=60), context("vip"))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("kind", ["unanswered", "influencer_mention"])
async def test_every_checkpoint_writes_the_parts_a_full_encoding_writes(kind: str, seed: int) -> None:
    """Checkpoints every few mentions (and a restart half-way): the parts, names and bytes, are
    those of encoding every chunk afresh, and they restore what the whole state restores."""
    reference_of = unanswered_reference if kind == "unanswered" else influencer_reference
    rng = random.Random(seed)
    trigger, reference, sink = make_trigger(kind), ChunkedState(), TriggerAlertSink(kind, kind)
    stored: dict[str, bytes] = {}
    reused = 0
    mentions = stream(6000, seed)
    position = 0
    while position < len(mentions):
        step = rng.choice((1, 5, 40, 200))
        batch = mentions[position:position + step]
        position += step
        await trigger.observe(batch, sink)
        await trigger.tick(batch[-1].created_at + timedelta(seconds=1), sink)
        sink.take()
        complete = not stored
        head, sequences = reference_of(trigger)
        expected = reference.snapshot(head, sequences, complete)
        parts = trigger.snapshot_parts(complete)
        assert parts.changed == expected.changed and parts.removed == expected.removed
        reused += sum(len(names) for names in msgspec.msgpack.decode(parts.changed["head"])[1].values()) - (
            len(parts.changed) - 1)
        for name in parts.removed:
            del stored[name]
        stored.update(parts.changed)
        if position > len(mentions) // 2 and position - step <= len(mentions) // 2:  # a restart
            from_whole = make_trigger(kind)
            from_whole.restore(trigger.snapshot())
            trigger = make_trigger(kind)
            trigger.restore_parts(dict(stored))
            assert trigger.snapshot() == from_whole.snapshot()
    assert reused > 0  # the memo did name unchanged chunks


def test_a_chunk_changed_in_place_is_encoded_again() -> None:
    """An item changed in place with the same identity is noticed by its version; a chunk named
    unchanged but not in the last snapshot (a memo out of step) is refused, never written empty."""
    items = [[i, 0] for i in range(200)]
    memo = ChunkMemo(version=lambda item: item[1])
    state = ChunkedState()
    encode = msgspec.msgpack.encode
    key = lambda item: item[0]  # noqa: E731
    state.snapshot(b"", {"s": memo.chunks(items, key, encode, True)}, True)
    items[150][1] += 1
    parts = state.snapshot(b"", {"s": memo.chunks(items, key, encode, False)}, False)
    assert [name for name in parts.changed if name != "head"] == [
        name for name, data in ChunkedState().snapshot(b"", {"s": encode_chunks(items, key, encode)}, True)
        .changed.items() if name != "head" and msgspec.msgpack.decode(data) and [150, 1] in msgspec.msgpack.decode(data)]
    state.stored = set()
    with pytest.raises(StatePartsError):
        state.snapshot(b"", {"s": memo.chunks(items, key, encode, False)}, False)


@pytest.mark.parametrize("seed", range(20))
def test_the_memo_cuts_and_names_the_chunks_a_full_encoding_does(seed: int) -> None:
    """Items added, removed, moved to the end and changed in place between snapshots (a short
    sequence, an empty one, long runs without a content cut): the memo's chunks are always
    `encode_chunks`' chunks, and it does skip some."""
    rng = random.Random(seed)
    encode = msgspec.msgpack.encode
    key = lambda item: item[0]  # noqa: E731
    # keys hashed to a cut after every item, after none (chunks cut at LONGEST), or at random
    new_key = rng.choice((lambda: 16 * rng.randrange(10**6), lambda: 16 * rng.randrange(10**6) + 1,
                          lambda: rng.randrange(10**6)))
    items = [[new_key(), 0] for _ in range(rng.randrange(0, 400))]
    memo, state, reference = ChunkMemo(version=lambda item: item[1]), ChunkedState(), ChunkedState()
    skipped = 0
    for round_ in range(40):
        complete = round_ == 0
        parts = state.snapshot(b"", {"s": memo.chunks(items, key, encode, complete)}, complete)
        expected = reference.snapshot(b"", {"s": encode_chunks(items, key, encode)}, complete)
        assert parts.changed == expected.changed and parts.removed == expected.removed
        skipped += len(msgspec.msgpack.decode(parts.changed["head"])[1]["s"]) - (len(parts.changed) - 1)
        for _ in range(rng.randrange(0, 12)):
            move = rng.random()
            if move < 0.3:
                items.append([new_key(), 0])
            elif move < 0.5 and items:
                del items[rng.randrange(len(items))]
            elif move < 0.7 and items:
                items.append(items.pop(rng.randrange(len(items))))
            elif move < 0.9 and items:
                rng.choice(items)[1] += 1
            elif items:
                del items[:rng.randrange(len(items) + 1)]
    assert skipped > 0 or len(items) < 2
