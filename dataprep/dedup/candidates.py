"""Phase 2 of a dedup pass, per partition: exact groups become edges, band buckets candidate pairs.

Documents with equal normalized text are joined to the smallest node of their group by an
edge at once (no verification needed); LSH buckets become candidate pairs (documents with
equal normalized text collapse to one per bucket first), routed to the first node's
partition for verification.
"""

from __future__ import annotations

import polars as pl

from dataprep.dedup.components import write_edges
from dataprep.dedup.lsh import candidate_pairs
from dataprep.dedup.scratch import NODE, Task, read_part, write_parts


def candidates_task(task: Task) -> dict[str, int]:
    """Phase 2 (per partition): exact groups become edges; band buckets become candidate pairs."""
    work, parts, p = task.work, task.parts, task.index
    exact = read_part(work, "exact", p)
    groups = pl.DataFrame(schema={"node": NODE, "rep": NODE})
    if not exact.is_empty():
        groups = (
            exact.unique().with_columns(rep=pl.col("node").min().over("exact")).filter(pl.col("node") != pl.col("rep"))
        )
    write_edges(work, "edges", 2 * p, groups.select(a="node", b="rep"), parts)
    pairs, large = candidate_pairs(read_part(work, "bands", p), task.config.bucket_anchors, task.config.exact)
    write_parts(work, "cand", p, pairs, "a", parts)  # a pair found in several bands lands once per band
    return {"exact_groups": groups["rep"].n_unique(), "large_buckets": large}
