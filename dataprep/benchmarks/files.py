"""Reading benchmark files: JSONL / JSON / CSV / Parquet, compressed or not, with clear errors.

Bytes come through ``core.storage`` (local paths or object-store URIs; ``.gz``, ``.bz2``,
``.zst`` undone by extension, as for corpus inputs). Benchmark files are small, so each is
read whole: a file that cannot be read or decoded is one ``ValueError`` naming it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dataprep.core.storage import open_input, strip_compression


def read_bytes(path: str) -> bytes:
    """The file's bytes with its compression undone; an error naming the file if it cannot be read."""
    try:
        with open_input(path) as f:
            return f.read()
    except (OSError, pa.ArrowException) as exc:  # missing, corrupt compressed data, unreachable store
        raise ValueError(f"{path}: cannot read ({exc})") from None


def open_text(path: str) -> io.StringIO:
    """The file's text (UTF-8) as a stream, with universal newlines (``\\r\\n`` read as ``\\n``)."""
    data = read_bytes(path)
    try:
        return io.StringIO(data.decode("utf-8"), newline=None)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start} of the uncompressed file)") from None


def data_format(path: str) -> str | None:
    """``jsonl``, ``json``, ``csv`` or ``parquet`` by extension (compression ignored); None otherwise."""
    ext = os.path.splitext(strip_compression(path).lower())[1]
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}.get(ext)


def read_records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row, record)`` for every record of a JSONL, CSV or Parquet file; row is 1-based.

    A malformed line raises ``ValueError`` naming the file and line: a benchmark that cannot
    be read completely must not be checked partially without anyone knowing.
    """
    fmt = data_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(pa.BufferReader(read_bytes(path)))
        except pa.ArrowException as exc:
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
        for row, rec in enumerate(table.to_pylist(), start=1):
            yield row, rec
    elif fmt == "csv":
        with open_text(path) as f:
            # Row numbers count the header as row 1, so row N is line N of the file
            # (for records without embedded newlines).
            try:
                yield from enumerate(csv.DictReader(f), start=2)
            except csv.Error as exc:
                raise ValueError(f"{path}: not valid CSV ({exc})") from None
    elif fmt in ("jsonl", "json"):
        with open_text(path) as f:
            for row, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {row}: not valid JSON ({exc})") from None
                if not isinstance(rec, dict):
                    raise ValueError(f"{path}, line {row}: expected a JSON object, got {type(rec).__name__}")
                yield row, rec
    else:
        raise ValueError(f"{path}: not a JSONL, CSV or Parquet file (by its extension)")


def texts_of(value: Any) -> list[str]:
    """The non-empty strings in a field value (a string, or a list of strings)."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []
