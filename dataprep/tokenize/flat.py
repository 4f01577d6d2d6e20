"""The flat token file for nanoGPT-style loaders, and its document index (the lineage).

``<prefix>.bin`` is every document's tokens back to back (uint16 or uint32, little-endian):
``np.memmap(path, dtype)`` is all a training loop needs. It is byte for byte the
Megatron ``.bin`` too, so one file serves both formats. ``<prefix>.docs.parquet`` has one
row per document in file order: ``id``, ``start`` (token offset) and ``n_tokens``; its
schema metadata names the dtype. Every token position maps back to a document id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DOC_INDEX_SCHEMA = pa.schema([("id", pa.string()), ("start", pa.int64()), ("n_tokens", pa.int64())])
DTYPE_KEY = b"dtype"


def doc_index_schema(dtype: np.dtype) -> pa.Schema:
    """The document index's schema, carrying the token dtype of the ``.bin``."""
    return DOC_INDEX_SCHEMA.with_metadata({DTYPE_KEY: np.dtype(dtype).name.encode()})


@dataclass
class FlatTokens:
    """A flat token file opened for reading, with its document index."""

    tokens: np.ndarray  # memory-mapped
    index: pa.Table  # id, start, n_tokens

    def document(self, i: int) -> np.ndarray:
        start = self.index.column("start")[i].as_py()
        return self.tokens[start : start + self.index.column("n_tokens")[i].as_py()]

    def document_at(self, position: int) -> str:
        """The id of the document holding token ``position`` (lineage of a training sample)."""
        starts = self.index.column("start").to_numpy()
        return self.index.column("id")[int(np.searchsorted(starts, position, side="right")) - 1].as_py()


def read_flat(bin_path: str, index_path: str) -> FlatTokens:
    """Open ``<prefix>.bin`` with the dtype its ``<prefix>.docs.parquet`` names."""
    index = pq.read_table(index_path)
    dtype = np.dtype(index.schema.metadata[DTYPE_KEY].decode())
    return FlatTokens(np.memmap(bin_path, dtype=dtype, mode="r"), index)
