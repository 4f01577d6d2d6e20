"""Exact repeated substrings across a corpus (Lee et al. 2022, "ExactSubstr"), on a cluster.

**What is removed.** Documents are token streams (``dedup.tokens``: the pipeline tokenizer's
ids, or words). A *window* is ``k = min_tokens`` consecutive tokens of one document. A window
is *repeated* when its token sequence occurs at least twice in the corpus (in two documents
or twice in one). With ``keep: none`` every token inside a repeated window is removed; with
``keep: first`` every token inside a repeated window's occurrence that is not its first, in
the order (document id, position), is removed. Contiguous removed tokens form one removed
span (characters from the first token's start to the last token's end).

This is the union of all repeated spans of >= k tokens, as the paper's tool computes with a
suffix array: a span of L >= k tokens occurring twice is the union of its L - k + 1 windows,
each occurring twice; conversely a repeated window is a repeated span of length k. So
"every repeated span of >= k tokens" and "every repeated window" cover the same tokens.

**How (every step a parallel map; memory bounded by ``partition_mb``).**

1. per shard: tokenize, store the token stream (``tokens/<shard>``);
2. per shard: hash every window (polynomial hash of its token values, O(1) per window from
   prefix sums) and shuffle ``(hash, shard, token)`` by hash into P1 partitions, P1 chosen
   so that one partition's windows fit in ``partition_mb``;
3. per partition: windows whose hash occurs twice or more are *candidates*, sent back to
   their shards;
4. per shard: each candidate's exact content (its token ids, or its words joined by a
   space) and its order key (document id, position), shuffled by hash into P2 partitions
   sized from the candidate count;
5. per partition: group candidates by (hash, content): a group of >= 2 is a repeated
   window; every occurrence but the first (``keep: first``) or all (``keep: none``) is
   removed and sent to its shard with the id of another document holding it;
6. ``removals`` (in the stage's per-shard pass): removed windows -> covered tokens ->
   character spans.

**Exactness.** No repeated window is missed: equal windows have equal token values, hence
equal hashes (step 2), land in the same partition and are both candidates (step 3), and
their contents compare equal (step 5). Nothing else is removed: a window is removed only
inside a group of byte-equal contents, and equal content is equal token sequences. Hash
collisions only add candidates that step 5 rejects (counted as ``unconfirmed_candidates``).

**Cost.** Steps 1-3 are linear in the corpus' tokens; steps 4-5 are linear in the number
of candidate windows times ``k`` (the content compared), i.e. in the repeated text. A
single suffix array over the corpus would need it in one memory; per-shard suffix arrays
would still need this cross-shard shuffle of every window, and add nothing to it: on real
text almost every window is distinct within its shard. The independent reference in
``bench/substring_dedup.py`` and the tests is a suffix array (``pydivsufsort``) over the
whole (small) corpus, and the two agree span for span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from dataprep.core.contract import Executor, ShardRef, WorkDir
from dataprep.dedup.scratch import read_part, write_parts
from dataprep.dedup.spans import ALSO_IN_MAX, Removals
from dataprep.dedup.tokens import Tokens, tokenizer_tokens, window_content, windows, word_tokens

WINDOW_BYTES = 48  # memory of one (hash, shard, token) row in a polars frame, with headroom
CONTENT_OVERHEAD = 96  # memory of one candidate row besides its content (hash, id, position, ...)


@dataclass(frozen=True)
class Params:
    min_tokens: int
    keep: Literal["first", "none"]
    tokenizer: str | None  # resolved tokenizer.json path; None: words
    partition_mb: int


@dataclass(frozen=True)
class _Task:
    """One parallel unit (picklable: sent to a worker)."""

    params: Params
    work: WorkDir
    shards: int
    parts: int  # partitions of the shuffle this task writes or reads
    index: int  # the shard or partition
    shard: ShardRef | None = None


def parts_for(rows: int, row_bytes: float, partition_mb: int) -> int:
    """Partitions needed so one holds at most ``partition_mb`` of rows."""
    return max(1, math.ceil(rows * row_bytes / (partition_mb * 2**20)))


def shard_tokens(texts: Any, tokenizer: str | None) -> Tokens:
    """Tokens of a shard's ``text`` column (a pyarrow array)."""
    if tokenizer is None:
        return word_tokens(texts)
    from dataprep.tokenize.encoder import load_tokenizer

    return tokenizer_tokens(texts.to_pylist(), load_tokenizer(tokenizer))


def read_tokens(work: WorkDir, params: Params, shard: int) -> Tokens:
    return Tokens.from_table(work.read_table(f"tokens/{shard:05d}"), exact=params.tokenizer is not None)


def find_repeats(inputs: list[ShardRef], work: WorkDir, executor: Executor, params: Params) -> dict[str, Any]:
    """Steps 1-5 over every input shard; leaves per-shard removed windows in ``work``."""
    shards = len(inputs)

    def shard_tasks(parts: int) -> list[_Task]:
        return [_Task(params, work, shards, parts, i, s) for i, s in enumerate(inputs)]

    counted = executor.map(_tokens_task, shard_tasks(0))
    total_windows = sum(w for _, w in counted)
    p1 = parts_for(total_windows, WINDOW_BYTES, params.partition_mb)
    executor.map(_windows_task, shard_tasks(p1))
    candidates = sum(executor.map(_candidates_task, [_Task(params, work, shards, p1, p) for p in range(p1)]))
    per_candidate = CONTENT_OVERHEAD + params.min_tokens * (4 if params.tokenizer else 8)
    p2 = parts_for(candidates, per_candidate, params.partition_mb)
    executor.map(_content_task, shard_tasks(p2))
    found = executor.map(_repeats_task, [_Task(params, work, shards, p2, p) for p in range(p2)])
    repeated = {k: sum(f[k] for f in found) for k in ("repeated_windows", "repeated_occurrences", "removed_windows")}
    return {
        "tokens": sum(t for t, _ in counted),
        "windows": total_windows,
        "candidate_windows": candidates,
        "unconfirmed_candidates": candidates - repeated["repeated_occurrences"],
        **repeated,
        "partitions": [p1, p2],
    }


def _tokens_task(task: _Task) -> tuple[int, int]:
    """Step 1: the shard's token stream. Returns (tokens, windows)."""
    assert task.shard is not None
    tokens = shard_tokens(task.shard.read(["text"]).column("text"), task.params.tokenizer)
    task.work.write_table(f"tokens/{task.index:05d}", tokens.to_table())
    per_row = np.bincount(tokens.row) if len(tokens.row) else np.zeros(0, np.int64)
    return len(tokens.value), int(np.maximum(per_row - task.params.min_tokens + 1, 0).sum())


def _windows_task(task: _Task) -> None:
    """Step 2: every window's hash, shuffled by hash."""
    first, h = windows(read_tokens(task.work, task.params, task.index), task.params.min_tokens)
    df = pl.DataFrame({"h": h, "shard": np.full(len(first), task.index, np.int64), "tok": first})
    write_parts(task.work, "win", task.index, df, "h", task.parts)


def _candidates_task(task: _Task) -> int:
    """Step 3: windows whose hash is seen twice or more, routed back to their shards."""
    df = read_part(task.work, "win", task.index)
    cand = df.filter(pl.col("h").is_duplicated()) if not df.is_empty() else df
    if cand.is_empty():
        cand = pl.DataFrame(schema={"h": pl.UInt64, "shard": pl.Int64, "tok": pl.Int64})
    write_parts(task.work, "cand", task.index, cand, "shard", task.shards)
    return cand.height


def _content_task(task: _Task) -> None:
    """Step 4: the candidates' exact content and order key, shuffled by hash."""
    assert task.shard is not None
    k = task.params.min_tokens
    cand = read_part(task.work, "cand", task.index)
    schema = {"h": pl.UInt64, "content": pl.Binary, "id": pl.String, "pos": pl.Int64, "tok": pl.Int64}
    if cand.is_empty():
        write_parts(task.work, "cont", task.index, pl.DataFrame(schema=schema), "h", task.parts)
        return
    cand = cand.sort("tok")
    tokens = read_tokens(task.work, task.params, task.index)
    table = task.shard.read(["id", "text"])
    first = cand["tok"].to_numpy()
    rows = tokens.row[first]
    texts = table.column("text").to_pylist() if not tokens.exact else []
    ids = table.column("id").to_numpy(zero_copy_only=False)
    df = pl.DataFrame(
        {
            "h": cand["h"],
            "content": pl.Series(window_content(tokens, texts, first, k), dtype=pl.Binary),
            "id": pl.Series(ids[rows], dtype=pl.String),
            "pos": first - tokens.row_starts(table.num_rows)[rows],
            "tok": first,
        },
        schema=schema,
    )
    write_parts(task.work, "cont", task.index, df.with_columns(shard=pl.lit(task.index, pl.Int64)), "h", task.parts)


def _repeats_task(task: _Task) -> dict[str, int]:
    """Step 5: candidates grouped by exact content; removed occurrences routed to their shards."""
    df = read_part(task.work, "cont", task.index)
    out_schema = {"shard": pl.Int64, "tok": pl.Int64, "other": pl.String}
    if df.is_empty():
        write_parts(task.work, "rm", task.index, pl.DataFrame(schema=out_schema), "shard", task.shards)
        return {"repeated_windows": 0, "repeated_occurrences": 0, "removed_windows": 0}
    group = ["h", "content"]
    rep = (
        df.sort([*group, "id", "pos"])
        .with_columns(n=pl.len().over(group), rank=pl.int_range(pl.len()).over(group))
        .filter(pl.col("n") >= 2)
        .with_columns(
            first_id=pl.col("id").first().over(group),
            second_id=pl.col("id").slice(1, 1).first().over(group),
        )
    )
    other = pl.when(pl.col("rank") == 0).then(pl.col("second_id")).otherwise(pl.col("first_id"))
    removed = rep if task.params.keep == "none" else rep.filter(pl.col("rank") > 0)
    removed = removed.select("shard", "tok", other=other)
    write_parts(task.work, "rm", task.index, removed, "shard", task.shards)
    return {
        "repeated_windows": int(rep.filter(pl.col("rank") == 0).height),
        "repeated_occurrences": rep.height,
        "removed_windows": removed.height,
    }


def removals(work: WorkDir, params: Params, shard: int) -> Removals:
    """Step 6: the shard's removed windows as disjoint character spans, sorted by (row, start)."""
    tokens = read_tokens(work, params, shard)
    rm = read_part(work, "rm", shard)
    if rm.is_empty():
        empty = np.zeros(0, np.int64)
        return Removals(empty, empty, empty, [])
    rm = rm.sort("tok", "other")
    first = rm["tok"].to_numpy()
    n, k = len(tokens.value), params.min_tokens
    depth = np.cumsum(np.bincount(first, minlength=n + 1) - np.bincount(first + k, minlength=n + k + 1)[: n + 1])
    covered = np.flatnonzero(depth[:n] > 0)
    new_run = np.ones(len(covered), dtype=bool)
    new_run[1:] = (np.diff(covered) != 1) | (np.diff(tokens.row[covered]) != 0)
    run_first = covered[new_run]
    run_last = covered[np.concatenate([np.flatnonzero(new_run)[1:] - 1, [len(covered) - 1]])]
    run_of = np.searchsorted(run_first, first, side="right") - 1
    also = (
        pl.DataFrame({"run": run_of, "other": rm["other"]})
        .unique()
        .sort("run", "other")
        .group_by("run", maintain_order=True)
        .agg(pl.col("other").head(ALSO_IN_MAX))
    )
    also_in: list[list[str]] = [[] for _ in range(len(run_first))]
    for run, others in zip(also["run"].to_list(), also["other"].to_list()):
        also_in[run] = others
    return Removals(tokens.row[run_first], tokens.start[run_first], tokens.end[run_last], also_in)
