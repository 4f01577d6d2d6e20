"""What a mixture counts per document: tokens (exact with a tokenizer, else a labelled
estimate) or documents."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.tokenize.encoder import load_tokenizer, token_counts

Unit = Literal["tokens", "documents"]
BYTES_PER_TOKEN = 4  # a common rule of thumb for English BPE vocabularies; only used as a labelled estimate


def describe_units(unit: Unit, tokenizer: str | None) -> str:
    """How units were counted, as written in the manifest (estimates say so)."""
    if unit == "documents":
        return "documents"
    if tokenizer is None:
        return f"tokens, ESTIMATE: UTF-8 bytes / {BYTES_PER_TOKEN} (no tokenizer configured)"
    return f"tokens, exact: {tokenizer} (text only, no BOS/EOS)"


def columns_needed(unit: Unit) -> list[str]:
    """Columns ``count_units`` reads: counting documents needs no text."""
    return [] if unit == "documents" else ["text"]


def count_units(table: pa.Table, unit: Unit, tokenizer: str | None) -> np.ndarray:
    """Units per document of ``table``, int64, in row order."""
    if unit == "documents":
        return np.ones(table.num_rows, dtype=np.int64)
    texts = table.column("text")
    if tokenizer is None:
        nbytes = pc.binary_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)
        return (nbytes + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN
    return token_counts(load_tokenizer(tokenizer), texts.to_pylist())
