"""Text normalization and word n-gram hashing, vectorized over a whole batch of texts.

Normalization: NFKC, lower case, apostrophes removed ("don't" == "dont"), every other
non-letter/digit character (punctuation, whitespace, underscores) a word separator. NFKC
(shared with dedup), splitting and the xxh3-64 word hashes (seed 0) come from
``dataprep.text``; n-gram hashes are a polynomial over word hashes, so the hashes of every length up to
n come out of one rolling pass.

polars does the string work (NFKC, case, regex split in Rust, ~2x faster than Python's
``re`` per core on our data); the same function tokenizes benchmark items and documents,
so both sides always split text identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from dataprep import text

APOSTROPHES = r"['’‘ʼ`´]"
WORD = r"[^\W_]+"
NON_WORD = r"[\W_]"  # one separator character: its complement is a character of a WORD
_P = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier of the rolling polynomial
_LENGTH_SALT = 0x632BE59BD9B4E019  # keeps n-grams of different lengths apart


def normalize(texts: pl.Series) -> pl.Series:
    """The normalized form every match is made on (see module docstring)."""
    return text.nfkc(texts).str.to_lowercase().str.replace_all(APOSTROPHES, "")


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
    words, counts = text.split_words(normalize(series), WORD)
    ends = np.cumsum(counts)
    return Tokens(text.word_hashes(words), ends - counts, ends)


def _salted(roll: np.ndarray, length: int) -> np.ndarray:
    """The key of an n-gram: its polynomial plus a per-length salt.

    No finalizer is needed: the last step adds a uniformly random word hash, so every bit of
    the key is already uniform (which the index's top-bits bitmap relies on).
    """
    return roll + np.uint64((length * _LENGTH_SALT) & 0xFFFFFFFFFFFFFFFF)


def rolling_ngrams(hashes: np.ndarray, lengths: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """``(L, keys)`` for each wanted L (ascending), where ``keys[i]`` hashes words ``i .. i+L-1``.

    Positions run over the flat word array, so an n-gram may straddle two texts; callers
    keep only positions with ``i + L <= end of the text holding i``.
    """
    wanted = sorted(set(lengths))
    roll = hashes.copy()
    for length in range(1, (wanted[-1] if wanted else 0) + 1):
        if length > 1:
            roll = roll[:-1]  # a view: the update below is in place, no new array per length
            roll *= _P
            roll += hashes[length - 1 :]
        if len(roll) == 0:
            return
        if length in wanted:
            yield length, _salted(roll, length)


def text_ends(tokens: Tokens) -> np.ndarray:
    """For every word, the end (exclusive) of the text holding it."""
    return np.repeat(tokens.ends, tokens.lengths)
