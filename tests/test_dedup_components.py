"""Partitioned connected components (hooking + pointer jumping) against scipy's in-memory ones."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as scipy_components

from dataprep.core.storage import StageWorkDir, Storage
from dataprep.dedup.components import connected_components, read_labels, size_histogram, write_edges
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
    assert 2 <= rounds <= 12  # two steps an iteration; iterations grow with log2 of the longest chain
    # the edge files are gone after round 1 (later rounds read each partition's gathered edges), and those too
    assert work.list("edges/") == [] and work.list("adjacent/") == []


@pytest.mark.parametrize("order", ["random", "descending"])
def test_a_chain_of_10000_converges_in_logarithmic_rounds(tmp_path, order) -> None:
    """Min-label propagation needed one round per link (10,000); pointer jumping needs O(log n)."""
    rng = np.random.default_rng(2)
    nodes = np.unique(rng.integers(1, 2**63, 10_100, dtype=np.uint64))[:10_000]
    nodes = rng.permutation(nodes) if order == "random" else nodes[::-1]
    work = StageWorkDir(Storage(str(tmp_path)), "_work")
    write_edges(work, "edges", 0, pl.DataFrame({"a": nodes[:-1], "b": nodes[1:]}), 4)

    rounds = connected_components(work, LocalExecutor(), "edges", 4)

    labels = pl.concat([read_labels(work, p) for p in range(4)])
    assert labels.height == 10_000 and (labels["label"] == nodes.min()).all()
    assert rounds <= 4 * math.ceil(math.log2(10_000))  # measured: 36 (random order), 30 (descending)


def test_cluster_size_histogram_uses_power_of_two_buckets() -> None:
    assert size_histogram({2: 2, 3: 1, 4: 1, 5: 1, 9: 1, 17: 1}) == {"2": 2, "3-4": 2, "5-8": 1, "9-16": 1, "17-32": 1}
