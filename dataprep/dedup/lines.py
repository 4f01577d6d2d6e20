"""Repeated lines or paragraphs across a corpus (CCNet / Dolma boilerplate removal), exact.

A *unit* is a line (split on ``\\n``) or a paragraph (a maximal run of non-blank lines). Its
*key* is its text with ASCII spaces, tabs, CR, VT and FF trimmed at both ends (for a
paragraph, each line trimmed, joined by ``\\n``); blank units are never removed. A key found
in at least ``min_docs`` documents is removed from every document but the first ``keep`` of
them by id (all its occurrences in a document go or stay together). The removed span is the
unit's characters with its line breaks, so no empty line is left behind.

Exact and bounded: every shard's units go, with their full key, to the partition of the
key's hash (P partitions sized by ``partition_mb``); a partition groups by the key itself,
so a hash collision merges nothing and no key's documents are split across partitions.
Decisions go back to their shards, where the stage cuts the spans. Cost is linear in the
corpus: each unit is shuffled once and grouped once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa

from dataprep.core.contract import Executor, ShardRef, WorkDir
from dataprep.dedup.scratch import read_part, write_parts
from dataprep.dedup.spans import ALSO_IN_MAX, Removals

TRIM = " \t\r\x0b\x0c"
UNIT_OVERHEAD = 96  # memory of one unit row in a polars frame besides its key (hash, id, row, ...)


@dataclass(frozen=True)
class Params:
    unit: Literal["line", "paragraph"]
    min_docs: int
    keep: int
    partition_mb: int


@dataclass(frozen=True)
class _Task:
    params: Params
    work: WorkDir
    shards: int
    parts: int
    index: int
    shard: ShardRef | None = None


def units(texts: pa.Array | pa.ChunkedArray, unit: str) -> pl.DataFrame:
    """``row, unit, start, end, key`` of every non-blank unit; spans include the line breaks."""
    df = pl.DataFrame({"text": pl.Series(texts, dtype=pl.String).fill_null("")}).with_row_index("row")
    lines = (
        df.select("row", doc_len=pl.col("text").str.len_chars(), line=pl.col("text").str.split("\n"))
        .explode("line")
        .with_columns(length=pl.col("line").str.len_chars().cast(pl.Int64) + 1)
        .with_columns(start=pl.col("length").cum_sum().over("row") - pl.col("length"))
        .with_columns(
            end=pl.min_horizontal(pl.col("start") + pl.col("length"), pl.col("doc_len").cast(pl.Int64)),
            key=pl.col("line").str.strip_chars(TRIM),
        )
    )
    if unit == "paragraph":
        lines = (
            lines.with_columns(para=(pl.col("key") == "").cum_sum().over("row"))
            .filter(pl.col("key") != "")
            .group_by("row", "para", maintain_order=True)
            .agg(pl.col("start").min(), pl.col("end").max(), pl.col("key").str.join("\n"))
        )
    out = lines.filter(pl.col("key") != "").select(
        pl.col("row").cast(pl.Int64), pl.col("start").cast(pl.Int64), pl.col("end").cast(pl.Int64), "key"
    )
    return out.with_columns(unit=pl.int_range(pl.len(), dtype=pl.Int64).over("row"))


def find_repeats(inputs: list[ShardRef], work: WorkDir, executor: Executor, params: Params) -> dict[str, Any]:
    """Count every unit's documents; leave per-shard removal decisions in ``work``."""
    shards = len(inputs)
    sized = executor.map(_size_task, [_Task(params, work, shards, 0, i, s) for i, s in enumerate(inputs)])
    rows = sum(n for n, _ in sized)
    parts = max(1, math.ceil((rows * UNIT_OVERHEAD + sum(b for _, b in sized)) / (params.partition_mb * 2**20)))
    executor.map(_shuffle_task, [_Task(params, work, shards, parts, i, s) for i, s in enumerate(inputs)])
    found = executor.map(_count_task, [_Task(params, work, shards, parts, p) for p in range(parts)])
    return {"units": rows, **{k: sum(f[k] for f in found) for k in found[0]}, "partitions": parts}


def _size_task(task: _Task) -> tuple[int, int]:
    assert task.shard is not None
    found = units(task.shard.read(["text"]).column("text"), task.params.unit)
    return found.height, int(found["key"].str.len_bytes().sum() or 0)


def _shuffle_task(task: _Task) -> None:
    assert task.shard is not None
    table = task.shard.read(["id", "text"])
    found = units(table.column("text"), task.params.unit)
    ids = pl.Series(table.column("id"), dtype=pl.String)
    df = found.select(
        h=pl.col("key").hash(seed=0), key="key", id=ids.gather(found["row"]), row="row", unit="unit"
    ).with_columns(shard=pl.lit(task.index, pl.Int64))
    write_parts(task.work, "units", task.index, df, "h", task.parts)


def _count_task(task: _Task) -> dict[str, int]:
    """Per partition: documents per key; occurrences beyond the first ``keep`` documents are removed."""
    df = read_part(task.work, "units", task.index)
    schema = {"shard": pl.Int64, "row": pl.Int64, "unit": pl.Int64, "also": pl.List(pl.String)}
    if df.is_empty():
        write_parts(task.work, "rm", task.index, pl.DataFrame(schema=schema), "shard", task.shards)
        return {"repeated_keys": 0, "repeated_units": 0, "removed_units": 0}
    p = task.params
    docs = (
        df.select("key", "id")
        .unique()
        .sort("key", "id")
        .with_columns(n=pl.len().over("key"), rank=pl.int_range(pl.len()).over("key"))
        .filter(pl.col("n") >= p.min_docs)
    )
    firsts = docs.filter(pl.col("rank") <= ALSO_IN_MAX).group_by("key").agg(also=pl.col("id").sort())
    repeated = df.join(docs.select("key", "id", "rank"), on=["key", "id"])
    removed = repeated.filter(pl.col("rank") >= p.keep).join(firsts, on="key").select(*schema)
    write_parts(task.work, "rm", task.index, removed, "shard", task.shards)
    return {
        "repeated_keys": int(docs["key"].n_unique()),
        "repeated_units": repeated.height,
        "removed_units": removed.height,
    }


def removals(work: WorkDir, table: pa.Table, unit: str, shard: int) -> Removals:
    """The shard's removed units as character spans, sorted by (row, start)."""
    rm = read_part(work, "rm", shard)
    if rm.is_empty():
        empty = np.zeros(0, np.int64)
        return Removals(empty, empty, empty, [])
    found = units(table.column("text"), unit).join(rm, on=["row", "unit"]).sort("row", "start")
    ids = table.column("id").to_pylist()
    also = [
        [i for i in others if i != ids[row]][:ALSO_IN_MAX]
        for row, others in zip(found["row"].to_list(), found["also"].to_list())
    ]
    return Removals(found["row"].to_numpy(), found["start"].to_numpy(), found["end"].to_numpy(), also)
