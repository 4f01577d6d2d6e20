"""Partitioned min-label propagation against scipy's in-memory connected components."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as scipy_components

from dataprep.core.storage import StageWorkDir, Storage
from dataprep.dedup.components import connected_components, read_labels, size_histogram
from dataprep.dedup.scratch import write_parts
from dataprep.engine.executor import LocalExecutor


def test_labels_equal_the_smallest_node_of_each_scipy_component(tmp_path) -> None:
    rng = np.random.default_rng(5)
    nodes = np.unique(rng.integers(0, 2**63, 400, dtype=np.uint64))
    # clusters of 2..6 nodes joined by chains (diameter > 1), plus a 6-node chain
    edges = []
    order = rng.permutation(len(nodes))
    start = 0
    while start < 300:
        size = int(rng.integers(2, 7))
        members = order[start : start + size]
        edges += [(members[i], members[i + 1]) for i in range(len(members) - 1)]
        start += size
    chain = order[300:306]
    edges += [(chain[i], chain[i + 1]) for i in range(len(chain) - 1)]
    u, v = np.array(edges).T
    work = StageWorkDir(Storage(str(tmp_path)), "_work")
    parts = 3
    directed = pl.DataFrame({"u": np.concatenate([nodes[u], nodes[v]]), "v": np.concatenate([nodes[v], nodes[u]])})
    for source, chunk in enumerate(directed.iter_slices(150)):  # several writers, as in the stage
        write_parts(work, "edges", source, chunk, "u", parts)

    rounds = connected_components(work, LocalExecutor(), "edges", parts)

    labels = pl.concat([read_labels(work, p) for p in range(parts)])
    _, comp = scipy_components(coo_matrix((np.ones(len(u)), (u, v)), shape=(len(nodes), len(nodes))), directed=False)
    used = np.unique(np.concatenate([u, v]))
    expected = {int(nodes[i]): int(nodes[comp == comp[i]].min()) for i in used}
    assert dict(labels.iter_rows()) == expected
    assert 3 <= rounds <= 7  # the 6-node chain needs 5 rounds at most


def test_cluster_size_histogram_uses_power_of_two_buckets() -> None:
    assert size_histogram([2, 2, 3, 4, 5, 9, 17]) == {"2": 2, "3-4": 2, "5-8": 1, "9-16": 1, "17-32": 1}
