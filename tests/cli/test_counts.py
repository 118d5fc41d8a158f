"""--limit, --top and --history take a whole number of at least 1."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("args", [
    ("alerts", "--limit", "0"), ("cases", "--limit", "-1"), ("mentions", "--limit", "0"),
    ("drafts", "--limit", "0"), ("outbox", "--limit", "0"), ("influencers", "--top", "0"),
    ("case", "c-x", "--history", "zero"),
])
def test_a_count_below_one_is_refused_before_anything_is_read(cli, args: tuple[str, ...]) -> None:
    """`cases --limit 0` printed "no open cases" with a full queue, and a negative limit was no
    limit at all (SQLite's LIMIT -1)."""
    result = cli(*args, "-c", "/dev/null")
    assert result.returncode == 2
    assert f"error: argument {args[-2]}: expected a whole number of at least 1, got '{args[-1]}'" in result.stderr
