"""The bounded planner (histograms over key ranges, only boundary ranges read) chooses exactly
what the in-memory planner chose, on real documents, and reads few of them."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dataprep.mix.sample import Cutoff, Histogram, buckets_of, choose_bucketed, sample_keys


def in_memory_choice(keys, ids, units, target):
    """The planner before histograms (dataprep/mix/sample.py at 066df3e), verbatim in logic: the oracle."""
    if target <= 0 or len(ids) == 0:
        return None, ()
    table = pa.table({"k": pa.array(keys, pa.uint64()), "i": pa.array(ids, pa.string())})
    order = pc.sort_indices(table, sort_keys=[("k", "ascending"), ("i", "ascending")]).to_numpy()
    ordered = units[order]
    totals = np.cumsum(ordered, dtype=np.int64)
    n = int(np.searchsorted(totals, target, side="right"))
    taken = int(totals[n - 1]) if n else 0

    def cut(m):
        return None if m == 0 else Cutoff(int(keys[order[m - 1]]), str(ids[order[m - 1]]))

    if n == len(ids):
        return cut(n), ()
    extra = []
    room = target - taken
    for i, u in zip(order[n + 1 :].tolist(), ordered[n + 1 :].tolist()):
        if room < 1:
            break
        if u <= room:
            extra.append(str(ids[i]))
            room -= u
    if int(totals[n]) - target < room:
        return cut(n + 1), ()
    return cut(n), tuple(sorted(extra))


@pytest.fixture(scope="module")
def documents(shared_data) -> tuple[list[str], np.ndarray]:
    """Real documents of very different sizes: every Debian fortune and every Python file."""
    ids, sizes = [], []
    for rel in ("misc/debian_fortunes.jsonl.gz", "code/thealgorithms_python.jsonl.gz"):
        with gzip.open(shared_data / "corpus" / rel, "rt") as f:
            for n, line in enumerate(f):
                ids.append(f"{rel}:{n + 1}")
                sizes.append(len(json.loads(line)["text"].encode()))
    return ids, np.array(sizes, dtype=np.int64)


def _bounded(keys, ids, units, target, bits):
    """The bounded planner over in-memory documents, counting the documents it reads."""
    buckets = buckets_of(keys, bits)
    hist = Histogram.empty(bits)
    hist.add(buckets, np.ones(len(ids), np.int64), units, units)
    read = []

    def fetch(wanted):
        rows = np.flatnonzero(np.isin(buckets, wanted))
        read.append(len(rows))
        return keys[rows], [ids[i] for i in rows.tolist()], units[rows]

    return choose_bucketed(hist, target, fetch), sum(read)


@pytest.mark.parametrize("bits", [1, 4, 8, 12])
def test_bounded_planner_chooses_what_the_in_memory_planner_chose(documents, bits):
    ids, units = documents
    total = int(units.sum())
    assert len(ids) > 10_000
    for seed in (0, 7):
        keys = sample_keys(ids, seed)
        targets = [0, 0.5, 1, 37, 5_000.5, *(f * total for f in (0.001, 0.1, 0.37, 0.5, 0.9, 0.999)), total - 3, total]
        for target in targets:
            expected = in_memory_choice(keys, ids, units, target)
            (cutoff, extra, sampled), _ = _bounded(keys, ids, units, target, bits)
            assert (cutoff, extra) == expected, (bits, seed, target)
            in_prefix = (keys < cutoff.key) | ((keys == cutoff.key) & (np.array(ids) <= cutoff.id)) if cutoff else 0
            chosen = np.asarray(in_prefix, bool) | np.isin(ids, list(extra))
            assert sampled == int(units[chosen].sum())


def test_the_bounded_planner_reads_only_boundary_ranges(documents):
    """At 4,096 ranges, a cut reads a small part of the domain (first-fit skips ranges by their smallest
    document), not all of its documents (measured: 968, 579 and 153 of 15,809)."""
    ids, units = documents
    keys = sample_keys(ids, 3)
    reads = [_bounded(keys, ids, units, f * int(units.sum()), 12)[1] for f in (0.1, 0.5, 0.9)]
    assert max(reads) < len(ids) / 10, reads
