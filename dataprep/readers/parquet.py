"""Parquet files: one document per row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.readers.base import RawRecord, reader

BATCH_ROWS = 4096


@reader("parquet", extensions=(".parquet", ".pq"))
def read_parquet(stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    """Rows in file order, read a batch at a time so memory stays bounded."""
    try:
        pf = pq.ParquetFile(pa.BufferReader(stream.read()))
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{path}: not a readable Parquet file: {exc}") from None
    row = 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS):
        for rec in batch.to_pylist():
            row += 1
            yield RawRecord(row, rec)
