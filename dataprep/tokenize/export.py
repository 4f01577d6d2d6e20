"""Streams tokenized shards into the training formats: one ``.bin`` (flat and Megatron),
Megatron's ``.idx`` and the flat document index, shard by shard, never the whole corpus
in memory: the ``.idx`` is streamed from per-shard lengths too (memory is O(1) in documents)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.core.contract import ArtifactWriter, ShardRef
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
    shards: Sequence[ShardRef], artifacts: ArtifactWriter, prefix: str, dtype: np.dtype
) -> dict[str, Any]:
    """Write ``<prefix>.bin``, ``<prefix>.idx`` and ``<prefix>.docs.parquet`` from tokenized shards
    (``id``, ``input_ids``, ``n_tokens``) in order; return their figures.

    The ``.idx`` needs the document count before any length, so it is written after the
    ``.bin``, from each shard's ``n_tokens`` read again (small): memory is one shard, whatever
    the number of documents.
    """
    start = 0
    count = 0
    with artifacts.open(f"{prefix}.bin") as bin_f, artifacts.open(f"{prefix}.docs.parquet") as doc_f:
        writer = pq.ParquetWriter(_Sink(doc_f), doc_index_schema(dtype), compression="zstd")
        for ref in shards:
            table = ref.read(["id", "input_ids"])
            ids = table.column("input_ids")
            bin_f.write(pc.list_flatten(ids).to_numpy().astype(dtype, copy=False).tobytes())
            n = pc.list_value_length(ids).to_numpy(zero_copy_only=False).astype(np.int64)
            starts = start + np.concatenate([[0], np.cumsum(n[:-1])]).astype(np.int64) if len(n) else n
            writer.write_table(
                pa.table({"id": table.column("id"), "start": starts, "n_tokens": n}, schema=doc_index_schema(dtype))
            )
            start += int(n.sum())
            count += len(n)
        writer.close()

    def lengths() -> Iterator[np.ndarray]:
        return (ref.read(["n_tokens"]).column("n_tokens").to_numpy() for ref in shards)

    with artifacts.open(f"{prefix}.idx") as idx_f:
        write_index(idx_f, count, lengths, dtype)
    return {
        "documents": count,
        "tokens": start,
        "dtype": np.dtype(dtype).name,
        "megatron_prefix": prefix,
        "flat_bin": f"{prefix}.bin",
        "doc_index": f"{prefix}.docs.parquet",
    }
