"""unanswered reads the case step's due-time label (``labels["sla_due"]``) once per addressed
mention, without `parse_time`'s rewriting of the zone: it must read every label as
`parse_time` does, and refuse the same ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentineld.cases import label_time
from sentineld.model import format_time, parse_time
from sentineld_plugins.triggers.unanswered import _label_seconds


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_due_labels_read_as_parse_time_reads_them(seconds: float) -> None:
    text = label_time(seconds)
    assert _label_seconds(text) == parse_time(text).timestamp()


@pytest.mark.parametrize("text", [
    "2026-11-01T01:00:00Z", "2026-11-01T01:00:00.050000Z", "2026-11-01T01:00:00z",
    "2026-11-01T03:00:00+02:00", "2026-11-01T01:00:00.5-05:30", "2026-11-01 01:00:00Z",
])
def test_zones_read_as_parse_time_reads_them(text: str) -> None:
    assert _label_seconds(text) == parse_time(text).timestamp()


@pytest.mark.parametrize("text", ["2026-11-01T01:00:00", "yesterday", "", "2026-13-01T01:00:00Z"])
def test_labels_parse_time_refuses_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as expected:
        parse_time(text)
    with pytest.raises(ValueError) as refused:
        _label_seconds(text)
    assert str(refused.value) == str(expected.value)


def test_a_formatted_time_is_read_back() -> None:
    assert _label_seconds(format_time(parse_time("2026-11-01T01:00:00.25Z"))) == parse_time(
        "2026-11-01T01:00:00.25Z").timestamp()
