"""Ingest: raw files (JSONL, Parquet, text folders, and every registered reader) to documents.

This module is the pure part: which files an input names, how one file's records become
rows of the document schema (field mapping, constants, text checks), how a big file is cut
into pieces read apart (``split_file``/``read_piece``, by the format's reader), and which rows
the run-wide URL dedup rejects once every file is read. Reading in parallel, re-sharding and
writing are the engine's (``dataprep/engine/source.py``).

Each row carries ``reason``: null for a good document, else why it is rejected
(``malformed_json``, ``invalid_utf8``, ``missing_text``, ``non_string_text``,
``empty_text``, ``too_large`` (over ``max_doc_bytes``), or a reader's own reason), so
nothing read is ever lost. A damaged file gives its readable records and one row
``truncated_file`` / ``unreadable_file`` saying where the damage is.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from dataprep.core.contract import InputPath, StageConfig
from dataprep.core.schema import CORE_COLUMNS, REASON, dump_meta, make_id
from dataprep.core.storage import expand_inputs, input_size, open_input, strip_compression
from dataprep.readers.base import (
    DAMAGE_REASONS,
    RAW_LIMIT,
    Piece,
    RawRecord,
    ReaderSpec,
    get_reader,
    read_piece,
    read_records,
    reader_for_path,
    split_file,
)
from dataprep.stages.base import SOURCE_SCHEMA, ReadRows, RunWideRejects, Sharding, SourceStage
from dataprep.urls import BLOCKED, DUPLICATE, blocked_by, later_copies, load_blocklist, url_keys

BATCH_ROWS = 8192
DEFAULT_DOMAIN = "default"
TOO_LARGE = "too_large"


class FieldMap(StageConfig):
    """Which field of an input record holds what; ``None`` means the record has none."""

    text: str | None = None  # default: the reader's text field ("text")
    id: str | None = "id"  # kept in meta.orig_id; the document id follows the id rule
    url: str | None = "url"
    domain: str | None = None
    source: str | None = None


class InputSpec(StageConfig):
    """One input: a file, folder or glob, with its format and constants."""

    path: InputPath
    format: str | None = None  # chosen by extension when omitted
    source: str | None = None  # constant source name; default: the input's base name
    domain: str | None = None  # constant domain, e.g. "code" for a glob of code files
    fields: FieldMap = Field(default_factory=FieldMap)
    options: dict[str, Any] = Field(default_factory=dict)  # passed to the reader

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        if value is not None:
            get_reader(value)
        return value


class IngestConfig(StageConfig):
    inputs: list[InputSpec] = Field(min_length=1)
    shard_rows: int = Field(10_000, gt=0, description="documents per output shard at most")
    shard_bytes: int | None = Field(None, gt=0, description="text bytes per output shard at most")
    unit_bytes: int = Field(64 << 20, gt=0, description="input bytes read by one task (small files are grouped)")
    url_blocklist: InputPath | None = Field(
        None, description="file of blocked domains (one per line), e.g. filters/url_blocklist.txt"
    )
    dedup_urls: bool = Field(False, description="keep only the first document of each normalised URL, in run order")
    url_dedup_rows: int = Field(5_000_000, gt=0, description="URL keys held in memory at once by URL dedup")
    max_doc_bytes: int = Field(
        10 << 20,
        gt=0,
        description="longest document text in UTF-8 bytes; longer ones are rejected (too_large), so that no "
        "later stage holds one document's worth of text, tokens or n-grams beyond this",
    )

    def constant_values(self, column: str) -> set[str] | None:
        """The ``domain`` or ``source`` values the inputs give their documents, known before reading;
        None when an input takes them from a field of its records."""
        values = set()
        for spec in self.inputs:
            if column == "domain" and (spec.domain is not None or spec.fields.domain is None):
                values.add(spec.domain or DEFAULT_DOMAIN)
            elif column == "source" and spec.fields.source is None:
                values.add(spec.source or _default_source(spec.path))
            else:
                return None
        return values


@dataclass(frozen=True)
class InputFile:
    spec: int  # index into config.inputs
    path: str  # absolute path or URI
    name: str  # relative name used in document ids
    size: int


class IngestStage(SourceStage[InputFile]):
    name = "ingest"
    config_model = IngestConfig
    writes = CORE_COLUMNS
    damage_reasons = DAMAGE_REASONS
    config: IngestConfig

    def sharding(self) -> Sharding:
        return Sharding(self.config.unit_bytes, self.config.shard_rows, self.config.shard_bytes)

    def files(self) -> list[InputFile]:
        """Every input file, in a fixed order (inputs as listed, files sorted by name)."""
        out: list[InputFile] = []
        for i, spec in enumerate(self.config.inputs):
            found = expand_inputs(self.run.resolve(spec.path))
            if not found:
                raise FileNotFoundError(f"input {i + 1} ({spec.path}) matches no files")
            if spec.format is None:
                for path, _ in found:
                    reader_for_path(path)  # fail before any work if a format is unknown
            out += [InputFile(i, path, name, input_size(path)) for path, name in found]
        return out

    def read_file(self, f: InputFile) -> Iterator[pa.Table]:
        """The file's records as document rows (with ``reason``), a batch at a time."""
        spec, rdr = self._format(f)
        with open_input(f.path) as stream:
            yield from self._tables(read_records(rdr, stream, f.path, spec.options), spec, rdr, f.name)

    def split_file(self, f: InputFile, piece_bytes: int) -> list[Piece] | None:
        """Pieces of a big file that tasks read apart, or None to read it whole (see ``readers.base``)."""
        return split_file(self._format(f)[1], f.path, piece_bytes)

    def read_piece(self, f: InputFile, piece: Piece) -> Iterator[pa.Table]:
        """One piece's rows: exactly those a whole-file read gives for that part of the file."""
        spec, rdr = self._format(f)
        yield from self._tables(read_piece(rdr, f.path, piece, spec.options), spec, rdr, f.name)

    def _format(self, f: InputFile) -> tuple[InputSpec, ReaderSpec]:
        spec = self.config.inputs[f.spec]
        return spec, get_reader(spec.format) if spec.format else reader_for_path(f.path)

    def _tables(self, records: Iterator[RawRecord], spec: InputSpec, rdr: ReaderSpec, name: str) -> Iterator[pa.Table]:
        source = spec.source or _default_source(spec.path)
        rows: list[dict[str, Any]] = []
        for rec in records:
            rows.append(self._row(rec, spec, rdr, source, name))
            if len(rows) >= BATCH_ROWS:
                yield self._table(rows)
                rows = []
        if rows:
            yield self._table(rows)

    def reject_run_wide(self, rows: ReadRows) -> RunWideRejects | None:
        """``dedup_urls``: every good document whose normalised URL came earlier in run order."""
        if not self.config.dedup_urls:
            return None
        no_key = pa.scalar(None, pa.uint64())

        def keys() -> Iterator[tuple[int, pa.ChunkedArray]]:
            for part, t in rows.scan([REASON, URL_KEY]):
                yield part, pc.if_else(pc.is_null(t.column(REASON)), t.column(URL_KEY), no_key)

        return RunWideRejects(DUPLICATE, later_copies(keys, rows.rows, self.config.url_dedup_rows))

    def _table(self, rows: list[dict[str, Any]]) -> pa.Table:
        table = pa.Table.from_pylist(rows, schema=SOURCE_SCHEMA)
        if self.config.dedup_urls:
            table = table.append_column(URL_KEY, url_keys(table.column("url").to_pylist()))
        return table

    @functools.cached_property
    def _blocklist(self) -> frozenset[str]:
        path = self.config.url_blocklist
        return load_blocklist(self.run.resolve(path)) if path else frozenset()

    def _row(self, rec: RawRecord, spec: InputSpec, rdr: ReaderSpec, source: str, name: str) -> dict[str, Any]:
        if rec.fields is None:
            return _bad(source, name, rec.row, spec.domain, rec.raw, rec.error or "unreadable", rec.detail)
        fields = rec.fields
        fm = spec.fields
        text_key = fm.text or rdr.text_field
        src = _str_field(fields, fm.source) or source
        domain = spec.domain or _str_field(fields, fm.domain) or DEFAULT_DOMAIN
        doc_id = make_id(src, name, rec.row)
        text = fields.get(text_key)
        problem = _text_problem(text, text_key, self.config.max_doc_bytes)
        if problem:
            raw = text[:RAW_LIMIT] if problem[0] == TOO_LARGE else dump_meta(fields)[:RAW_LIMIT]
            return _bad(src, name, rec.row, domain, raw, problem[0], problem[1], doc_id)
        used = {text_key, fm.url, fm.domain, fm.source, fm.id}
        meta = {k: v for k, v in fields.items() if k not in used}
        if fm.id and fields.get(fm.id) is not None:
            meta["orig_id"] = fields[fm.id]
        url = _str_field(fields, fm.url)
        entry = blocked_by(url, self._blocklist) if url and self._blocklist else None
        if entry:
            return _bad(
                src, name, rec.row, domain, text, BLOCKED, f"host is under blocked domain {entry}", doc_id, url
            )
        return {
            "id": doc_id,
            "text": text,
            "source": src,
            "domain": domain,
            "url": url,
            "meta": dump_meta(meta),
            REASON: None,
        }


def _text_problem(text: Any, key: str, max_bytes: int) -> tuple[str, str] | None:
    if text is None:
        return "missing_text", f"no {key!r} field"
    if not isinstance(text, str):
        return "non_string_text", f"{key!r} is a {type(text).__name__}, not a string"
    # len() bounds the UTF-8 size from below (1 byte per character) and above (4): encode only between.
    if len(text) > max_bytes or (4 * len(text) > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes):
        return (
            TOO_LARGE,
            f"{key!r} holds more than max_doc_bytes ({max_bytes:,}) bytes; its first {RAW_LIMIT} characters are kept",
        )
    if not text.strip():
        return "empty_text", f"{key!r} is empty or only whitespace"
    return None


def _bad(
    source: str,
    name: str,
    row: int,
    domain: str | None,
    raw: str,
    reason: str,
    detail: str,
    doc_id: str | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    meta = {"error": detail, "file": name, "row": row}
    return {
        "id": doc_id or make_id(source, name, row),
        "text": raw,
        "source": source,
        "domain": domain or DEFAULT_DOMAIN,
        "url": url,
        "meta": dump_meta(meta),
        REASON: reason,
    }


def _str_field(fields: dict[str, Any], key: str | None) -> str | None:
    value = fields.get(key) if key else None
    return value if isinstance(value, str) and value else None


URL_KEY = "_urlkey"  # xxh64 of the normalised URL, for the run-wide URL dedup (a working column)


def _default_source(pattern: str) -> str:
    """``data/web.jsonl.gz`` -> ``web``; ``data/code/*.jsonl`` -> ``code``."""
    base = pattern.rstrip("/")
    while any(ch in os.path.basename(base) for ch in "*?["):
        base = os.path.dirname(base)
    name = os.path.basename(strip_compression(base)) or "input"
    return name.split(".")[0] or "input"
