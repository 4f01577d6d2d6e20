"""Phase 4 of a dedup pass: the duplicate graph's connected components and their members.

Components come from ``dedup.components`` (partitioned min-label propagation); each labelled
document's ranking attributes then go to its component's partition, where phase 5 decides.
"""

from __future__ import annotations

import polars as pl

from dataprep.core.contract import Executor
from dataprep.dedup.components import connected_components, read_labels
from dataprep.dedup.scratch import NODE, Task, drop, read_part, write_parts


def find_clusters(executor: Executor, tasks: list[Task]) -> int:
    """Label the edges' nodes with their components, then gather each component's members
    (``tasks``: one per partition). Returns the propagation rounds."""
    rounds = connected_components(tasks[0].work, executor, "edges", tasks[0].parts)
    executor.map(members_task, tasks)
    drop(tasks[0].work, "attrs", "labels")
    return rounds


def members_task(task: Task) -> None:
    """Per node partition: each graph node's ranking attributes, sent to its component's partition."""
    attrs = read_part(task.work, "attrs", task.index)
    dupes = attrs.filter(pl.col("node").is_duplicated())
    if not dupes.is_empty():
        raise RuntimeError(f"two document ids share a 64-bit node hash: {sorted(dupes['id'].to_list())[:4]}")
    labels = read_labels(task.work, task.index)
    members = (
        labels.join(attrs, on="node")
        if not labels.is_empty()
        else attrs.clear().with_columns(pl.lit(0, NODE).alias("label"))
    )
    write_parts(task.work, "members", task.index, members, "label", task.parts)
