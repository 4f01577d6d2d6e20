"""Containment candidates: documents whose shingles lie mostly inside a document at least as long.

Jaccard cannot see partial copies: an answer copied from a longer page (90% of its shingles
inside the page) has a Jaccard of ~0.2-0.5 with it. As in MinHash LSH Ensemble (Zhu et al.,
2016), containment is estimated from a sample of the smaller side against the larger side's
set: each document sends its ``anchors`` (its k smallest shingle hashes; the hashes are
random, so this is a uniform sample without replacement) and all its distinct shingles
(postings), both partitioned by shingle hash. Joining them counts, for every pair, how many
of one document's anchors the other holds; a document contained at C in another holds about
k * C of them, so pairs holding ``anchor_share`` of them become candidates, and candidates
are then verified exactly (shingle-set containment, ``verification``). Unlike the Ensemble's
size-partitioned LSH indexes, the larger side is exact here, at the cost of shuffling every
distinct shingle once.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dataprep.core.contract import WorkDir
from dataprep.dedup.scratch import NODE, Task, read_part, write_parts
from dataprep.dedup.settings import DedupConfig


def write_containment_sketch(
    work: WorkDir,
    index: int,
    parts: int,
    nodes: pl.Series,
    shingles: np.ndarray,
    per_doc: np.ndarray,
    cfg: DedupConfig,
) -> None:
    """Phase 1 (containment): shuffle each document's distinct shingles and its anchors by hash."""
    docs = pl.DataFrame({"node": np.repeat(nodes.to_numpy(), per_doc), "h": pl.Series(shingles, dtype=NODE)})
    docs = docs.unique().sort("node", "h")
    postings = docs.join(docs.group_by("node").len("size"), on="node")
    anchors = postings.group_by("node", maintain_order=True).head(cfg.anchors)
    write_parts(work, "postings", index, postings.select("h", "node", "size"), "h", parts)
    write_parts(work, "anchors", index, anchors.select("h", "node", "size"), "h", parts)


def anchor_counts_task(task: Task) -> dict[str, int]:
    """Phase 2b (per shingle partition): for each anchor, the documents at least as long holding
    it; counts per (anchor document, holder) go to the anchor document's partition.

    A shingle held by more than ``bucket_anchors`` documents (boilerplate) is not counted, so
    one common line cannot pair every document with every other."""
    postings = read_part(task.work, "postings", task.index)
    anchors = read_part(task.work, "anchors", task.index)
    common = postings.group_by("h").len().filter(pl.col("len") > task.config.bucket_anchors)
    held = anchors.join(postings, on="h", suffix="_b").join(common.select("h"), on="h", how="anti")
    longer = (pl.col("size_b") > pl.col("size")) | (
        (pl.col("size_b") == pl.col("size")) & (pl.col("node_b") < pl.col("node"))
    )
    counts = held.filter(longer).group_by("node", "size", "node_b").len("held")
    write_parts(task.work, "held", task.index, counts, "node", task.parts)
    return {"large_buckets": common.height}


def containment_pairs_task(task: Task) -> dict[str, int]:
    """Phase 2c (per anchor-document partition): pairs holding ``anchor_share`` of the
    document's anchors become candidate pairs (``a < b``), like the LSH candidates."""
    counts = read_part(task.work, "held", task.index)
    share = task.config.anchor_share()
    if counts.is_empty():
        pairs = pl.DataFrame(schema={"a": NODE, "b": NODE})
    else:
        total = counts.group_by("node", "size", "node_b").agg(pl.col("held").sum())
        need = (pl.min_horizontal("size", task.config.anchors) * share - 1e-9).ceil()
        pairs = total.filter(pl.col("held") >= need).select(
            a=pl.min_horizontal("node", "node_b"), b=pl.max_horizontal("node", "node_b")
        )
    write_parts(task.work, "cand", task.parts + task.index, pairs.unique(), "a", task.parts)
    return {"candidate_pairs": pairs.height}
