"""Phase 5 of a dedup pass: which member of each cluster stays, and each shard's rejections.

Per label partition, each component is ranked by the ``keep`` rule (document content and
id only, never arrival order) and its other members become decisions, routed to their
shards' groups (``decided``); per group they are gathered into one file per shard
(``shard_decisions/``), which ``process`` joins back: each shard task reads one file, not a
piece from every partition (S x P reads).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from dataprep.core.contract import WorkDir
from dataprep.dedup.scratch import Task, read_part, write_parts

EXACT, NEAR = "exact_dup", "near_dup"
_DECIDED = pl.DataFrame(schema={"row": pl.Int64, "reason": pl.String, "dup_of": pl.String})


def decide_task(task: Task) -> dict[int, int]:
    """Phase 5 (per label partition): rank each component, route decisions to their shards.

    The kept document is the first by the ``keep`` rule, ties broken by the smallest id, so
    the choice depends on content and ids only. Returns how many components have each size
    (not a size per component: the driver would hold one per cluster of the corpus).
    """
    cfg = task.config
    members = read_part(task.work, "members", task.index)
    if members.is_empty():
        return {}
    order = [t.lstrip("-") for t in cfg.keep] + ["id"]
    descending = [not t.startswith("-") for t in cfg.keep] + [False]
    ranked = members.sort(["label", *order], descending=[False, *descending], nulls_last=True)
    first = ranked.group_by("label", maintain_order=True).first().select("label", kept="id", kept_exact="exact")
    decided = (
        ranked.join(first, on="label")
        .filter(pl.col("id") != pl.col("kept"))
        .select(
            "shard",
            "row",
            dup_of="kept",
            reason=pl.when(pl.col("exact") == pl.col("kept_exact")).then(pl.lit(EXACT)).otherwise(pl.lit(NEAR)),
        )
    )
    routed = decided.with_columns(to=pl.col("shard") // task.per_group)
    write_parts(task.work, "decided", task.index, routed, "to", task.groups)
    sizes = ranked.group_by("label").len().group_by("len").len(name="clusters")
    return dict(sorted(sizes.iter_rows()))


def shard_stats(table: pa.Table, reason: pl.Series) -> dict[str, Any]:
    """Documents and removals of one shard, by source and by domain."""
    df = pl.from_arrow(table.select(["source", "domain"])).with_columns(reason.alias("reason"))
    out: dict[str, Any] = {}
    for key in ("source", "domain"):
        out[f"docs_by_{key}"] = _counts(df, key)
        out[f"removed_by_{key}"] = _counts(df.filter(pl.col("reason").is_not_null()), key)
    return out


def _counts(df: pl.DataFrame, key: str) -> dict[str, int]:
    return {str(k): int(n) for k, n in df.group_by(key).len().sort(key).iter_rows()}


def gather_task(task: Task) -> None:
    """Phase 6 (per shard group): the group's decisions, one file per shard."""
    decided = read_part(task.work, "decided", task.index)  # no columns if no partition decided anything
    first = task.index * task.per_group
    for shard in range(first, first + len(task.group)):
        mine = decided.filter(pl.col("shard") == shard).select(_DECIDED.columns) if decided.width else _DECIDED
        task.work.write_table(_decisions_name(shard), mine.cast(_DECIDED.schema).to_arrow())


def _decisions_name(shard: int) -> str:
    return f"shard_decisions/{shard:05d}"


def shard_decisions(work: WorkDir, shard: int, rows: int) -> pl.DataFrame:
    """``row``, ``reason`` and ``dup_of`` for every row of one input shard (nulls where it stays)."""
    frame = pl.DataFrame({"row": np.arange(rows, dtype=np.int64)})
    decided = pl.from_arrow(work.read_table(_decisions_name(shard)))
    if decided.is_empty():
        return frame.with_columns(pl.lit(None, pl.String).alias("reason"), pl.lit(None, pl.String).alias("dup_of"))
    return frame.join(decided.select("row", "reason", "dup_of"), on="row", how="left", maintain_order="left")
