"""Phase 4 of a dedup pass (clusters) on real text, in process: components and their members."""

from __future__ import annotations

import polars as pl
import pytest
from dedup_corpus import EXACT_COPY, HIGH_COPY, NEAR_COPY, new_pass

from dataprep.dedup.candidates import candidates_task
from dataprep.dedup.clusters import find_clusters
from dataprep.dedup.scratch import read_part
from dataprep.dedup.settings import DedupConfig
from dataprep.dedup.signatures import signature_task
from dataprep.dedup.verification import (
    jaccard_first_task,
    jaccard_second_task,
    locate_first_task,
    locate_second_task,
    signature_first_task,
    signature_second_task,
)
from dataprep.engine.executor import LocalExecutor


def clustered(tmp_path, texts: dict | list) -> tuple[int, pl.DataFrame]:
    """Phases 1-4 with the default settings (hybrid verification); the rounds and every member row."""
    run = new_pass(tmp_path, texts, DedupConfig())
    executor = LocalExecutor()
    executor.map(signature_task, run.group_tasks)
    for phase in (candidates_task, signature_first_task, signature_second_task, locate_first_task, locate_second_task):
        executor.map(phase, run.part_tasks)
    for phase in (jaccard_first_task, jaccard_second_task):
        executor.map(phase, run.group_tasks)
    rounds = find_clusters(executor, run.part_tasks)
    return rounds, pl.concat([read_part(run.work, "members", p) for p in range(len(run.part_tasks))])


def test_each_cluster_gathers_its_members_with_their_ranking_attributes(tmp_path, texts) -> None:
    rounds, members = clustered(tmp_path, texts)
    groups = sorted(sorted(g) for g in members.group_by("label").agg("id")["id"].to_list())
    assert groups == [["a:0", EXACT_COPY], ["a:1", NEAR_COPY], ["a:4", HIGH_COPY]]
    # labelled with the component's smallest node, as the stage's decisions expect
    assert members.select((pl.col("label") == pl.col("node").min().over("label")).all()).item()
    assert {"shard", "row", "length", "exact"} <= set(members.columns)
    assert rounds == 2  # labels from the neighbours, then one round to find nothing left to change


def test_two_documents_with_one_id_are_refused(tmp_path, texts) -> None:
    with pytest.raises(RuntimeError, match="share a 64-bit node hash"):
        clustered(tmp_path, [("a", texts["a"]), ("a", texts["b"])])
