"""Phase 3 of a dedup pass: which candidate pairs become edges of the duplicate graph.

``verify: signature`` joins both signatures of each candidate (two partitioned joins) and
keeps pairs whose MinHash estimate reaches the threshold; ``verify: jaccard`` locates both
documents, then per shard recomputes their shingle sets from the text and keeps pairs whose
exact Jaccard reaches it; ``verify: hybrid`` (the default) decides by the estimate where it
clears the threshold by three standard errors and checks exactly within that margin, so a
pair's fate near the threshold does not hang on the estimate's noise (at 128 values it is
+-0.035: a pair of true Jaccard 0.82 was estimated below 0.8 28% of the time);
``verify: none`` keeps every distinct candidate.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dataprep.core.contract import WorkDir
from dataprep.dedup.components import write_edges
from dataprep.dedup.lsh import estimate_similarity
from dataprep.dedup.minhash import unpack
from dataprep.dedup.normalize import normalize
from dataprep.dedup.scratch import NODE, Task, read_part, write_parts


def accept_task(task: Task) -> dict[str, int]:
    """Phase 3 (``verify: none``): every distinct candidate pair is an edge."""
    pairs = read_part(task.work, "cand", task.index).unique()
    write_edges(task.work, "edges", 2 * task.index + 1, pairs, task.parts)
    return {"candidate_pairs": pairs.height}


def _attach(
    work: WorkDir,
    pairs: str,
    table: str,
    part: int,
    side: str,
    columns: dict[str, str],
    out: str,
    route: pl.Expr,
    route_parts: int,
) -> int:
    """Join one partition of candidate pairs with a node-partitioned table on endpoint
    ``side`` (renaming ``columns``), then shuffle the result by ``route`` (an integer expression,
    kept as column ``to``). Returns the number of distinct pairs."""
    found = read_part(work, table, part, ["node", *columns]).select(
        pl.col("node").alias(side), *(pl.col(c).alias(n) for c, n in columns.items())
    )
    distinct = read_part(work, pairs, part).unique()
    joined = distinct.join(found, on=side).with_columns(route.alias("to"))
    write_parts(work, out, part, joined, "to", route_parts)
    return distinct.height


def signature_first_task(task: Task) -> dict[str, int]:
    """Phase 3a (``verify: signature``, ``hybrid``): the first document's signature, sent to the second's partition."""
    n = _attach(task.work, "cand", "sigs", task.index, "a", {"signature": "sig_a"}, "cand2", pl.col("b"), task.parts)
    return {"candidate_pairs": n}


def signature_second_task(task: Task) -> dict[str, int]:
    """Phase 3b: the second signature and the similarity estimate.

    ``signature``: pairs whose estimate reaches the threshold are edges. ``hybrid``: pairs
    whose estimate clears it by the margin are edges; those within the margin go on to the
    exact check (``exact_cand``), the rest are dropped.
    """
    cfg = task.config
    pairs = read_part(task.work, "cand2", task.index)
    sigs = read_part(task.work, "sigs", task.index, ["node", "signature"])
    joined = pairs.join(sigs.rename({"node": "b", "signature": "sig_b"}), on="b")
    sig_a, sig_b = (unpack(joined[c], cfg.num_perm) for c in ("sig_a", "sig_b"))
    estimate = pl.Series(estimate_similarity(sig_a, sig_b))
    margin = cfg.margin() if cfg.verify == "hybrid" else 0.0
    edges = joined.filter(estimate >= cfg.threshold + margin).select("a", "b")
    write_edges(task.work, "edges", 2 * task.index + 1, edges, task.parts)
    if cfg.verify != "hybrid":
        return {"verified_pairs": edges.height}
    unsure = joined.filter((estimate >= cfg.threshold - margin) & (estimate < cfg.threshold + margin))
    write_parts(task.work, "exact_cand", task.index, unsure.select("a", "b"), "a", task.parts)
    return {"verified_pairs": edges.height, "exact_checks": unsure.height}


def locate_first_task(task: Task) -> dict[str, int]:
    """Phase 3a (``verify: jaccard``; 3c for ``hybrid``, on the pairs within the margin):
    where the first document of each pair to check exactly lives."""
    cfg = task.config
    jaccard = cfg.verify == "jaccard"
    n = _attach(
        task.work,
        "exact_cand" if cfg.verify == "hybrid" and cfg.measure == "jaccard" else "cand",
        "attrs",
        task.index,
        "a",
        {"shard": "shard_a", "row": "row_a"},
        "located",
        pl.col("b"),
        task.parts,
    )
    return {"candidate_pairs": n} if jaccard else {}


def locate_second_task(task: Task) -> None:
    """Phase 3b: where the second lives; pairs go to the first document's shard group."""
    _attach(
        task.work,
        "located",
        "attrs",
        task.index,
        "b",
        {"shard": "shard_b", "row": "row_b"},
        "jside",
        pl.col("shard_a") // task.per_group,
        task.groups,
    )


def _shingle_sets(task: Task, shard: pl.Series, row: pl.Series) -> pl.DataFrame:
    """``shard, row -> shingles`` (distinct shingle hashes) of some rows of the group's shards,
    read one shard at a time; a shard none of whose rows is asked for is not read."""
    cfg, first = task.config, task.index * task.per_group
    wanted = pl.DataFrame({"shard": shard, "row": row}).unique().sort("shard", "row")
    sets = [pl.DataFrame(schema={"shard": shard.dtype, "row": row.dtype, "shingles": pl.List(NODE)})]
    for (s,), rows in wanted.group_by("shard", maintain_order=True):
        texts = pl.from_arrow(task.group[s - first].read(["text"]))["text"].gather(rows["row"])
        shingles, per_doc = cfg.hasher().shingles(normalize(texts, cfg.normalize), cfg.normalize.whitespace)
        flat = pl.DataFrame({"row": np.repeat(rows["row"].to_numpy(), per_doc), "h": pl.Series(shingles, dtype=NODE)})
        found = flat.group_by("row").agg(pl.col("h").unique(maintain_order=False).alias("shingles"))
        sets.append(found.select(pl.lit(s, shard.dtype).alias("shard"), "row", "shingles"))
    return pl.concat(sets)


def jaccard_first_task(task: Task) -> None:
    """Phase 3c (per shard group): the first documents' shingle sets, sent to the second documents' groups."""
    pairs = read_part(task.work, "jside", task.index)
    sets = _shingle_sets(task, pairs["shard_a"], pairs["row_a"])
    sets = sets.rename({"shard": "shard_a", "row": "row_a", "shingles": "set_a"})
    both = pairs.join(sets, on=["shard_a", "row_a"]).select(
        "a", "b", "shard_b", "row_b", "set_a", to=pl.col("shard_b") // task.per_group
    )
    write_parts(task.work, "jset", task.index, both, "to", task.groups)


def jaccard_second_task(task: Task) -> dict[str, int]:
    """Phase 3d (per shard group): exact Jaccard (or containment) of the two shingle sets; pairs
    reaching the threshold are edges."""
    pairs = read_part(task.work, "jset", task.index)
    sets = _shingle_sets(task, pairs["shard_b"], pairs["row_b"])
    both = pairs.join(sets.rename({"shard": "shard_b", "row": "row_b", "shingles": "set_b"}), on=["shard_b", "row_b"])
    common = pl.col("set_a").list.set_intersection("set_b").list.len()
    if task.config.measure == "containment":  # of the smaller set in the larger
        whole = pl.min_horizontal(pl.col("set_a").list.len(), pl.col("set_b").list.len())
    else:
        whole = pl.col("set_a").list.len() + pl.col("set_b").list.len() - common  # the union
    edges = both.filter(common >= task.config.threshold * whole).select("a", "b")
    write_edges(task.work, "edges", 2 * task.parts + task.index, edges, task.parts)
    return {"verified_pairs": edges.height}
