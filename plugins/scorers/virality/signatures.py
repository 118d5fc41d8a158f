"""Text → MinHash signatures, a whole batch at a time.

`contents` turns posts into their content: NFKC, case-folded, without URLs, without the leading
reply ``@handles``, punctuation gone; each character of a script written without spaces
(Chinese, Japanese, Thai…) is a token of its own. A whole batch is normalised at once: ASCII
posts (nearly all) are joined into one string, so that the URL and reply-handle patterns run
once over the batch and one byte table lower-cases it and blanks punctuation; the others go
through Unicode normalisation one by one and join the same blob.

The shingles are the overlapping token pairs. Each token's hash is a polynomial in its bytes,
read off one prefix sum over the whole batch (``(P[end] - P[start]) / M^start``, in arithmetic
modulo 2^32 where every odd ``M`` has an inverse); a pair's hash combines its two tokens'. They
feed datasketch's ``affine32`` MinHash scheme: the MurmurHash3 finaliser, then
``a * h + b mod 2^32`` with datasketch's own permutations. The signatures are bit for bit those
of ``datasketch.MinHash(scheme="affine32").update_batch`` on the same pair hashes (a test checks
it); a few numpy passes per batch, instead of one MinHash object per post, is what makes MinHash
affordable for every mention of the stream.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final, NamedTuple

import numpy as np

_UNSPACED: Final = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3100-\u312f"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\uff66-\uff9f"
)
#: URLs, in lower-case text (each pattern starts with a literal, which the engine searches fast).
_URL: Final = re.compile(r"https?://\S+")
_WWW: Final = re.compile(r"www\.\S+")
#: Leading reply handles, after the line break that starts each post of a batch.
_REPLY_PREFIX: Final = re.compile(r"\n(?:[^\S\n]*@[\w.\-]+)+")
_UNSPACED_CHAR: Final = re.compile(f"[{_UNSPACED}]")
_SPACE, _NEWLINE = 32, 10
#: ASCII letters to lower case; digits, line breaks and the bytes of non-ASCII characters
#: (which only normalised, hence already clean, posts carry) kept; every other byte a space.
_WORD_BYTES: Final = bytes(
    c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 or c >= 128 or c == _NEWLINE else _SPACE
    for c in range(256)
)
#: 1 for a word byte, 0 for a space or a line break: a `bytes.translate` table, which maps a
#: batch's bytes in one pass in C (five times faster than indexing a numpy table with them).
_WORD_FLAGS: Final = bytes(c not in (_SPACE, _NEWLINE) for c in range(256))
_TOKEN_BASE: Final = np.uint32(0x01000193)  # odd: invertible modulo 2^32
_PAIR: Final = np.uint32(0x9E3779B1)  # the golden-ratio multiplier: a pair's order matters
#: Powers of the token base (and of its inverse) kept for blobs up to this many bytes.
_KEPT_POWERS: Final = 1 << 20
#: Permuted pair values a `Signer` computes at once, in a buffer it keeps (1 MiB): 64
#: permutations of 4,096 pairs (a batch of about 250 tweets) in one pass, more in several.
SCRATCH: Final = 1 << 18


class _CharTable(dict[int, "str | int"]):
    """`str.translate`'s table for the content of a non-ASCII post, filled as characters come:
    a character that is not a word character (``[\\W_]`` in `re`: not `str.isalnum`, or ``_``)
    becomes a space, one of a script written without spaces becomes a token of its own (spaces
    around it), any other stays. One pass in C over the post where two regular expressions
    took 2.4 times as long (decision 0152). Holds at most `_CHARS_KEPT` characters; past that,
    the others are looked up each time they come (the same result, slower)."""

    def __missing__(self, code: int) -> str | int:
        char = chr(code)
        value: str | int
        if not char.isalnum() or char == "_":
            value = " "
        elif _UNSPACED_CHAR.match(char):
            value = f" {char} "
        else:
            value = code  # itself
        if len(self) < _CHARS_KEPT:
            self[code] = value
        return value


#: Characters `_CHARS` keeps (60-150 bytes each, 0.6 MB at most): the everyday characters of a
#: script, even Chinese or Japanese, fit.
_CHARS_KEPT: Final = 4096
_CHARS: Final = _CharTable()


def _normalize_unicode(text: str) -> str:
    """A non-ASCII post's content: its tokens separated by one or more spaces (the same
    tokens as replacing each run of ``[\\W_]`` by one space, after putting spaces around each
    character of a script written without them)."""
    text = _without_urls(unicodedata.normalize("NFKC", text).casefold().replace("\n", " "))
    if "@" in text:
        text = _REPLY_PREFIX.sub("", "\n" + text).lstrip("\n")
    return text.translate(_CHARS)


def _without_urls(text: str) -> str:
    if "://" in text:
        text = _URL.sub(" ", text)
    if "www." in text:
        text = _WWW.sub(" ", text)
    return text


def contents(texts: Sequence[str]) -> bytes:
    """The content of each post (see the module doc), one per line: tokens of word bytes,
    separated by one or more spaces."""
    lines = [text if text.isascii() else _normalize_unicode(text) for text in texts]
    blob = "\n".join(lines)
    if lines and blob.count("\n") != len(lines) - 1:  # a post of several lines
        blob = "\n".join(line.replace("\n", " ") for line in lines)
    blob = _without_urls("\n" + blob.lower())
    if "@" in blob:
        blob = _REPLY_PREFIX.sub("\n", blob)
    return blob[1:].encode().translate(_WORD_BYTES)


def normalize(text: str) -> bytes:
    """The content of one post, its tokens separated by single spaces."""
    return b" ".join(contents([text]).split())


class Shingles(NamedTuple):
    """The token-pair hashes of a batch of contents, concatenated in content order."""

    pairs: np.ndarray
    #: Pairs of each content (0 for a content of fewer than two tokens).
    pair_counts: np.ndarray
    #: Tokens of each content.
    token_counts: np.ndarray


_powers: tuple[np.ndarray, np.ndarray] = (np.ones(1, dtype=np.uint32), np.ones(1, dtype=np.uint32))


def _base_powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """``M^i`` and ``M^-i`` modulo 2^32 for i < length."""
    global _powers
    if len(_powers[0]) >= length:
        return _powers
    size = max(length, min(2 * len(_powers[0]), _KEPT_POWERS))
    inverse = np.uint32(pow(int(_TOKEN_BASE), -1, 2**32))
    powers = []
    for base in (_TOKEN_BASE, inverse):
        steps = np.full(size, base, dtype=np.uint32)
        steps[0] = 1
        powers.append(np.cumprod(steps, dtype=np.uint32))
    if size <= _KEPT_POWERS:
        _powers = (powers[0], powers[1])
    return powers[0], powers[1]


def shingles(data: bytes, count: int) -> Shingles:
    """The token pairs of `count` contents, one per line of `data` (as `contents` makes them)."""
    framed = b"\n" + data + b"\n"  # every token starts and ends inside
    raw = np.frombuffer(framed, dtype=np.uint8)
    power, inverse = _base_powers(len(raw))
    prefix = np.zeros(len(raw) + 1, dtype=np.uint32)
    np.cumsum((raw + np.uint32(1)) * power[: len(raw)], dtype=np.uint32, out=prefix[1:])
    word = np.frombuffer(framed.translate(_WORD_FLAGS), dtype=np.bool_)
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1
    starts, ends = edges[0::2], edges[1::2]
    tokens = (prefix[ends] - prefix[starts]) * inverse[starts]
    if not count:
        return Shingles(tokens[:0], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    # the tokens before each line break (count + 1 of them): a content's tokens lie between two
    # (a few hundred searches where finding each token's line took thousands)
    token_counts = np.diff(np.searchsorted(starts, np.flatnonzero(raw == _NEWLINE)))
    document = np.repeat(np.arange(count), token_counts)
    same = document[:-1] == document[1:]
    return Shingles((tokens[:-1] * _PAIR + tokens[1:])[same], np.maximum(token_counts - 1, 0), token_counts)


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
        self.num_perm = num_perm
        self.seed = seed
        # datasketch's affine32 permutations, drawn as MinHash draws them (importing datasketch
        # for them would import scipy: 0.4 s of start-up); odd multipliers keep them bijective.
        generator = np.random.RandomState(seed)
        a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        self._a = a.reshape(-1, 1)
        self._b = b.reshape(-1, 1)
        #: Where the permuted pairs are written, kept from batch to batch (allocated at first use).
        self._scratch = np.empty(0, dtype=np.uint32)

    def sign(self, found: Shingles) -> np.ndarray:
        """One row of ``num_perm`` uint32 values per content that has a pair at least.

        The permuted pairs (permutations × pairs: each reduction runs along a contiguous row)
        are written into a kept buffer of `SCRATCH` values, as many permutations at a time as
        fit. A fresh array of that size in each batch is a fresh mapping in a long-running
        process: its pages were faulted in anew every batch of a replay (half of the process's
        page faults), where a buffer kept stays mapped (decision 0151)."""
        counts = found.pair_counts[found.pair_counts > 0]
        if not len(counts):
            return np.empty((0, self.num_perm), dtype=np.uint32)
        starts = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        hashed = _fmix32(found.pairs)
        pairs = len(hashed)
        if pairs > SCRATCH:  # one post longer than the buffer: allocate, as the exception
            permuted = np.multiply(self._a, hashed)
            permuted += self._b
            return np.ascontiguousarray(np.minimum.reduceat(permuted, starts, axis=1).T)
        if not len(self._scratch):
            self._scratch = np.empty(SCRATCH, dtype=np.uint32)
        step = min(self.num_perm, SCRATCH // pairs)
        minima = np.empty((self.num_perm, len(counts)), dtype=np.uint32)
        for first in range(0, self.num_perm, step):
            last = min(first + step, self.num_perm)
            permuted = self._scratch[: (last - first) * pairs].reshape(last - first, pairs)
            np.multiply(self._a[first:last], hashed, out=permuted)
            permuted += self._b[first:last]
            np.minimum.reduceat(permuted, starts, axis=1, out=minima[first:last])
        return np.ascontiguousarray(minima.T)
