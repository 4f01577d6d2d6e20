"""The one filesystem layer: every byte the engine reads or writes goes through here.

Built on ``pyarrow.fs`` so a run directory or an input can be a local path or an object
store URI (``s3://bucket/prefix``) without a rewrite. Writes are atomic: data goes to a
``.tmp-<uuid>`` sibling, then is renamed into place, so a crash never leaves a file that
looks complete. Shards are serialized in memory first so their sha256 is known before
they land.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob as _glob
import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from dataprep.core import delta
from dataprep.core.schema import normalize_table

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "write_statistics": True,
    "row_group_size": 65536,
}
# Columns unique per row gain nothing from dictionary encoding and cost write CPU (token id
# lists: 2x); labels such as source, domain, reason, lang gain a lot.
NO_DICTIONARY = {"id", "text", "meta", "url"}
HASH_CHUNK = 8 << 20
# Arrow decodes and (de)compresses on the calling thread, not on its thread pool: workers give each
# library one thread anyway, and every thread keeps its own free pages in Arrow's allocator, out of
# reach of the release after a task (engine/executor.py). Ingest of 1M short documents in one
# process, 12 shards: RSS 284 -> 332 MB with pool threads, 263 -> 277 without; with a release after
# each shard 207 MB, only without them.
ARROW_THREADS = False


def _is_uri(path: str) -> bool:
    return "://" in path


@dataclass(frozen=True)
class FileEntry:
    """A file as recorded in a manifest: path relative to the run directory."""

    path: str
    sha256: str
    rows: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "rows": self.rows, "bytes": self.bytes}


class Storage:
    """A directory (local or object store) addressed by paths relative to its root."""

    def __init__(self, root: str) -> None:
        if _is_uri(root):
            self.fs, base = pafs.FileSystem.from_uri(root)
        else:
            self.fs, base = pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(root))
        self.root = root if _is_uri(root) else base
        self.base = base.rstrip("/")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Storage, (self.root,))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def uri(self, rel: str = "") -> str:
        """A path or URI (with the root's options) that reopens ``rel`` as a Storage."""
        if not _is_uri(self.root):
            return os.path.join(self.base, rel) if rel else self.base
        prefix, path, query = split_uri(self.root)
        return f"{prefix}{path.rstrip('/')}{'/' + rel if rel else ''}{query}"

    def parent(self) -> Storage:
        if not _is_uri(self.root):
            return Storage(os.path.dirname(self.base))
        prefix, path, query = split_uri(self.root)
        return Storage(f"{prefix}{path.rstrip('/').rsplit('/', 1)[0]}{query}")

    @property
    def display(self) -> str:
        """The root as shown to people and written to manifests: no credentials."""
        return public_uri(self.root) if _is_uri(self.root) else self.base

    def full(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.full(rel)).type != pafs.FileType.NotFound

    def is_dir(self, rel: str) -> bool:
        return self.fs.get_file_info(self.full(rel)).type == pafs.FileType.Directory

    def size(self, rel: str) -> int:
        return self.fs.get_file_info(self.full(rel)).size

    def makedirs(self, rel: str) -> None:
        self.fs.create_dir(self.full(rel), recursive=True)

    def list(self, rel_dir: str, recursive: bool = False) -> list[str]:
        """Files (not folders) under ``rel_dir``, as paths relative to the root, sorted."""
        if not self.is_dir(rel_dir):
            return []
        sel = pafs.FileSelector(self.full(rel_dir), recursive=recursive)
        prefix = self.base + "/"
        return sorted(i.path[len(prefix) :] for i in self.fs.get_file_info(sel) if i.type == pafs.FileType.File)

    def delete(self, rel: str) -> None:
        info = self.fs.get_file_info(self.full(rel))
        if info.type == pafs.FileType.File:
            self.fs.delete_file(self.full(rel))
        elif info.type == pafs.FileType.Directory:
            self.fs.delete_dir(self.full(rel))

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open_input_stream(self.full(rel)) as f:
            return f.read()

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Atomic write: a temp sibling renamed into place."""
        with self.open_atomic(rel) as f:
            f.write(data)

    @contextlib.contextmanager
    def open_atomic(self, rel: str) -> Iterator[Any]:
        """A writable stream that appears at ``rel`` only once closed without error."""
        parent = os.path.dirname(rel)
        if parent:
            self.makedirs(parent)
        tmp = f"{rel}.tmp-{uuid.uuid4().hex[:12]}"
        stream = self.fs.open_output_stream(self.full(tmp))
        try:
            yield stream
            stream.close()
            self.fs.move(self.full(tmp), self.full(rel))
        except BaseException:
            stream.close()
            self.delete(tmp)
            raise

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read_bytes(rel))

    def write_json(self, rel: str, obj: Any) -> None:
        """Canonical JSON, with credentials in any URI removed: manifests, run.json, progress and
        work records all pass here, so no credential is ever written down."""
        text = json.dumps(redact(obj), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        self.write_bytes(rel, text.encode())

    def sha256(self, rel: str) -> str:
        h = hashlib.sha256()
        with self.fs.open_input_stream(self.full(rel)) as f:
            while chunk := f.read(HASH_CHUNK):
                h.update(chunk)
        return h.hexdigest()

    def write_parquet(
        self,
        rel: str,
        table: pa.Table,
        metadata: dict[bytes, bytes] | None = None,
    ) -> FileEntry:
        """Write ``table`` as one zstd Parquet file, atomically; return its manifest entry.
        ``metadata`` goes to the footer (a delta shard's spec)."""
        # One chunk per column: the writer cuts pages at chunk boundaries, and bytes must not
        # depend on how a table was assembled (a full copy versus a materialized delta).
        table = normalize_table(table).combine_chunks()
        if metadata:
            table = table.replace_schema_metadata(metadata)
        buf = io.BytesIO()
        dictionary = [f.name for f in table.schema if pa.types.is_string(f.type) and f.name not in NO_DICTIONARY]
        pq.write_table(table, buf, use_dictionary=dictionary, **PARQUET_OPTIONS)
        data = buf.getvalue()
        self.write_bytes(rel, data)
        return FileEntry(rel, hashlib.sha256(data).hexdigest(), table.num_rows, len(data))

    def read_parquet(self, rel: str, columns: Sequence[str] | None = None) -> pa.Table:
        """The table a Parquet file stands for: a delta shard is materialized along its chain of
        bases (``core/delta.py``), reading from each file only the columns asked for."""
        return self._read_parquet(rel, list(columns) if columns is not None else None)

    def _read_parquet(self, rel: str, cols: list[str] | None, of: tuple[str, int] | None = None) -> pa.Table:
        """``of``: the delta reading ``rel`` as its base, and the size ``rel`` had when it was written."""
        with self.fs.open_input_file(self.full(rel)) as f:
            if of is not None and f.size() != of[1]:
                raise ValueError(
                    f"{of[0]} is a delta over {rel}, which changed after it was written ({f.size()} bytes, "
                    f"was {of[1]}); rerun the run with --resume to rebuild the stages after it"
                )
            pf = pq.ParquetFile(f)
            spec = delta.DeltaSpec.from_metadata(pf.schema_arrow.metadata)
            names = spec.schema.names if spec is not None else pf.schema_arrow.names
            if missing := [c for c in cols or () if c not in names]:  # ParquetFile.read would skip it silently
                raise ValueError(f"{rel}: no column {missing[0]!r} (it has {', '.join(names)})")
            if spec is None:  # not pq.read_table: it imports pyarrow.dataset (and pandas), ~0.5 CPU s a worker
                return pf.read(columns=cols, use_threads=ARROW_THREADS)
            want = cols if cols is not None else names
            stored = pf.schema_arrow.names
            own = [c for c in stored if c == delta.ROW or c in want or c.removeprefix(delta.PATCH) in want]
            table = pf.read(columns=own, use_threads=ARROW_THREADS)
        parts = [
            self._read_parquet(path, need, of=(rel, size))
            for (path, size), need in delta.needed_from_base(spec, stored, want).items()
        ]
        base = pa.Table.from_arrays(
            [c for p in parts for c in p.columns], schema=pa.schema([f for p in parts for f in p.schema])
        )
        return delta.apply(table, base if parts else None, spec, want)

    def footer(self, rel: str) -> Footer:
        """Rows, schema and delta spec of the table a Parquet file stands for (a delta's
        materialized ones), from one footer read."""
        with self.fs.open_input_file(self.full(rel)) as f:
            pf = pq.ParquetFile(f)
            schema = pf.schema_arrow
            spec = delta.DeltaSpec.from_metadata(schema.metadata)
            return Footer(pf.metadata.num_rows, spec.schema if spec is not None else schema, spec)

    def write_partitioned(self, rel: str, table: pa.Table, sizes: Sequence[int], compress: bool = True) -> None:
        """Shuffle scratch: ``table``'s rows cut into consecutive partitions of ``sizes`` rows
        (empty ones included), as an Arrow IPC file with one record batch per partition, atomically.

        Not Parquet: a shuffle phase of S writers and P readers opens S x P (file, partition)
        pairs, and a Parquet reader parses the whole footer, whose size grows with P, at every
        open: 0.75 ms per read at S = P = 20, 2.08 ms at 200 (83 CPU s for one phase), so a phase
        cost grew as S x P x P. An IPC footer is a flatbuffer read in place: 0.29 and 0.34 ms
        (``bench/shuffle_reads.py``). Buffers are zstd-compressed: it packs repeated and
        small-integer columns, and costs less CPU than Arrow's lz4, also on incompressible ones:
        writing 200k signature rows took 0.36 CPU s with zstd, 0.87 with lz4 (0.13 uncompressed,
        211 vs 213 MB); 3.6M band rows 0.08 and 0.25 s (32 vs 34 MB, 86 uncompressed).
        ``compress=False`` for tables that are hashes only (signatures): nothing to gain.
        """
        whole = table.combine_chunks()  # one chunk per column: one batch to slice
        batch = whole.to_batches()[0] if whole.num_rows else pa.RecordBatch.from_pylist([], schema=whole.schema)
        options = ipc.IpcWriteOptions(compression="zstd" if compress else None, use_threads=ARROW_THREADS)
        with self.open_atomic(rel) as f, ipc.new_file(f, whole.schema, options=options) as writer:
            start = 0
            for rows in sizes:
                writer.write_batch(batch.slice(start, rows))
                start += rows

    def read_partition(self, rel: str, part: int, columns: Sequence[str] | None = None) -> pa.Table:
        """Partition ``part`` of a file written by ``write_partitioned`` (all columns or ``columns``)."""
        with self.fs.open_input_file(self.full(rel)) as f:
            batch = ipc.open_file(f, options=ipc.IpcReadOptions(use_threads=ARROW_THREADS)).get_batch(part)
        table = pa.Table.from_batches([batch])
        return table.select(list(columns)) if columns is not None else table


@dataclass(frozen=True)
class Footer:
    """What a Parquet file's footer says of the table it stands for."""

    rows: int
    schema: pa.Schema  # a delta's materialized one
    spec: delta.DeltaSpec | None  # a delta's base and attribute files; None for a full file


@dataclass(frozen=True)
class Shard:
    """A Parquet shard of a run (implements ``ShardRef``); ``path`` is run-relative."""

    storage: Storage
    path: str
    rows: int
    sha256: str = ""

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        return self.storage.read_parquet(self.path, columns)


class StageWorkDir:
    """Scratch space of one stage run (implements ``WorkDir``)."""

    def __init__(self, storage: Storage, rel_dir: str) -> None:
        self.storage = storage
        self.rel_dir = rel_dir

    def _p(self, name: str) -> str:
        return f"{self.rel_dir}/{name}"

    def path(self, name: str) -> str:
        """The run-relative path of ``name``: how a delta shard refers to an attribute file here."""
        return self._p(name)

    def write_table(self, name: str, table: pa.Table) -> None:
        self.storage.write_parquet(self._p(name), table)

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        return self.storage.read_parquet(self._p(name), columns)

    def write_partitioned(self, name: str, table: pa.Table, sizes: Sequence[int], compress: bool = True) -> None:
        self.storage.write_partitioned(self._p(name), table, sizes, compress)

    def read_partition(self, name: str, part: int, columns: Sequence[str] | None = None) -> pa.Table:
        return self.storage.read_partition(self._p(name), part, columns)

    def write_json(self, name: str, obj: Any) -> None:
        self.storage.write_json(self._p(name), obj)

    def read_json(self, name: str) -> Any:
        return self.storage.read_json(self._p(name))

    def exists(self, name: str) -> bool:
        return self.storage.exists(self._p(name))

    def delete(self, name: str) -> None:
        """Remove a file or folder of this work dir (a phase's scratch once read)."""
        self.storage.delete(self._p(name))

    def sub(self, name: str) -> StageWorkDir:
        """This work dir's sub-folder ``name``, e.g. one per attempt of a pass."""
        return StageWorkDir(self.storage, self._p(name))

    def list(self, prefix: str = "") -> list[str]:
        """Names under this work dir starting with ``prefix``; only the prefix's folder is listed."""
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        root = f"{self.rel_dir}/{folder}" if folder else self.rel_dir
        names = [p[len(self.rel_dir) + 1 :] for p in self.storage.list(root, recursive=True)]
        return [n for n in names if n.startswith(prefix) and ".tmp-" not in n]


class _HashingWriter:
    """Wraps a stream to hash and count what passes through it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.sha = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.bytes += len(data)
        return self.stream.write(data)


class StageArtifacts:
    """Extra files of a stage (implements ``ArtifactWriter``); each lands atomically."""

    def __init__(self, storage: Storage, stage_dir: str) -> None:
        self.storage = storage
        self.stage_dir = stage_dir
        self.entries: list[FileEntry] = []

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[_HashingWriter]:
        rel = f"{self.stage_dir}/{name}"
        with self.storage.open_atomic(rel) as stream:
            writer = _HashingWriter(stream)
            yield writer
        self.entries.append(FileEntry(rel, writer.sha.hexdigest(), 0, writer.bytes))


def expand_inputs(pattern: str) -> list[tuple[str, str]]:
    """Files matching a path, folder or glob, as sorted ``(full path or URI, relative name)``.

    The relative name (used in document ids) is the path below the pattern's non-glob
    prefix, or the base name for a single file, so ids do not depend on where the data
    is mounted. URIs may carry options (``?endpoint_override=...``); every file URI
    returned keeps them.
    """
    if _is_uri(pattern):
        return _expand_uri(pattern)
    if _glob.has_magic(pattern):
        base = _glob_base(pattern)
        files = [p for p in _glob.glob(pattern, recursive=True) if os.path.isfile(p)]
        return sorted((os.path.abspath(p), os.path.relpath(p, base)) for p in files)
    if os.path.isdir(pattern):
        out = []
        for dirpath, _dirs, names in os.walk(pattern):
            for n in names:
                p = os.path.join(dirpath, n)
                out.append((os.path.abspath(p), os.path.relpath(p, pattern)))
        return sorted(out)
    if os.path.isfile(pattern):
        return [(os.path.abspath(pattern), os.path.basename(pattern))]
    return []


def split_uri(uri: str) -> tuple[str, str, str]:
    """``s3://key:secret@bucket/a/b?opt=1`` -> (``s3://key:secret@``, ``bucket/a/b``, ``?opt=1``)."""
    scheme, rest = uri.split("://", 1)
    rest, q, query = rest.partition("?")
    auth, at, path = rest.rpartition("@")
    return f"{scheme}://{auth}{at}", path, q + query


# Credentials a URI can carry: user info (``s3://KEY:SECRET@bucket``) and query options that
# pyarrow.fs and the object stores accept (``?access_key=..&secret_key=..&session_token=..``,
# pre-signed ``X-Amz-Signature=..``). Other options (endpoint, region, scheme) stay readable.
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s?#'\"]*@")  # to the last @, as split_uri
_SECRET_OPTION = re.compile(
    r"(?i)([?&](?:access[_-]?key|secret[_-]?key|session[_-]?token|password|passwd|token|secret|"
    r"credentials?|sig|signature|x-amz-[a-z-]+|sas|key)=)[^&\s#'\"]+"
)
REDACTED = "***"


def redact_secrets(text: str) -> str:
    """``text`` with every credential in a URI replaced by ``***``: for messages, logs and JSON."""
    if "://" not in text and "=" not in text:
        return text
    return _SECRET_OPTION.sub(rf"\1{REDACTED}", _USERINFO.sub(rf"\1{REDACTED}@", text))


def redact(obj: Any) -> Any:
    """``redact_secrets`` over every string (and key) of a JSON-like value."""
    if isinstance(obj, str):
        return redact_secrets(obj)
    if isinstance(obj, dict):
        return {redact(k): redact(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    return obj


def public_uri(uri: str) -> str:
    """A URI fit for a manifest or a message: no credentials, no options."""
    prefix, path, _ = split_uri(uri)
    return f"{prefix.split('://')[0]}://{path}"


def _expand_uri(pattern: str) -> list[tuple[str, str]]:
    prefix, path, query = split_uri(pattern)
    magic = _glob.has_magic(path)
    base = _glob_base(path) if magic else path.rstrip("/")
    fs, root = pafs.FileSystem.from_uri(f"{prefix}{base}{query}")
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.File and not magic:
        return [(pattern, os.path.basename(root))]
    if info.type != pafs.FileType.Directory:
        return []
    rel_pattern = path[len(base) :].lstrip("/") if magic else None
    out = []
    for i in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        rel = i.path[len(root) :].lstrip("/")
        if i.type == pafs.FileType.File and (rel_pattern is None or fnmatch.fnmatch(rel, rel_pattern)):
            out.append((f"{prefix}{base}/{rel}{query}", rel))
    return sorted(out)


def _glob_base(pattern: str) -> str:
    parts = pattern.split("/")
    keep = []
    for part in parts:
        if _glob.has_magic(part):
            break
        keep.append(part)
    return "/".join(keep) or "."


COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}


def path_part(path: str) -> str:
    """A URI without its options (``?endpoint_override=...``): what extensions are read from."""
    return path.split("?", 1)[0] if "://" in path else path


def strip_compression(path: str) -> str:
    for ext in COMPRESSIONS:
        if path.lower().endswith(ext):
            return path[: -len(ext)]
    return path


def _input_fs(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem an input path or URI lives on, and its path there."""
    if _is_uri(path):
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), path


def input_size(path: str) -> int:
    """Bytes of an input file as stored (compressed), local or remote."""
    fs, p = _input_fs(path)
    return fs.get_file_info(p).size or 0


def open_input_file(path: str) -> pa.NativeFile:
    """Random access to an input file's bytes as stored (no decompression), local or remote."""
    fs, p = _input_fs(path)
    return fs.open_input_file(p)


def open_input(path: str) -> Any:
    """A binary stream over an input file with its compression (by extension) undone."""
    fs, p = _input_fs(path)
    codec = next((c for ext, c in COMPRESSIONS.items() if path_part(path).lower().endswith(ext)), None)
    return fs.open_input_stream(p, compression=codec, buffer_size=1 << 20)


def file_sha256_and_size(path: str) -> tuple[str, int]:
    """sha256 of an input file's bytes as stored (compressed), and its size."""
    fs, p = _input_fs(path)
    h = hashlib.sha256()
    n = 0
    with fs.open_input_stream(p, compression=None) as f:  # pyarrow would decompress by extension
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n
