"""Delta shards: a stage stores which rows of its input it keeps and what it changed, not a copy.

Output shard ``i`` of a stage is made from input shard ``i`` (rows kept in order, some
columns added or changed), so a shard can be stored as

* ``_row``: for each output row, its position in the (materialized) input shard, the *base*;
* every column the stage added, or changed on most rows, in full;
* a column changed on a few rows (PII redaction of some texts) as a *patch*: its new values
  where ``_patch_<name>`` is true, null elsewhere;

plus, in the Parquet footer, the base's path and sha256 and the full output schema. Every
other column is taken from the base, so text is stored again only where a stage changed it,
or from an *attribute* file: columns a stage computed per input row and keeps in its work dir
anyway (mix's token ids), aligned row for row with the base, so they are not stored twice.
Reading (``Storage.read_parquet``) follows the chain of bases and gives the table a full copy
would hold, equal as Arrow; the same writer then gives the same Parquet bytes (``export``).
Names starting with ``_`` are never output columns (``SOURCE_SCHEMA``), so they cannot clash.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

ROW = "_row"
PATCH = "_patch_"
META_KEY = b"dataprep.delta"
# A column changed on more than this share of rows is stored whole: the patch's mask and nulls
# would cost more than they save.
PATCH_MAX_SHARE = 0.5


@dataclass(frozen=True)
class Attribute:
    """A file of columns aligned row for row with a delta's base (run-relative path)."""

    path: str
    sha256: str
    columns: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class DeltaSpec:
    """What a delta file's footer says: its base and the schema of the table it stands for."""

    base: str  # run-relative path of the base shard (itself full or a delta)
    base_sha256: str
    base_bytes: int  # checked on every read (free: the file is open), the sha256 by ``dataprep verify``
    schema: pa.Schema  # the materialized table's schema, in column order
    patched: tuple[str, ...]
    attributes: tuple[Attribute, ...] = ()

    def to_metadata(self) -> dict[bytes, bytes]:
        doc = {
            "version": 1,
            "base": self.base,
            "base_sha256": self.base_sha256,
            "base_bytes": self.base_bytes,
            "patched": list(self.patched),
            "attributes": [
                {"path": a.path, "sha256": a.sha256, "columns": list(a.columns), "bytes": a.bytes}
                for a in self.attributes
            ],
            "schema": base64.b64encode(self.schema.serialize().to_pybytes()).decode(),
        }
        return {META_KEY: json.dumps(doc, sort_keys=True).encode()}

    def source_of(self, column: str) -> tuple[str, int]:
        """The run-relative file a column not held whole by the delta is read from, and its size."""
        return next(((a.path, a.bytes) for a in self.attributes if column in a.columns), (self.base, self.base_bytes))

    @staticmethod
    def from_metadata(metadata: dict[bytes, bytes] | None) -> DeltaSpec | None:
        """The spec in a Parquet file's key-value metadata, or None for a full shard."""
        raw = (metadata or {}).get(META_KEY)
        if raw is None:
            return None
        doc = json.loads(raw)
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(doc["schema"])))
        attributes = tuple(
            Attribute(a["path"], a["sha256"], tuple(a["columns"]), a["bytes"]) for a in doc["attributes"]
        )
        return DeltaSpec(doc["base"], doc["base_sha256"], doc["base_bytes"], schema, tuple(doc["patched"]), attributes)


def encode(base: pa.Table, out: pa.Table, rows: pa.Array) -> tuple[pa.Table, tuple[str, ...]]:
    """The delta table of ``out`` over ``base`` (``out``'s row ``k`` comes from ``base`` row
    ``rows[k]``) and the names of its patched columns."""
    rows = rows.combine_chunks() if isinstance(rows, pa.ChunkedArray) else rows
    taken = base.take(rows)
    columns: dict[str, pa.ChunkedArray | pa.Array] = {ROW: rows.cast(pa.uint32())}
    patched = []
    for f in out.schema:
        new = out.column(f.name)
        if f.name not in base.column_names or base.schema.field(f.name).type != f.type:
            columns[f.name] = new
            continue
        changed = _changed(new, taken.column(f.name))
        n = int(pc.sum(changed).as_py() or 0) if changed is not None else len(new)
        if n == 0:
            continue
        if changed is None or n > PATCH_MAX_SHARE * len(new):
            columns[f.name] = new
            continue
        columns[f.name] = pc.if_else(changed, new, pa.scalar(None, f.type))
        columns[PATCH + f.name] = changed
        patched.append(f.name)
    return pa.table(columns), tuple(patched)


def _changed(new: pa.ChunkedArray, old: pa.ChunkedArray) -> pa.Array | None:
    """Per row, whether ``new`` differs from ``old`` bit for bit (nulls equal nulls; -0.0 is not
    0.0, NaN equals the same NaN); None for nested types, which are compared whole by the caller."""
    t = new.type
    if pa.types.is_nested(t):
        return None if not new.equals(old) else pa.array([False] * len(new))
    a, b = new.combine_chunks(), old.combine_chunks()
    if pa.types.is_floating(t):  # compare the bits: equality would merge -0.0 and 0.0
        width = {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}[t.bit_width]
        a, b = a.view(width), b.view(width)
    same = pc.or_(pc.fill_null(pc.equal(a, b), False), pc.and_(pc.is_null(a), pc.is_null(b)))
    return pc.invert(same)


def needed_from_base(spec: DeltaSpec, stored: Sequence[str], want: Sequence[str]) -> dict[tuple[str, int], list[str]]:
    """The columns of ``want`` the delta does not hold whole, by the file (base or attribute,
    with its size when the delta was written) that supplies them, in ``want`` order."""
    whole = set(stored) - set(spec.patched)
    need: dict[tuple[str, int], list[str]] = {}
    for c in want:
        if c not in whole:
            need.setdefault(spec.source_of(c), []).append(c)
    return need


def apply(delta: pa.Table, base: pa.Table | None, spec: DeltaSpec, want: Sequence[str]) -> pa.Table:
    """The materialized table's ``want`` columns from the delta's and the base's (``base``: the
    columns of ``needed_from_base``, from the base and attribute files side by side)."""
    taken = base.take(delta.column(ROW)) if base is not None else None
    fields, arrays = [], []
    for name in want:
        field = spec.schema.field(name)
        if name in spec.patched:
            mask = delta.column(PATCH + name).combine_chunks()
            arr = pc.if_else(mask, delta.column(name).combine_chunks(), taken.column(name).combine_chunks())
        elif name in delta.column_names:
            arr = delta.column(name)
        else:
            arr = taken.column(name)
        fields.append(field)
        arrays.append(arr)
    if not want:
        return pa.table({ROW: delta.column(ROW)}).drop_columns([ROW])
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
