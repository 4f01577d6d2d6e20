"""Connected components of the duplicate graph, hash-partitioned so no process holds every edge.

The graph lives in a WorkDir as edge files ``edges/<source>`` (both directions, a record batch
per partition of ``u``), which the first round gathers into one file per partition. Every node
keeps a parent label, never larger than itself, in ``labels/<part>``; components come from
alternating two steps (Shiloach-Vishkin style):

* shortcut (pointer jumping): every node takes its parent's parent until every tree is a
  star; each step halves a tree's depth, so a chain of n nodes needs log2(n) steps;
* hook: for every edge whose endpoints sit in different stars, the larger root takes the
  smaller root as parent. Every star that is not a local minimum among its neighbours is
  hooked, so the number of stars at least halves per hook.

When a hook finds no edge between different stars, every node is labelled with the smallest
node of its component (labels only ever fall, and stay inside the component). Rounds grow
with the log of the longest chain, not with its length as plain min-label propagation's do.
A task holds one partition's edges and labels, never the whole graph. The one implementation:
the dedup stage and ``dataprep dedup-sweep`` run it on the executor they are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from dataprep.core.contract import Executor, WorkDir
from dataprep.dedup.scratch import NODE, drop, read_part, write_parts

_NO_LABELS = pl.DataFrame(schema={"node": NODE, "label": NODE})
ADJACENT = "adjacent"  # each partition's edges in one file, written in round 1


def write_edges(work: WorkDir, prefix: str, source: int, pairs: pl.DataFrame, parts: int) -> None:
    """Shuffle undirected edges ``(a, b)`` into the edge files, as directed rows both ways."""
    directed = pl.concat([pairs.select(u="a", v="b"), pairs.select(u="b", v="a")])
    write_parts(work, prefix, source, directed, "u", parts)


@dataclass(frozen=True)
class _Step:
    """One partition's task in one round (picklable for Ray)."""

    work: WorkDir
    edges_prefix: str
    parts: int
    part: int
    round: int

    def labels(self) -> pl.DataFrame:
        return pl.from_arrow(self.work.read_table(f"labels/{self.part:05d}"))

    def edges(self) -> pl.DataFrame:
        """This partition's edges: in round 1 a piece of every edge file (one per task of each phase
        that found edges: 2P + G), kept as one file (``adjacent/<part>``) that later rounds read once.
        At 10M short documents re-reading the pieces every round was 52k of a pass's 260k reads."""
        if self.round > 1:
            return pl.from_arrow(self.work.read_table(f"{ADJACENT}/{self.part:05d}"))
        edges = read_part(self.work, self.edges_prefix, self.part)
        self.work.write_table(f"{ADJACENT}/{self.part:05d}", edges.to_arrow())
        return edges

    def write(self, prefix: str, df: pl.DataFrame, key: str) -> None:
        write_parts(self.work, f"{prefix}/{self.round:04d}", self.part, df, key, self.parts)

    def read(self, prefix: str) -> pl.DataFrame:
        return read_part(self.work, f"{prefix}/{self.round - 1:04d}", self.part)


def _send(task: _Step) -> None:
    """Settle this partition's labels, then send what the other side needs to answer.

    Round 1 starts every node at the smallest of itself and its neighbours; later rounds
    lower labels by the offers and grandparents received. Then each non-root node asks its
    parent for the parent's label (``ask``), and each edge sends ``u``'s label to ``v``
    (``hook``).
    """
    edges = task.edges()
    if task.round == 1:
        labels = (
            edges.group_by("u").agg(pl.col("v").min()).select(node="u", label=pl.min_horizontal("u", "v")).sort("node")
            if not edges.is_empty()
            else _NO_LABELS
        )
        task.work.write_table(f"labels/{task.part:05d}", labels.to_arrow())
    else:
        labels, inbox = task.labels(), task.read("msg")
        if not inbox.is_empty():
            best = inbox.group_by("node").agg(pl.col("label").min().alias("offer"))
            labels = labels.join(best, on="node", how="left", maintain_order="left")
            labels = labels.select("node", label=pl.min_horizontal("label", "offer"))
            task.work.write_table(f"labels/{task.part:05d}", labels.to_arrow())
    task.write("ask", labels.filter(pl.col("label") != pl.col("node")).select("node", parent="label"), "parent")
    task.write("hook", edges.join(labels, left_on="u", right_on="node").select(node="v", label_u="label"), "node")


def _answer(task: _Step) -> int:
    """Answer the previous round: a grandparent to each node whose parent is not a root
    (pointer jumping), and, where an edge joins two different labels, the smaller to the
    larger (hooking). Returns how many were sent: none means every node is final."""
    labels = task.labels()
    asks = task.read("ask").join(labels.rename({"node": "parent", "label": "grand"}), on="parent")
    jumps = asks.filter(pl.col("grand") != pl.col("parent")).select("node", label="grand")
    hooks = task.read("hook").join(labels, on="node").filter(pl.col("label_u") != pl.col("label"))
    offers = hooks.select(node=pl.max_horizontal("label_u", "label"), label=pl.min_horizontal("label_u", "label"))
    answers = pl.concat([jumps, offers]).unique()
    task.write("msg", answers, "node")
    return answers.height


def connected_components(work: WorkDir, executor: Executor, edges: str, parts: int, max_rounds: int = 1000) -> int:
    """Label every node of the edge files under ``edges`` with its component's smallest node.

    Labels land in ``labels/<part>`` (columns ``node``, ``label``; nodes without edges are
    absent); the edge files (after round 1 has gathered them by partition) and each round's
    messages are deleted once read. Returns the number of rounds (parallel steps).
    Deterministic: the fixpoint does not depend on message order or on how many workers ran.
    """
    for rnd in range(1, max_rounds, 2):
        executor.map(_send, [_Step(work, edges, parts, p, rnd) for p in range(parts)])
        drop(work, f"msg/{rnd - 1:04d}", *([edges] if rnd == 1 else []))
        if sum(executor.map(_answer, [_Step(work, edges, parts, p, rnd + 1) for p in range(parts)])) == 0:
            drop(work, ADJACENT, "ask", "hook", "msg")
            return rnd + 1
        drop(work, f"ask/{rnd:04d}", f"hook/{rnd:04d}")
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")


def read_labels(work: WorkDir, part: int) -> pl.DataFrame:
    """The final ``node -> label`` table of one partition."""
    return pl.from_arrow(work.read_table(f"labels/{part:05d}"))


def size_histogram(sizes: Mapping[int, int]) -> dict[str, int]:
    """Clusters by size (size -> clusters) bucketed by powers of two: {"2": n, "3-4": n, "5-8": n, ...}."""
    out: dict[str, int] = {}
    for size, clusters in sizes.items():
        low, high = 2, 2
        while size > high:
            low, high = high + 1, high * 2
        key = str(low) if low == high else f"{low}-{high}"
        out[key] = out.get(key, 0) + clusters
    return dict(sorted(out.items(), key=lambda kv: int(kv[0].split("-")[0])))
