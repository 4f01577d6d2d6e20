"""Reading benchmark files: JSONL / JSON / CSV / Parquet, compressed or not, with clear errors."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from typing import Any, TextIO

from dataprep.core.storage import strip_compression


def open_text(path: str) -> TextIO:
    """A text stream over ``path``, undoing ``.gz`` / ``.bz2`` compression."""
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    if path.endswith(".bz2"):
        return io.TextIOWrapper(bz2.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


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

        for row, rec in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield row, rec
    elif fmt == "csv":
        with open_text(path) as f:
            # Row numbers count the header as row 1, so row N is line N of the file
            # (for records without embedded newlines).
            for row, rec in enumerate(csv.DictReader(f), start=2):
                yield row, rec
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
