"""The reader contract: one function per input format, turning a file into raw records.

A reader gets an already-decompressed binary stream (``.gz``, ``.bz2``, ``.zst`` are
undone by the engine) and yields ``RawRecord``s in file order. It never raises on a bad
record: it yields one with ``error`` set (and the raw text, for the rejected shard), so the
run goes on and the record is accounted for.

A damaged file (crawl data often is: a truncated download, a Parquet file without its
footer, a corrupt page) keeps what can be read: the records before the damage are yielded,
and the damage becomes *one* error record, ``truncated_file`` or ``unreadable_file``,
whose detail says where (byte offset, row group). ``read_records`` does this for a
compressed stream that breaks off mid-file; a reader that finds damage itself raises
``UnreadableFile`` (or yields the error record, to keep going past it).

Formats register themselves with ``@reader("name", extensions=(...))``; the ingest stage
picks one by the input's ``format:`` or by file extension.

A format whose records can be found from any point of the file also registers a ``Splitter``,
so that a big file is read in pieces by several tasks with exactly the rows of one whole-file
read: ``LINES`` (JSON Lines: byte ranges cut at line starts) and Parquet's row groups. A
compressed file is always read whole (a compressed stream can only be decoded from its
start), and so are formats without an exact cut: WARC and XML dumps (records span lines and
their numbering needs the whole file) and text files (a file is one document).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import pyarrow as pa

from dataprep.core.storage import open_input_file, path_part, strip_compression

RAW_LIMIT = 2000  # characters of a bad record kept in the rejected shard
TRUNCATED_FILE = "truncated_file"  # the file ends early: the records before the break are kept
UNREADABLE_FILE = "unreadable_file"  # the file (or a part of it, e.g. a row group) cannot be decoded
DAMAGE_REASONS = (TRUNCATED_FILE, UNREADABLE_FILE)


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
class Piece:
    """An exact part of a file that a task reads on its own: bytes ``[start, stop)`` cut at line
    starts, or row groups ``[start, stop)``; ``first_row`` records (lines) of the file come before
    it, so row numbers (and ids) are those of a whole-file read."""

    start: int
    stop: int
    first_row: int
    size: int  # bytes as stored, what read tasks are sized by


class Splitter(Protocol):
    """How a format cuts a file (random access, as stored) into pieces and reads one."""

    def cut(self, file: pa.NativeFile, piece_bytes: int) -> list[Piece]:
        """Pieces of about ``piece_bytes`` covering the file, in order."""
        ...

    def read(
        self, spec: ReaderSpec, file: pa.NativeFile, piece: Piece, path: str, options: dict[str, Any]
    ) -> Iterator[RawRecord]:
        """The piece's records, numbered as in the whole file."""
        ...


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    extensions: tuple[str, ...]
    fn: ReaderFn
    text_field: str = "text"  # the field holding document text, unless the input maps another
    splitter: Splitter | None = None  # None: a file of this format is always read whole


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


def reader(
    name: str, extensions: tuple[str, ...], text_field: str = "text", splitter: Splitter | None = None
) -> Callable[[ReaderFn], ReaderFn]:
    """Register ``fn`` as the reader of format ``name`` for files ending in ``extensions``."""

    def wrap(fn: ReaderFn) -> ReaderFn:
        _READERS[name] = ReaderSpec(name, extensions, fn, text_field, splitter)
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


class UnreadableFile(ValueError):
    """A reader's file is damaged from some point on (or throughout): ``reason`` is one of
    ``DAMAGE_REASONS``, ``detail`` says where, without the path (it goes into rejected rows)."""

    def __init__(self, path: str, reason: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.reason, self.detail = reason, detail


# What pyarrow's decompressing streams raise for damaged data (gzip, bz2, zstd, lz4, brotli,
# snappy): only these make a file damaged; any other OSError (a network failure reading an
# object store) is not the file's fault and stays an error, for the engine to retry.
_TRUNCATED = re.compile(r"truncated compressed stream", re.I)
_CORRUPT = re.compile(r"inflate failed|decompress(ion)? failed|corrupt", re.I)
_STEP = 64 << 10  # bytes per inner read, so a break loses only what the stream decoded but had not handed over


class _Guarded:
    """A decompressed stream that, when the compressed data breaks off or is corrupt, first
    hands over the bytes decoded before the break, then raises ``UnreadableFile`` on every
    later read. Reads of the whole stream (``read()``) raise at once: half a file is not a
    record."""

    def __init__(self, stream: BinaryIO, path: str) -> None:
        self._stream, self._path = stream, path
        self.offset = 0  # decompressed bytes handed over
        self._broken: UnreadableFile | None = None

    def read(self, size: int = -1) -> bytes:
        if self._broken:
            raise self._broken
        out = bytearray()
        while size < 0 or len(out) < size:
            try:
                chunk = self._stream.read(_STEP if size < 0 else min(_STEP, size - len(out)))
            except OSError as exc:
                self._broken = self._damage(exc, self.offset + len(out))
                if size < 0 or not out:
                    raise self._broken from None
                break
            if not chunk:
                break
            out += chunk
        self.offset += len(out)
        return bytes(out)

    def _damage(self, exc: OSError, offset: int) -> UnreadableFile:
        message = str(exc)
        if _TRUNCATED.search(message):
            reason, what = TRUNCATED_FILE, "the compressed data ends early (truncated file)"
        elif _CORRUPT.search(message):
            reason, what = UNREADABLE_FILE, f"the compressed data is corrupt ({message})"
        else:
            raise exc
        return UnreadableFile(self._path, reason, f"{what} at byte {offset:,} of the decompressed stream")


def read_records(spec: ReaderSpec, stream: BinaryIO, path: str, options: dict[str, Any]) -> Iterator[RawRecord]:
    """The reader's records of one file, with damage accounted as one error record after the
    records read before it (numbered after them, so its id is never a record's)."""
    row = 0
    try:
        for rec in spec.fn(_Guarded(stream, path), path, options):
            row = max(row, rec.row)
            yield rec
    except UnreadableFile as exc:
        detail = exc.detail + (f"; the records up to row {row:,} are kept" if row else "; no record could be read")
        yield RawRecord(row + 1, None, exc.reason, detail, detail)  # the detail is the row's text too


def split_file(spec: ReaderSpec, path: str, piece_bytes: int) -> list[Piece] | None:
    """Pieces of about ``piece_bytes`` that read apart give the rows of a whole-file read; None
    when the file is read whole (no splitter, compressed, one piece, or damaged so that its
    pieces cannot be found: the whole-file read then accounts for the damage as always)."""
    if spec.splitter is None or strip_compression(path_part(path)) != path_part(path):
        return None
    with open_input_file(path) as file:
        try:
            pieces = spec.splitter.cut(file, piece_bytes)
        except (pa.ArrowInvalid, OSError):
            return None
    return pieces if len(pieces) > 1 else None


def read_piece(spec: ReaderSpec, path: str, piece: Piece, options: dict[str, Any]) -> Iterator[RawRecord]:
    """The records of one piece of ``split_file``, numbered as in the whole file."""
    if spec.splitter is None:
        raise ValueError(f"format {spec.name!r} cannot be read in pieces")
    with open_input_file(path) as file:
        yield from spec.splitter.read(spec, file, piece, path, options)


_CUT_CHUNK = 8 << 20


class _Lines:
    """Records are lines (numbered from 1, blank ones counted): a piece starts at a line start,
    and its first row is the count of newlines before it, from one pass over the file
    (``bytes.count``/``find``: 1.7 GB/s here, against ~0.1 GB/s to parse JSON Lines)."""

    def cut(self, file: pa.NativeFile, piece_bytes: int) -> list[Piece]:
        size = file.size()
        pieces: list[Piece] = []
        start = first = lines = pos = 0  # ``lines``: newlines before ``pos``
        target = piece_bytes  # the next piece starts at the first line start at or after it
        while chunk := file.read(_CUT_CHUNK):
            while target < size and target <= pos + len(chunk):
                nl = chunk.find(b"\n", max(target - 1 - pos, 0))
                if nl < 0:  # a line longer than what is left of the chunk: go on in the next
                    break
                cut = pos + nl + 1
                if cut < size:
                    pieces.append(Piece(start, cut, first, cut - start))
                    start, first = cut, lines + chunk.count(b"\n", 0, nl + 1)
                target = cut + piece_bytes
            lines += chunk.count(b"\n")
            pos += len(chunk)
        pieces.append(Piece(start, size, first, size - start))
        return pieces

    def read(
        self, spec: ReaderSpec, file: pa.NativeFile, piece: Piece, path: str, options: dict[str, Any]
    ) -> Iterator[RawRecord]:
        file.seek(piece.start)
        for rec in read_records(spec, _Span(file, piece.stop - piece.start), path, options):
            rec.row += piece.first_row
            yield rec


LINES = _Lines()


class _Span:
    """The next ``size`` bytes of a file as a stream."""

    def __init__(self, file: pa.NativeFile, size: int) -> None:
        self._file, self._left = file, size

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data
