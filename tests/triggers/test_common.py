"""The pieces the built-in triggers share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sentineld_plugins.triggers._common import excerpt

#: Letters, the ASCII space, and whitespace a post can carry (tabs, line breaks, no-break and
#: ideographic spaces, a separator control character).
TEXTS = st.text(alphabet=st.sampled_from("ab é😀.  \t\n\r\x1c\u00a0\u2003\u3000"), max_size=40)


@given(TEXTS, st.sampled_from([1, 2, 5, 12, 120]))
def test_excerpt_flattens_whitespace_and_cuts(text: str, limit: int) -> None:
    flat = " ".join(text.split())
    expected = flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
    assert excerpt(text, limit) == expected


def test_excerpt_of_a_post() -> None:
    assert excerpt("  my bag\n\nnever  arrived ", 120) == "my bag never arrived"
    assert excerpt("my bag never arrived", 8) == "my bag…"
    assert excerpt("my bag never arrived", 120) == "my bag never arrived"


@given(st.text(alphabet=st.sampled_from("ab é.  \t\n\x1c\u00a0\u3000"), min_size=1, max_size=400),
       st.integers(min_value=1, max_value=300))
def test_excerpt_of_long_texts_reads_only_what_shows(text: str, limit: int) -> None:
    """A text longer than `limit` whose first `limit` characters are flat is cut without being
    flattened whole; the result is the whole text's."""
    flat = " ".join(text.split())
    expected = flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
    assert excerpt(text, limit) == expected
    assert excerpt("x" * limit + text, limit) == excerpt(" ".join(("x" * limit + text).split()), limit)


def test_excerpt_where_the_cut_meets_whitespace() -> None:
    assert excerpt("my bag  ", 6) == "my bag"  # only spaces follow the cut: nothing was cut
    assert excerpt("my bag\n\n", 6) == "my bag"
    assert excerpt("my bag x", 6) == "my ba…"
    assert excerpt("my bag\nx", 7) == "my bag…"  # the line break after the cut is a space
    assert excerpt("my ba  g", 6) == "my ba…"
    assert excerpt("my b\tag", 5) == "my b…"  # a tab before the cut: flattened first
    assert excerpt(" my bag", 4) == "my…"
