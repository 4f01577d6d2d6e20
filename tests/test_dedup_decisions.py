"""Phase 5 of a dedup pass (decisions) on real text, in process: which copy stays, per shard."""

from __future__ import annotations

import pyarrow as pa
from dedup_corpus import EXACT_COPY, HIGH_COPY, NEAR_COPY, new_pass

from dataprep.dedup.candidates import candidates_task
from dataprep.dedup.clusters import find_clusters
from dataprep.dedup.decisions import EXACT, NEAR, decide_task, gather_task, shard_decisions, shard_stats
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


def decided(tmp_path, texts, keep: list[str]) -> tuple[dict[str, tuple[str, str]], list[int], object]:
    """Phases 1-5; each rejected id with (reason, dup_of), the cluster sizes, and the pass."""
    run = new_pass(tmp_path, texts, DedupConfig(keep=keep))
    executor = LocalExecutor()
    executor.map(signature_task, run.group_tasks)
    for phase in (candidates_task, signature_first_task, signature_second_task, locate_first_task, locate_second_task):
        executor.map(phase, run.part_tasks)
    for phase in (jaccard_first_task, jaccard_second_task):
        executor.map(phase, run.group_tasks)
    find_clusters(executor, run.part_tasks)
    sizes = [size for part in executor.map(decide_task, run.part_tasks) for size, n in part.items() for _ in range(n)]
    executor.map(gather_task, run.group_tasks)
    out = {}
    for index, (name, docs) in enumerate(texts.items()):
        rows = shard_decisions(run.work, index, len(docs))
        assert rows["row"].to_list() == list(range(len(docs)))
        out |= {f"{name}:{r}": (why, dup) for r, why, dup in rows.drop_nulls("reason").iter_rows()}
    return out, sizes, run


def test_the_longest_copy_stays_and_each_removal_names_it(tmp_path, texts) -> None:
    out, sizes, _ = decided(tmp_path, texts, ["length"])
    # the upper-case copy ties on length, so the smaller id stays; the near copy is shorter
    assert out == {EXACT_COPY: (EXACT, "a:0"), NEAR_COPY: (NEAR, "a:1"), HIGH_COPY: (NEAR, "a:4")}
    assert sorted(sizes) == [2, 2, 2]


def test_the_keep_rule_can_prefer_the_shortest(tmp_path, texts) -> None:
    out, _, _ = decided(tmp_path, texts, ["-length"])
    assert out == {EXACT_COPY: (EXACT, "a:0"), "a:1": (NEAR, NEAR_COPY), "a:4": (NEAR, HIGH_COPY)}


def test_shard_stats_count_documents_and_removals_by_source_and_domain(tmp_path, texts) -> None:
    _, _, run = decided(tmp_path, texts, ["length"])
    docs = texts["b"]
    table = pa.table({"source": ["s"] * len(docs), "domain": ["copies"] * 2 + ["other"] * (len(docs) - 2)})
    stats = shard_stats(table, shard_decisions(run.work, 1, len(docs))["reason"])
    assert stats["docs_by_domain"] == {"copies": 2, "other": len(docs) - 2}
    assert stats["removed_by_domain"] == {"copies": 2, "other": 1} and stats["removed_by_source"] == {"s": 3}
