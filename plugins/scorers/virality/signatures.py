"""Text → MinHash signatures, a whole batch at a time.

`normalize` turns a post into its content: NFKC, case-folded, without URLs, without the leading
reply ``@handles``, punctuation gone, one space between tokens; each character of a script
written without spaces (Chinese, Japanese, Thai…) is a token of its own. The shingles are the
overlapping token pairs. Their hashes are computed for a whole batch in a few numpy passes (a
polynomial hash of each token's bytes, then the pair), and feed datasketch's ``affine32``
MinHash scheme: the MurmurHash3 finaliser, then ``a * h + b mod 2^32`` with datasketch's own
permutations. The signatures are bit for bit those of
``datasketch.MinHash(scheme="affine32").update_batch`` on the same pair hashes (a test checks
it); one numpy pass per batch, instead of one MinHash object per post, is what makes MinHash
affordable for every mention of the stream.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

import numpy as np

_UNSPACED: Final = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3100-\u312f"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\uff66-\uff9f"
)
_URL: Final = re.compile(r"https?://\S+|www\.\S+")  # on case-folded text
_REPLY_PREFIX: Final = re.compile(r"^(?:\s*@[\w.\-]+)+")
_UNSPACED_CHAR: Final = re.compile(f"[{_UNSPACED}]")
_NON_WORD: Final = re.compile(r"[\W_]+")
#: ASCII letters to lower case, digits kept, every other byte a space.
_ASCII_WORDS: Final = bytes(
    c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256)
)
_SPACE, _NEWLINE = 32, 10
#: Odd multipliers for the byte positions of a token (positions beyond 64 wrap around).
_BYTE_MULT: Final = (
    np.random.default_rng(20101209).integers(0, 2**31, size=64, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
)
_PAIR: Final = np.uint32(0x9E3779B1)  # the golden-ratio multiplier: a pair's order matters


def normalize(text: str) -> bytes:
    """The content of a post as UTF-8 tokens separated by single spaces (see the module doc)."""
    if text.isascii():
        if "://" in text or "www." in text.lower():
            text = _URL.sub(" ", text.lower())
        if text.lstrip()[:1] == "@":
            text = _REPLY_PREFIX.sub("", text)
        return b" ".join(text.encode().translate(_ASCII_WORDS).split())
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _REPLY_PREFIX.sub("", _URL.sub(" ", text))
    text = _UNSPACED_CHAR.sub(r" \g<0> ", text)
    return _NON_WORD.sub(" ", text).strip().encode()


def token_count(content: bytes) -> int:
    return content.count(b" ") + 1 if content else 0


def pair_hashes(contents: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The token-pair hashes of every content (each needs two tokens at least), concatenated,
    and the index where each content's hashes start."""
    data = np.frombuffer(b"\n".join(contents), dtype=np.uint8)
    index = np.arange(len(data))
    separator = (data == _SPACE) | (data == _NEWLINE)
    last_separator = np.maximum.accumulate(np.where(separator, index, -1))
    position = (index - last_separator - 1) & 63
    word = ~separator
    contribution = (data[word].astype(np.uint32) + np.uint32(1)) * _BYTE_MULT[position[word]]
    token_start = word & ~np.concatenate(([False], word[:-1]))
    starts_in_word = np.flatnonzero(token_start[word])
    tokens = np.add.reduceat(contribution, starts_in_word, dtype=np.uint32)
    document = np.cumsum(data == _NEWLINE)[token_start]
    same = document[:-1] == document[1:]
    pairs = (tokens[:-1] * _PAIR + tokens[1:])[same]
    counts = np.bincount(document[:-1][same], minlength=len(contents))
    starts = np.zeros(len(contents), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return pairs, starts


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (as datasketch applies it before permuting)."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


class Signer:
    """Computes ``num_perm``-value MinHash signatures with datasketch's permutations."""

    scheme: Final = "affine32"

    def __init__(self, num_perm: int = 64, seed: int = 1) -> None:
        from datasketch import MinHash

        self.num_perm = num_perm
        self.seed = seed
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme=self.scheme).permutations
        self._a = np.asarray(a, dtype=np.uint32)
        self._b = np.asarray(b, dtype=np.uint32)

    def sign(self, contents: Sequence[bytes]) -> np.ndarray:
        """One row of ``num_perm`` uint32 values per content (of two tokens at least)."""
        if not contents:
            return np.empty((0, self.num_perm), dtype=np.uint32)
        pairs, starts = pair_hashes(contents)
        permuted = np.multiply(_fmix32(pairs).reshape(-1, 1), self._a)
        permuted += self._b
        return np.minimum.reduceat(permuted, starts, axis=0)
