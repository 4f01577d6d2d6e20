"""Parquet files: one document per row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.readers.base import UNREADABLE_FILE, RawRecord, UnreadableFile, reader

BATCH_ROWS = 4096


@reader("parquet", extensions=(".parquet", ".pq"))
def read_parquet(stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    """Rows in file order, read a batch at a time so memory stays bounded.

    Row groups are independent, so a damaged one (a corrupt page) loses only its rows from
    the damage on: the others are read, and every damaged group is named in one error record
    after the last row. Pages are checked against their CRC where the writer stored one, so
    a flipped byte inside a page is found rather than read as other text.
    """
    data = stream.read()
    try:
        pf = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableFile(
            path, UNREADABLE_FILE, f"not a readable Parquet file of {len(data):,} bytes ({exc})"
        ) from None
    start = 0  # rows before the current row group
    damaged = []
    for group in range(pf.num_row_groups):
        size = pf.metadata.row_group(group).num_rows
        row = start
        try:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                for rec in batch.to_pylist():
                    row += 1
                    yield RawRecord(row, rec)
        except (pa.ArrowException, OSError) as exc:
            damaged.append(f"row group {group} (rows {row + 1:,}-{start + size:,} lost: {exc})")
        start += size
    if damaged:
        detail = f"{len(damaged)} of {pf.num_row_groups} row groups unreadable: {'; '.join(damaged)}"
        yield RawRecord(start + 1, None, UNREADABLE_FILE, detail, detail)
