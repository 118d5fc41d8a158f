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
