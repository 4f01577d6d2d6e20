"""Documents of any Parquet or JSONL file, for an audit of data that is not a pipeline run.

Each document keeps where it came from (file, 1-based row or line) and an id: the file's
own id field when it has one, else ``<file>:<row>``. Rows that cannot be checked (bad
JSON, no text) are listed with a reason, never skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.core.storage import open_input
from dataprep.readers.base import get_reader, reader_for_path

FORMATS = ("parquet", "jsonl")


@dataclass
class Documents:
    texts: list[str]
    ids: list[str]
    rows: list[int]
    unreadable: list[dict[str, object]] = field(default_factory=list)


def corpus_format(path: str) -> str:
    """``parquet`` or ``jsonl``; a clear error for anything else."""
    try:
        name = reader_for_path(path).name
    except ValueError:
        name = None
    if name not in FORMATS:
        raise ValueError(f"{path}: audit reads Parquet or JSONL files (.parquet, .jsonl[.gz|.bz2|.zst])")
    return name  # type: ignore[return-value]


def read_documents(path: str, name: str, text_field: str = "text", id_field: str | None = "id") -> Documents:
    """Every document of the file at ``path``; ``name`` is how the report names the file."""
    if corpus_format(path) == "parquet":
        return _parquet(path, name, text_field, id_field)
    return _jsonl(path, name, text_field, id_field)


def _parquet(path: str, name: str, text_field: str, id_field: str | None) -> Documents:
    if "://" in path:  # object stores: Parquet needs random access, so read the file into memory
        with open_input(path) as stream:
            pf = pq.ParquetFile(pa.BufferReader(stream.read()))
    else:
        pf = pq.ParquetFile(path)
    columns = pf.schema_arrow.names
    if text_field not in columns:
        raise ValueError(f"{path}: no column {text_field!r} (columns: {', '.join(columns)}); set --text-field")
    wanted = [text_field] + ([id_field] if id_field and id_field in columns else [])
    table = pf.read(columns=wanted)
    texts = table.column(text_field).to_pylist()
    ids = table.column(id_field).to_pylist() if len(wanted) > 1 else [None] * len(texts)
    return _collect(name, enumerate(zip(texts, ids), start=1))


def _jsonl(path: str, name: str, text_field: str, id_field: str | None) -> Documents:
    docs = Documents([], [], [])
    records = []
    with open_input(path) as stream:
        for rec in get_reader("jsonl").fn(stream, path, {}):
            if rec.fields is None:
                docs.unreadable.append({"file": name, "row": rec.row, "reason": f"{rec.error}: {rec.detail}"[:200]})
                continue
            records.append((rec.row, (rec.fields.get(text_field), rec.fields.get(id_field) if id_field else None)))
    found = _collect(name, records)
    found.unreadable[:0] = docs.unreadable
    return found


def _collect(name: str, records: Iterable[tuple[int, tuple[Any, Any]]]) -> Documents:
    docs = Documents([], [], [])
    for row, (text, doc_id) in records:
        if not isinstance(text, str):
            docs.unreadable.append(
                {"file": name, "row": row, "reason": "no text" if text is None else "text is not a string"}
            )
            continue
        docs.texts.append(text)
        docs.ids.append(str(doc_id) if doc_id is not None else f"{name}:{row}")
        docs.rows.append(row)
    return docs
