"""Parquet files: one document per row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.core.storage import ARROW_THREADS
from dataprep.readers.base import UNREADABLE_FILE, Piece, RawRecord, ReaderSpec, UnreadableFile, reader

BATCH_ROWS = 4096


class _RowGroups:
    """A piece is a run of row groups: the footer gives each group's rows and bytes, so a piece's
    first row is exact without reading any data."""

    def cut(self, file: pa.NativeFile, piece_bytes: int) -> list[Piece]:
        meta = pq.ParquetFile(file).metadata
        pieces: list[Piece] = []
        start = first = rows = size = 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            if size >= piece_bytes:
                pieces.append(Piece(start, g, first, size))
                start, first, size = g, rows, 0
            size += sum(group.column(c).total_compressed_size for c in range(group.num_columns))
            rows += group.num_rows
        pieces.append(Piece(start, meta.num_row_groups, first, size))
        return pieces

    def read(
        self, spec: ReaderSpec, file: pa.NativeFile, piece: Piece, path: str, options: dict[str, Any]
    ) -> Iterator[RawRecord]:
        pf = pq.ParquetFile(file, page_checksum_verification=True)
        yield from _read_groups(pf, range(piece.start, piece.stop), piece.first_row)


@reader("parquet", extensions=(".parquet", ".pq"), splitter=_RowGroups())
def read_parquet(stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    """Rows in file order, read a batch at a time so memory stays bounded.

    Pages are checked against their CRC where the writer stored one, so a flipped byte
    inside a page is found rather than read as other text.
    """
    data = stream.read()
    try:
        pf = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableFile(
            path, UNREADABLE_FILE, f"not a readable Parquet file of {len(data):,} bytes ({exc})"
        ) from None
    yield from _read_groups(pf, range(pf.num_row_groups), 0)


def _read_groups(pf: pq.ParquetFile, groups: range, first_row: int) -> Iterator[RawRecord]:
    """The rows of ``groups``, numbered after ``first_row``.

    Row groups are independent, so a damaged one (a corrupt page) loses only its rows from
    the damage on: the others are read, and every damaged group is named in one error record
    after the last row.
    """
    start = first_row  # rows before the current row group
    damaged = []
    for group in groups:
        size = pf.metadata.row_group(group).num_rows
        row = start
        try:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], use_threads=ARROW_THREADS):
                for rec in batch.to_pylist():
                    row += 1
                    yield RawRecord(row, rec)
        except (pa.ArrowException, OSError) as exc:
            damaged.append(f"row group {group} (rows {row + 1:,}-{start + size:,} lost: {exc})")
        start += size
    if damaged:
        detail = f"{len(damaged)} of {pf.num_row_groups} row groups unreadable: {'; '.join(damaged)}"
        yield RawRecord(start + 1, None, UNREADABLE_FILE, detail, detail)
