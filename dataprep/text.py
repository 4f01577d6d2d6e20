"""Text folding, word splitting and word hashing below the stages: NFKC for dedup and
decontamination alike, words and their hashes for decontamination's n-grams.

Both sides compare texts after folding away differences that do not count; keeping NFKC's
quick check here stops them from drifting apart. What each side folds beyond NFKC (dedup:
configurable case, punctuation, digits and whitespace; decontamination: case and apostrophes)
and how it hashes n-grams stay with it: dedup hashes a shingle from its bytes
(``dedup.minhash.shingle_hashes``), decontamination combines the word hashes made here.

Everything runs as polars expressions or Arrow kernels (compiled) or numpy over a whole batch;
Python touches only the texts that need NFKC and each *distinct* word once (to hash it).
"""

from __future__ import annotations

import unicodedata

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import xxhash


def nfkc(texts: pl.Series) -> pl.Series:
    """The NFKC form of each text, computed only where it changes something.

    ASCII text is NFKC already, and most other text (curly quotes, dashes) passes Python's quick
    check, ten times cheaper than normalizing it: NFKC was a third of decontamination's tokenizing
    time on English text. The caller's series is never modified.
    """
    non_ascii = np.flatnonzero((texts.str.len_bytes() != texts.str.len_chars()).fill_null(False).to_numpy())
    if not len(non_ascii):
        return texts
    to_fold = [
        i
        for i, t in zip(non_ascii.tolist(), texts.gather(non_ascii).to_list())
        if not unicodedata.is_normalized("NFKC", t)
    ]
    if not to_fold:
        return texts
    return texts.clone().scatter(to_fold, texts.gather(to_fold).str.normalize("NFKC"))


def split_words(texts: pl.Series, pattern: str) -> tuple[pl.Series, np.ndarray]:
    """All words of the texts back to back, and how many each text has (0 for null text);
    ``pattern`` is a regex matching one word."""
    lists = texts.str.extract_all(pattern)
    return lists.explode().drop_nulls(), lists.list.len().fill_null(0).to_numpy().astype(np.int64)


def word_hashes(words: pl.Series) -> np.ndarray:
    """xxh3-64 (seed 0) of each word's UTF-8 bytes; each distinct word is hashed once.

    Stable across processes, platforms and library versions (unlike ``hash()`` or polars'
    ``Series.hash``): the same n-gram hashes on every worker and in every run. The distinct words
    and each word's index among them come from one hash pass (Arrow's ``dictionary_encode``):
    0.39 s for 3.6M words of 200k short documents, where polars' ``unique`` then an ``Enum``
    cast (two passes) took 0.63 s.
    """
    if len(words) == 0:
        return np.zeros(0, np.uint64)
    arr = words.to_arrow()
    # one chunk: a chunked array would get one dictionary per chunk
    encoded = pc.dictionary_encode(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr)
    distinct = encoded.dictionary.cast(pa.large_binary()).to_pylist()  # UTF-8 bytes, no encode() each
    hashed = np.fromiter(map(xxhash.xxh3_64_intdigest, distinct), np.uint64, len(distinct))
    return hashed[encoded.indices.to_numpy(zero_copy_only=False)]
