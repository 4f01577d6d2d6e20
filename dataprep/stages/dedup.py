"""The dedup stage: exact then MinHash-LSH near-duplicate removal, as a global stage.

Orchestration only. ``prepare`` runs one pass over the whole corpus as a chain of parallel
maps, each phase a module of ``dataprep.dedup`` working in the pass's scratch folder
(``dedup.scratch``; every phase is hash-partitioned, so no task holds the whole corpus):

1. ``signatures`` (per group of input shards): normalize, exact digest, MinHash signature, LSH
   band keys, shuffled into partitions;
2. ``candidates`` (per partition): exact groups -> edges; band buckets -> candidate pairs
   (``containment``: shared anchor shingles -> candidate pairs);
3. ``verification``: candidates -> edges by signature estimate, exact Jaccard near the
   threshold or everywhere (per group of shards, up to four groups per partition), or unverified;
4. ``clusters``: connected components of the edges, each cluster's members gathered;
5. ``decisions`` (per partition): the kept member of each cluster by the ``keep`` rule
   (content and id only, never arrival order); gathered per shard group into one decision
   table per shard.

``process`` then rejects its shard's decided rows with ``exact_dup`` (same normalized text
as the kept document) or ``near_dup``, and ``dup_of`` = the id of the kept document.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

from dataprep.dedup.candidates import candidates_task
from dataprep.dedup.clusters import find_clusters
from dataprep.dedup.components import size_histogram
from dataprep.dedup.containment import anchor_counts_task, containment_pairs_task
from dataprep.dedup.decisions import decide_task, gather_task, shard_decisions, shard_stats
from dataprep.dedup.scratch import CURRENT, Task, current_pass, drop, group_tasks, pass_name
from dataprep.dedup.settings import DedupConfig
from dataprep.dedup.signatures import signature_task
from dataprep.dedup.verification import (
    accept_task,
    jaccard_first_task,
    jaccard_second_task,
    locate_first_task,
    locate_second_task,
    signature_first_task,
    signature_second_task,
)
from dataprep.stages.base import FinalizeContext, PrepareContext, ShardContext, ShardResult, Stage, reject, sum_stats


class DedupStage(Stage):
    name = "dedup"
    kind = "global"
    config_model = DedupConfig
    reads = ("id", "text", "source", "domain")
    writes = ()

    config: DedupConfig

    def input_columns(self) -> tuple[str, ...]:
        """``reads`` plus the columns the ``keep`` rule ranks by (e.g. ``keep: [q_score]``)."""
        return (*self.reads, *self.config.rank_columns())

    def prepare(self, ctx: PrepareContext) -> None:
        cfg = self.config
        parts = cfg.partition_count(sum(s.rows for s in ctx.inputs))
        scope = pass_name(cfg, ctx.inputs)
        work = ctx.work.sub(scope)
        part_tasks = [Task(cfg, work, parts, len(ctx.inputs), p) for p in range(parts)]
        groups = group_tasks(cfg, work, parts, ctx.inputs)
        ctx.work.delete(scope)  # what a killed attempt of this pass left: every phase below rewrites it
        ctx.executor.map(signature_task, groups)
        found = ctx.executor.map(candidates_task, part_tasks)
        drop(work, "exact", "bands")
        if cfg.measure == "containment":
            found += ctx.executor.map(anchor_counts_task, part_tasks)
            drop(work, "postings", "anchors")
            found += ctx.executor.map(containment_pairs_task, part_tasks)
            drop(work, "held")
        elif cfg.verify == "none":
            found += ctx.executor.map(accept_task, part_tasks)
            drop(work, "cand")
        elif cfg.verify in ("signature", "hybrid"):
            found += ctx.executor.map(signature_first_task, part_tasks)
            drop(work, "cand")
            found += ctx.executor.map(signature_second_task, part_tasks)
            drop(work, "cand2")
        if not cfg.keep_signatures:
            drop(work, "sigs")  # read by signature verification (above) and dedup-sweep only
        if cfg.verify in ("jaccard", "hybrid"):
            found += ctx.executor.map(locate_first_task, part_tasks)
            drop(work, "cand", "exact_cand")
            ctx.executor.map(locate_second_task, part_tasks)
            drop(work, "located")
            ctx.executor.map(jaccard_first_task, groups)
            drop(work, "jside")
            found += ctx.executor.map(jaccard_second_task, groups)
            drop(work, "jset")
        rounds = find_clusters(ctx.executor, part_tasks)
        sizes: Counter[int] = Counter()  # clusters by size: one count per size, not per cluster
        for part in ctx.executor.map(decide_task, part_tasks):
            sizes.update(part)
        drop(work, "members")
        ctx.executor.map(gather_task, groups)
        drop(work, "decided")
        banding = cfg.banding()
        ctx.work.write_json(CURRENT, {"scope": scope})
        work.write_json(
            "stats.json",
            {
                "bands": banding.bands,
                "rows": banding.rows,
                "measure": cfg.measure,
                "threshold": cfg.threshold,
                "candidate_probability_at_threshold": round(banding.probability(cfg.threshold), 4),
                "predicted_recall": cfg.recall_curve(),
                "partitions": parts,
                "component_rounds": rounds,
                "clusters": sum(sizes.values()),
                "cluster_sizes": size_histogram(sizes),
                **sum_stats(found),
            },
        )

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        rows = shard_decisions(current_pass(ctx.work), ctx.index, table.num_rows)
        mask = rows["reason"].is_not_null()
        result = reject(table, mask.to_arrow(), rows["reason"].filter(mask).to_arrow())
        dup_of = rows["dup_of"].filter(mask).to_arrow()
        if result.rejected is not None:
            result.rejected = result.rejected.append_column("dup_of", dup_of.cast(pa.string()))
        result.stats = shard_stats(table, rows["reason"])
        return result

    def merge_stats(self, per_shard: list[dict[str, Any]]) -> dict[str, Any]:
        """Sums, plus the removed fraction by source and by domain."""
        stats = sum_stats(per_shard)
        for key in ("source", "domain"):
            docs, removed = stats.get(f"docs_by_{key}", {}), stats.get(f"removed_by_{key}", {})
            stats[f"removed_fraction_by_{key}"] = {
                k: round(removed.get(k, 0) / n, 6) for k, n in sorted(docs.items()) if n
            }
        return stats

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        """The pass's stats. Its per-shard decisions stay (a few bytes per removed document): a
        resume may process a finished stage's shards again without a new pass, e.g. when the
        stage is no longer the last and its shards become deltas."""
        return current_pass(ctx.work).read_json("stats.json")
