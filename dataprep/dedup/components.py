"""Connected components of the duplicate graph, hash-partitioned so no process holds every edge.

The graph lives in the stage's WorkDir as edge files ``edges/<part>/<source>`` (both
directions, routed by ``u % parts``). Components come from iterative min-label propagation
(as in Pregel / GraphFrames): every node starts labelled with itself; each round a
partition task takes the messages sent to its nodes, lowers their labels, and sends each
*changed* node's new label to its neighbours. The fixpoint labels every node with the
smallest node of its component; rounds = the longest shortest path, a handful for
duplicate clusters. A task holds one partition's edges and labels, never the whole graph.
The one implementation: the stage runs it on the cluster, ``dataprep dedup-sweep`` in process.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from dataprep.core.contract import Executor, WorkDir
from dataprep.dedup.scratch import NODE, read_part, write_parts


def write_edges(work: WorkDir, prefix: str, source: int, pairs: pl.DataFrame, parts: int) -> None:
    """Shuffle undirected edges ``(a, b)`` into the edge files, as directed rows both ways."""
    directed = pl.concat([pairs.select(u="a", v="b"), pairs.select(u="b", v="a")])
    write_parts(work, prefix, source, directed, "u", parts)


@dataclass(frozen=True)
class _Round:
    """One partition's task in one propagation round (picklable for Ray)."""

    work: WorkDir
    edges: str
    parts: int
    part: int
    round: int


def _propagate(task: _Round) -> int:
    """Lower this partition's labels by the messages sent to it; message the changes on.

    Round 0 has no labels yet: every node is its own label and counts as changed. Returns
    the number of changed labels.
    """
    work, part = task.work, task.part
    edges = read_part(work, task.edges, part)
    if edges.is_empty():
        work.write_table(f"labels/{part:05d}", pl.DataFrame(schema={"node": NODE, "label": NODE}).to_arrow())
        return 0
    edges = edges.unique()
    if task.round == 0:
        labels = edges.select(pl.col("u").alias("node")).unique().with_columns(pl.col("node").alias("label"))
        changed = labels
    else:
        old = pl.from_arrow(work.read_table(f"labels/{part:05d}"))
        inbox = read_part(work, f"msg/{task.round - 1:04d}", part)
        best = inbox.group_by("node").agg(pl.col("label").min().alias("offer")) if not inbox.is_empty() else None
        if best is None:
            return 0
        merged = old.join(best, on="node", how="left")
        lowered = pl.col("offer").is_not_null() & (pl.col("offer") < pl.col("label"))
        changed = merged.filter(lowered).select("node", pl.col("offer").alias("label"))
        labels = merged.select(
            "node", pl.when(lowered).then(pl.col("offer")).otherwise(pl.col("label")).alias("label")
        )
    work.write_table(f"labels/{part:05d}", labels.sort("node").to_arrow())
    messages = (
        edges.join(changed, left_on="u", right_on="node")
        .filter(pl.col("label") < pl.col("v"))
        .select(pl.col("v").alias("node"), "label")
    )
    write_parts(work, f"msg/{task.round:04d}", part, messages, "node", task.parts)
    return changed.height


def connected_components(work: WorkDir, executor: Executor, edges: str, parts: int, max_rounds: int = 1000) -> int:
    """Label every node of the edge files under ``edges`` with its component's smallest node.

    Labels land in ``labels/<part>`` (columns ``node``, ``label``; nodes without edges are
    absent). Returns the number of rounds. Deterministic: the fixpoint does not depend on
    message order or on how many workers ran.
    """
    for rnd in range(max_rounds):
        changed = executor.map(_propagate, [_Round(work, edges, parts, p, rnd) for p in range(parts)])
        if sum(changed) == 0:
            return rnd + 1
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds (a duplicate chain that long?)")


def read_labels(work: WorkDir, part: int) -> pl.DataFrame:
    """The final ``node -> label`` table of one partition."""
    return pl.from_arrow(work.read_table(f"labels/{part:05d}"))


def size_histogram(sizes: list[int]) -> dict[str, int]:
    """Cluster sizes bucketed by powers of two: {"2": n, "3-4": n, "5-8": n, ...}."""
    out: dict[str, int] = {}
    for size in sizes:
        low, high = 2, 2
        while size > high:
            low, high = high + 1, high * 2
        key = str(low) if low == high else f"{low}-{high}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: int(kv[0].split("-")[0])))
