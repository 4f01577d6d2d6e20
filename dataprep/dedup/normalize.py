"""Text normalization shared by exact and near-duplicate detection.

Both detectors must see the same text, otherwise a pair could be an exact duplicate but
not a near one. Everything is a vectorized polars string expression (Rust), not a Python
loop over documents.
"""

from __future__ import annotations

import polars as pl

from dataprep.core.contract import StageConfig
from dataprep.text import nfkc

# Unicode punctuation and symbols, replaced by a space so "end.Start" stays two words.
_PUNCT = r"\p{P}\p{S}"


class Normalization(StageConfig):
    """Which differences between two texts do not count when comparing them."""

    nfkc: bool = True  # compatibility forms: full-width letters, ligatures, non-breaking spaces
    lowercase: bool = True
    punctuation: bool = True  # drop punctuation and symbols
    digits: bool = False  # map every digit to 0 ("page 12" == "page 31")
    whitespace: bool = True  # collapse runs of whitespace, trim the ends


def normalize(texts: pl.Series, opts: Normalization) -> pl.Series:
    """The normalized form of each text, in the same order."""
    if opts.nfkc:
        texts = nfkc(texts)
    expr = pl.col("t")
    if opts.lowercase:
        expr = expr.str.to_lowercase()
    if opts.digits:
        expr = expr.str.replace_all(r"\d", "0")
    # Punctuation and whitespace become spaces in a single regex pass (one scan, not two).
    spaced = (_PUNCT if opts.punctuation else "") + (r"\s" if opts.whitespace else "")
    if spaced:
        expr = expr.str.replace_all(_runs_to_rewrite(spaced) if opts.whitespace else f"[{spaced}]+", " ")
    if opts.whitespace:
        expr = expr.str.strip_chars(" ")
    return pl.DataFrame({"t": texts}).select(expr).to_series().alias(texts.name)


def _runs_to_rewrite(spaced: str) -> str:
    """A regex for the runs of ``spaced`` characters (a class that holds whitespace) that are not
    already a single space: replacing them by one space is replacing every run, but the single
    spaces between words, most of the runs, are never matched and rewritten (0.50 -> 0.29 CPU s
    for 200k short documents)."""
    return f"[{spaced}--[ ]][{spaced}]*| [{spaced}]+"
