"""Streams tokenized shards into the training formats: one ``.bin`` (flat and Megatron),
Megatron's ``.idx`` and the flat document index, shard by shard, never the whole corpus
in memory (only 4 bytes of length per document, which the ``.idx`` needs up front)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.core.contract import ArtifactWriter
from dataprep.tokenize.flat import doc_index_schema
from dataprep.tokenize.megatron import write_index


class _Sink(io.RawIOBase):
    """A seekless file object over an artifact stream: ParquetWriter needs ``tell`` and ``closed``."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.pos = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def write(self, data: Any) -> int:
        n = len(data)
        self.stream.write(bytes(data))
        self.pos += n
        return n


def export_tokens(
    shards: Iterable[pa.Table], artifacts: ArtifactWriter, prefix: str, dtype: np.dtype
) -> dict[str, Any]:
    """Write ``<prefix>.bin``, ``<prefix>.idx`` and ``<prefix>.docs.parquet``; return their figures."""
    lengths: list[np.ndarray] = []
    start = 0
    with artifacts.open(f"{prefix}.bin") as bin_f, artifacts.open(f"{prefix}.docs.parquet") as doc_f:
        writer = pq.ParquetWriter(_Sink(doc_f), doc_index_schema(dtype), compression="zstd")
        for table in shards:
            ids = table.column("input_ids")
            bin_f.write(pc.list_flatten(ids).to_numpy().astype(dtype, copy=False).tobytes())
            n = pc.list_value_length(ids).to_numpy(zero_copy_only=False).astype(np.int64)
            starts = start + np.concatenate([[0], np.cumsum(n[:-1])]).astype(np.int64) if len(n) else n
            writer.write_table(
                pa.table({"id": table.column("id"), "start": starts, "n_tokens": n}, schema=doc_index_schema(dtype))
            )
            lengths.append(n)
            start += int(n.sum())
        writer.close()
    all_lengths = np.concatenate(lengths) if lengths else np.empty(0, np.int64)
    with artifacts.open(f"{prefix}.idx") as idx_f:
        write_index(idx_f, all_lengths, dtype)
    return {
        "documents": int(len(all_lengths)),
        "tokens": start,
        "dtype": np.dtype(dtype).name,
        "megatron_prefix": prefix,
        "flat_bin": f"{prefix}.bin",
        "doc_index": f"{prefix}.docs.parquet",
    }
