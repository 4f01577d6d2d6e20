"""The reader contract: one function per input format, turning a file into raw records.

A reader gets an already-decompressed binary stream (``.gz``, ``.bz2``, ``.zst`` are
undone by the engine) and yields ``RawRecord``s in file order. It never raises on a bad
record: it yields one with ``error`` set (and the raw text, for the rejected shard), so the
run goes on and the record is accounted for. It raises only when the file as a whole is
unreadable, and then with the file's name.

Formats register themselves with ``@reader("name", extensions=(...))``; the ingest stage
picks one by the input's ``format:`` or by file extension.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from dataprep.core.storage import path_part, strip_compression

RAW_LIMIT = 2000  # characters of a bad record kept in the rejected shard


@dataclass
class RawRecord:
    """One record of an input file; ``fields`` is None when the record is bad."""

    row: int  # 1-based position in the file: line, row or record number
    fields: dict[str, Any] | None
    error: str | None = None  # reason code, e.g. "malformed_json"; goes to rejected/
    detail: str = ""  # human-readable detail of the error
    raw: str = ""  # the record as text, truncated to RAW_LIMIT, for rejected rows


ReaderFn = Callable[[BinaryIO, str, dict[str, Any]], Iterator[RawRecord]]


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    extensions: tuple[str, ...]
    fn: ReaderFn
    text_field: str = "text"  # the field holding document text, unless the input maps another


_READERS: dict[str, ReaderSpec] = {}

# Modules that register readers; imported on first lookup so that the heavy ones (HTML
# extraction, XML dumps) cost nothing for a JSONL-only pipeline.
_MODULES = (
    "dataprep.readers.jsonl",
    "dataprep.readers.parquet",
    "dataprep.readers.text",
    "dataprep.readers.warc",
    "dataprep.readers.mediawiki",
    "dataprep.readers.stackexchange",
)


def reader(name: str, extensions: tuple[str, ...], text_field: str = "text") -> Callable[[ReaderFn], ReaderFn]:
    """Register ``fn`` as the reader of format ``name`` for files ending in ``extensions``."""

    def wrap(fn: ReaderFn) -> ReaderFn:
        _READERS[name] = ReaderSpec(name, extensions, fn, text_field)
        return fn

    return wrap


def _load() -> dict[str, ReaderSpec]:
    if len(_READERS) < len(_MODULES):
        for module in _MODULES:
            importlib.import_module(module)
    return _READERS


def get_reader(name: str) -> ReaderSpec:
    readers = _load()
    if name not in readers:
        raise ValueError(f"unknown input format {name!r}; known formats: {', '.join(sorted(readers))}")
    return readers[name]


def reader_for_path(path: str) -> ReaderSpec:
    """The reader whose extension matches ``path`` (longest match wins, compression ignored)."""
    name = strip_compression(path_part(path)).lower()
    best: tuple[int, ReaderSpec] | None = None
    for spec in _load().values():
        for ext in spec.extensions:
            if name.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), spec)
    if best is None:
        known = ", ".join(sorted({e for s in _READERS.values() for e in s.extensions}))
        shown = path if "://" not in path else path_part(path).rsplit("@", 1)[-1]
        raise ValueError(f"cannot tell the format of {shown!r} from its extension (known: {known}); set format:")
    return best[1]


def decode_utf8(data: bytes) -> str | None:
    """Strict UTF-8 decoding; None if the bytes are not valid UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
