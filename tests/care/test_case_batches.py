"""The case step reads and writes a batch in bulk (`CrmTables`): how a stream is cut into batches
must not change the cases, identities, case mentions or labels it makes."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sentineld.cases import CaseBook, CasesOptions
from sentineld.model import Mention
from sentineld.options import convert_options
from sentineld.store import open_store
from sentineld.watch import Matcher, WatchConfig
from tests.care.conftest import WATCH
from tests.care.helpers import bluesky, email, mastodon


def book() -> CaseBook:
    return CaseBook(convert_options({}, CasesOptions, "cases"), Matcher(convert_options(WATCH, WatchConfig, "watch")))


def mixed_stream(seed: int = 7) -> list[Mention]:
    """Customers writing on three channels, to the brand and not, the brand answering some of
    them, customers replying to the answers, e-mails that link a handle, and one account whose
    DID and new handle belong to two customers until they are merged."""
    rng = random.Random(seed)
    stream: list[Mention] = []
    minute = 0.0
    for step in range(160):
        minute += rng.choice([0.5, 1, 2, 5])
        who = rng.randrange(12)
        roll = rng.random()
        if roll < 0.2:
            signature = f"\n\n--\nBluesky: @c{who}.bsky.social" if who % 3 == 0 else ""
            stream.append(email(f"c{who}@example.com", f"Booking {step}{signature}", minutes=minute))
        elif roll < 0.45:
            stream.append(bluesky(f"did:plc:c{who}", f"c{who}.bsky.social", f"@acme.bsky.social bag {step}?",
                                  minutes=minute))
        elif roll < 0.6:
            stream.append(bluesky(f"did:plc:c{who}", f"c{who}.bsky.social", f"acme was fine {step}",
                                  minutes=minute))
        elif roll < 0.7:
            stream.append(mastodon(f"c{who}", f"@acme seat {step}?", minutes=minute))
        elif roll < 0.9:
            customers = [m for m in stream if m.author and not m.author.handle.startswith("acme")]
            if customers:
                target = rng.choice(customers[-20:])
                stream.append(bluesky("did:plc:acme", "acme.bsky.social", f"on it {step}", minutes=minute,
                                      reply_to=target.id))
        else:
            answers = [m for m in stream if m.author and m.author.handle == "acme.bsky.social"]
            if answers:
                stream.append(bluesky(f"did:plc:c{who}", f"c{who}.bsky.social", f"thanks {step}",
                                      minutes=minute, reply_to=rng.choice(answers[-10:]).id))
    minute += 1
    # did:plc:mo is known as mo.bsky.social; an e-mail claims mo2.bsky.social; then the account
    # posts as mo2.bsky.social: its DID and its handle name two customers, who become one.
    stream += [
        bluesky("did:plc:mo", "mo.bsky.social", "@acme.bsky.social lost bag", minutes=minute),
        email("mo@example.com", "Still no bag\n\n--\nBluesky: @mo2.bsky.social", minutes=minute + 1),
        bluesky("did:plc:mo", "mo2.bsky.social", "@acme.bsky.social hello??", minutes=minute + 2),
    ]
    return stream


def apply_in_batches(directory: Path, stream: list[Mention], size: int) -> tuple[list[Any], dict[str, list[Any]]]:
    store = open_store(directory)
    the_book = book()
    labels: list[Any] = []
    try:
        for start in range(0, len(stream), size):
            batch = stream[start : start + size]
            store.ingest("test", batch, None)  # as the pipeline does: stored, then the case step
            labels += store.crm_apply(the_book, batch)
        tables = {
            name: store.db.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()
            for name in ("customers", "identities", "cases", "case_mentions")
        }
    finally:
        store.close()
    return labels, tables


def test_the_same_stream_in_any_batches_makes_the_same_cases(tmp_path: Path) -> None:
    stream = mixed_stream()
    one_by_one = apply_in_batches(tmp_path / "one", stream, 1)
    labels, tables = one_by_one
    assert sum(1 for row in tables["cases"] if row[2] == "merged") == 1  # the merge happened
    assert any(row[7] is not None for row in tables["case_mentions"])  # answers were recorded
    assert any(origin.startswith("auto:") for _, _, _, origin, _ in tables["identities"])
    assert sum(1 for item in labels if item) > 60
    for size in (7, 64, len(stream)):
        assert apply_in_batches(tmp_path / f"by{size}", stream, size) == one_by_one, size


def test_an_answer_marks_what_came_before_it_in_the_batch_and_what_was_stored_before(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    the_book = book()
    try:
        first = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social one", minutes=0)
        store.ingest("test", [first], None)
        store.crm_apply(the_book, [first])
        second = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social two", minutes=2)
        answer = bluesky("did:plc:acme", "acme.bsky.social", "@jo.bsky.social on it", minutes=9, reply_to=second.id)
        late = bluesky("did:plc:jo", "jo.bsky.social", "@acme.bsky.social three", minutes=5)  # came in after it
        store.ingest("test", [second, answer, late], None)
        store.crm_apply(the_book, [second, answer, late])
        [case] = store.cases(state="all")
        answered = {item.mention_id: item.answered_by for item, _ in store.case_mentions(case.id)}
    finally:
        store.close()
    assert answered == {first.id: answer.id, second.id: answer.id, answer.id: None, late.id: None}
