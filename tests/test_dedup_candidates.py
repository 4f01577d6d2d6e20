"""Phase 2 of a dedup pass (candidates) on real text, in process: exact edges and LSH candidate pairs."""

from __future__ import annotations

import polars as pl
from dedup_corpus import EXACT_COPY, MID_COPY, NEAR_COPY, new_pass

from dataprep.dedup.candidates import candidates_task
from dataprep.dedup.scratch import read_part
from dataprep.dedup.settings import DedupConfig
from dataprep.dedup.signatures import signature_task
from dataprep.engine.executor import LocalExecutor


def named(run, prefix: str, columns: tuple[str, str]) -> set[tuple[str, str]]:
    """All rows of a shuffled pair table, with nodes turned back into document ids."""
    attrs = pl.concat([read_part(run.work, "attrs", p) for p in range(len(run.part_tasks))])
    ids = dict(zip(attrs["node"].to_list(), attrs["id"].to_list()))
    rows = pl.concat([read_part(run.work, prefix, p) for p in range(len(run.part_tasks))])
    return {(ids[x], ids[y]) for x, y in rows.select(columns).iter_rows()}


def test_exact_copies_become_edges_and_near_copies_candidates(tmp_path, texts) -> None:
    run = new_pass(tmp_path, texts, DedupConfig(bands=32, rows=2))  # liberal: the J=0.45 copy is a candidate too
    executor = LocalExecutor()
    executor.map(signature_task, run.group_tasks)
    stats = executor.map(candidates_task, run.part_tasks)

    assert sum(s["exact_groups"] for s in stats) == 1 and sum(s["large_buckets"] for s in stats) == 0
    assert named(run, "edges", ("u", "v")) == {(EXACT_COPY, "a:0"), ("a:0", EXACT_COPY)}  # both directions
    pairs = {tuple(sorted(p)) for p in named(run, "cand", ("a", "b"))}
    assert {("a:1", NEAR_COPY), ("a:2", MID_COPY)} <= pairs
    # the exact copy collapses into its original's node in every bucket: never a candidate itself
    assert all(EXACT_COPY not in p for p in pairs)


def test_without_exact_dedup_copies_are_only_candidates(tmp_path, texts) -> None:
    run = new_pass(tmp_path, texts, DedupConfig(exact=False))
    executor = LocalExecutor()
    executor.map(signature_task, run.group_tasks)
    stats = executor.map(candidates_task, run.part_tasks)

    assert sum(s["exact_groups"] for s in stats) == 0 and not named(run, "edges", ("u", "v"))
    assert {("a:0", EXACT_COPY), ("a:1", NEAR_COPY)} <= {tuple(sorted(p)) for p in named(run, "cand", ("a", "b"))}
