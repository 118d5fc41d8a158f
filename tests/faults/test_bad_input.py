"""bad input: property-based fuzzing of the core's parsers. No crash, no hang, every rejection
explained (a MentionError / ConfigError / ValueError whose message says what is wrong)."""

from __future__ import annotations

import json
import string

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentineld.config import ConfigError, load_config
from sentineld.model import MentionError, decode_mention
from sentineld.options import parse_duration

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
mention_keys = st.sampled_from(
    ["id", "source", "created_at", "text", "author", "metrics", "url", "in_reply_to", "extra", "scores", "x"]
)
mentionish = st.dictionaries(mention_keys, json_values | st.just("2026-11-24T09:15:02Z"), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_a_mention_or_an_explained_rejection(raw: bytes) -> None:
    try:
        decode_mention(raw)
    except MentionError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None)
@given(mentionish)
def test_mention_shaped_objects(data: dict) -> None:
    try:
        mention = decode_mention(json.dumps(data))
    except MentionError as exc:
        assert str(exc)
    else:
        assert mention.id == data["id"] and mention.created_at.tzinfo is not None


toml_scalars = st.text(max_size=10) | st.integers(-5, 10**6) | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
keys = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=10) | st.sampled_from(
    ["type", "window", "path", "brand", "state_dir", "tick", "timeout", "enabled", "z", "stream"])
tables = st.recursive(
    st.dictionaries(keys, toml_scalars | st.lists(st.text(max_size=6), max_size=3), max_size=4),
    lambda children: st.dictionaries(keys, children, max_size=3),
    max_leaves=10,
)
sections = st.sampled_from(["sentineld", "watch", "sources", "scorers", "triggers", "notifiers", "alerting", "zzz"])
documents = st.dictionaries(sections, tables, max_size=4)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_toml_document_is_valid_or_every_problem_explained(document: dict) -> None:
    try:
        load_config(text=tomli_w.dumps(document), entry_points=False)
    except ConfigError as exc:
        assert exc.problems and all(p.message for p in exc.problems)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12) | st.integers(-10, 10**9) | st.floats(allow_nan=False))
def test_durations_parse_or_explain(value: object) -> None:
    try:
        assert parse_duration(value) >= 0  # type: ignore[arg-type]
    except ValueError as exc:
        assert "duration" in str(exc)
