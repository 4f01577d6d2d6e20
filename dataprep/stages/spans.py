"""What the span-removing stages (substring_dedup, line_dedup) share: cutting the spans a
global pass found out of each shard's texts, and a scratch folder per (config, inputs)."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from dataprep.dedup.spans import Removals, cut
from dataprep.stages.base import PrepareContext, ShardResult, reject


def apply_removals(
    table: pa.Table, found: Removals, min_chars: int, columns: tuple[str, str], reason: str
) -> ShardResult:
    """Cut ``found`` out of the texts, add the (removed chars, spans) ``columns``; reject changed
    documents left shorter than ``min_chars`` (whitespace stripped) with ``reason``."""
    texts = table.column("text").to_pylist()
    done = cut(texts, found)
    short = [bool(c) and len(t.strip()) < min_chars for c, t in zip(done.changed, done.texts)]
    # rejected rows keep their input text, so the recorded spans index into it
    kept_text = [t if s else n for t, n, s in zip(texts, done.texts, short)]
    i = table.schema.get_field_index("text")  # the field as it came (non-nullable): one schema per stage
    out = table.set_column(i, table.schema.field(i), pa.array(kept_text, pa.string()))
    out = out.append_column(columns[0], pa.array(done.removed_chars, pa.int64()))
    out = out.append_column(columns[1], done.spans)
    stats = {
        "documents_changed": int(done.changed.sum()),
        "removed_chars": int(done.removed_chars.sum()),
        "removed_spans": len(found.row),
        "input_chars": sum(map(len, texts)),
    }
    result = reject(out, short, [reason] * len(short)) if any(short) else ShardResult(kept=out)
    result.stats = stats
    return result


def pass_scope(config: dict, ctx: PrepareContext) -> str:
    """A WorkDir folder per (config, inputs): a resumed or changed run never reads stale partitions."""
    key = json.dumps([config, [(s.path, s.rows, getattr(s, "sha256", "")) for s in ctx.inputs]])
    return "pass-" + hashlib.sha256(key.encode()).hexdigest()[:16]
