"""Text normalization and word n-gram hashing, vectorized over a whole batch of texts.

Normalization: NFKC, lower case, apostrophes removed ("don't" == "dont"), every other
non-letter/digit character (punctuation, whitespace, underscores) a word separator. Words
are hashed with xxh3-64 (stable across processes and versions, unlike ``hash()`` or polars'
``Series.hash``), each distinct word once per batch; n-gram hashes are a polynomial over
word hashes, so the hashes of every length up to n come out of one rolling pass.

polars does the string work (NFKC, case, regex split in Rust, ~2x faster than Python's
``re`` per core on our data); the same function tokenizes benchmark items and documents,
so both sides always split text identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import polars as pl
import xxhash

APOSTROPHES = r"['’‘ʼ`´]"
WORD = r"[^\W_]+"
_P = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier of the rolling polynomial
_LENGTH_SALT = 0x632BE59BD9B4E019  # keeps n-grams of different lengths apart


def normalize(texts: pl.Series) -> pl.Series:
    """The normalized form every match is made on (see module docstring)."""
    return texts.str.normalize("NFKC").str.to_lowercase().str.replace_all(APOSTROPHES, "")


def split_words(texts: pl.Series) -> pl.Series:
    """A list of normalized words per text (empty list for null or empty text)."""
    return normalize(texts).str.extract_all(WORD).fill_null([])


@dataclass
class Tokens:
    """The words of a batch of texts, flattened: ``hashes[starts[d]:ends[d]]`` is text d."""

    hashes: np.ndarray  # uint64, one per word
    starts: np.ndarray  # int64, first word of each text
    ends: np.ndarray  # int64, one past the last word of each text

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts


def tokenize(texts: Sequence[str | None] | pl.Series) -> Tokens:
    """Normalize, split and hash the words of every text in one vectorized pass."""
    series = texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
    words = split_words(series)
    counts = words.list.len().to_numpy().astype(np.int64)
    ends = np.cumsum(counts)
    flat = words.explode().drop_nulls()
    return Tokens(word_hashes(flat), ends - counts, ends)


def word_hashes(words: pl.Series) -> np.ndarray:
    """xxh3-64 of each word's UTF-8 bytes; each distinct word is hashed once."""
    if len(words) == 0:
        return np.zeros(0, np.uint64)
    distinct = words.unique()
    hashed = pl.Series(np.fromiter((xxhash.xxh3_64_intdigest(w.encode()) for w in distinct.to_list()),
                                   np.uint64, len(distinct)))
    return words.replace_strict(distinct, hashed, return_dtype=pl.UInt64).to_numpy()


def _finish(roll: np.ndarray, length: int) -> np.ndarray:
    """splitmix64 finalizer over (roll + length salt): spreads bits for the bitmap prefilter."""
    x = roll + np.uint64((length * _LENGTH_SALT) & 0xFFFFFFFFFFFFFFFF)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def rolling_ngrams(hashes: np.ndarray, max_len: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(L, keys)`` for L = 1..max_len, where ``keys[i]`` hashes words ``i .. i+L-1``.

    Positions run over the flat word array, so an n-gram may straddle two texts; callers
    keep only positions with ``i + L <= end of the text holding i``.
    """
    roll = hashes.copy()
    for length in range(1, max_len + 1):
        if length > 1:
            roll = roll[:-1] * _P + hashes[length - 1:]
        if len(roll) == 0:
            return
        yield length, _finish(roll, length)


def text_ends(tokens: Tokens) -> np.ndarray:
    """For every word, the end (exclusive) of the text holding it."""
    return np.repeat(tokens.ends, tokens.lengths)
