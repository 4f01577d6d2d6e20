"""The document schema every shard shares, and the rule that makes document ids.

Every shard row has the six core columns below. Stages add columns (quality signals,
token ids, ...); no stage ever drops ``id``. Rejected shards carry the same columns plus
``reason`` and ``stage``.

Document id rule: ``<source>/<file>:<row>`` where ``<file>`` is the input file's path
relative to the non-glob prefix of the input pattern (or its base name for a single
file) and ``<row>`` is the 1-based line (JSONL), row (Parquet) or record (dumps,
WARC) number. The id is therefore unique within a run (one position holds one
document), stable across runs on the same files wherever they are mounted, and
readable: it says where the document came from. An id carried by the input is kept
in ``meta["orig_id"]``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

CORE_COLUMNS: tuple[str, ...] = ("id", "text", "source", "domain", "url", "meta")

CORE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=True),
        pa.field("meta", pa.string(), nullable=False),
    ]
)

REASON = "reason"
STAGE = "stage"


def make_id(source: str, file: str, row: int) -> str:
    """The stable document id for the ``row``-th record (1-based) of ``file``."""
    return f"{source}/{file}:{row}"


def id_origin(doc_id: str) -> tuple[str, int] | None:
    """``(file, row)`` of an id made by ``make_id`` (a repeat suffix such as ``#r2`` ignored).

    None for an id of another form. A source name holding ``/`` cannot be told apart from
    the file's folders: the file is what follows the first ``/``.
    """
    head, colon, row = doc_id.split("#", 1)[0].rpartition(":")
    _, slash, file = head.partition("/")
    return (file, int(row)) if colon and slash and file and row.isdigit() else None


def dump_meta(meta: dict[str, Any]) -> str:
    """Meta as canonical JSON (sorted keys, compact, UTF-8) so identical meta gives identical bytes.

    orjson gives the same text as ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` at several times the speed; ingest calls this once per document.
    """
    return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def normalize_table(table: pa.Table) -> pa.Table:
    """Cast large string/list types to their plain forms so every writer gives one schema.

    polars produces ``large_string``; pyarrow produces ``string``. Mixing them would make
    shard schemas (and bytes) depend on which library a stage happened to use. List items
    are named ``element`` as Parquet readers name them: pyarrow builds ``item``, and types
    equal but for that name would give different bytes for a table written before and
    after a round trip through a file (a full copy versus a delta's materialized table).
    """
    fields = []
    changed = False
    for f in table.schema:
        t = _plain_type(f.type)
        changed |= str(t) != str(f.type)  # == ignores the list item's name
        fields.append(pa.field(f.name, t, f.nullable))
    if not changed:
        return table.replace_schema_metadata(None)
    return table.cast(pa.schema(fields)).replace_schema_metadata(None)


def _plain_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(pa.field("element", _plain_type(t.value_type), t.value_field.nullable))
    return t
