"""Which documents a mixture takes: whole repeats plus a seeded fractional sample.

Each document gets a key, xxh64 of its id under the run's seed: stable across processes,
machines and worker counts (unlike Python's salted ``hash``). Per domain, documents in
(key, id) order form a seeded random permutation; the fractional sample is the prefix of
that order whose unit total is closest to the plan's fraction. That prefix is remembered
as a ``Cutoff`` (the last key and id taken), so every shard decides alone, with no
document list shipped around: a document is taken iff its (key, id) <= the cutoff.
Selecting a prefix by units (rather than flipping a coin per document) is what lands
token shares within one document of the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dataprep.mix.plan import DomainPlan


@dataclass(frozen=True)
class Cutoff:
    """The last document (by key, then id) of a domain's fractional sample."""

    key: int
    id: str


@dataclass(frozen=True)
class DomainDraw:
    """What a shard needs to know about one domain: whole repeats and the sample cutoff."""

    repeats: int
    cutoff: Cutoff | None  # None: no fractional sample


def sample_keys(ids: Sequence[str], seed: int) -> np.ndarray:
    """xxh64 of each id with ``seed``: the document's position in the seeded order."""
    seed64 = seed % (1 << 64)
    return np.fromiter(
        (xxhash.xxh64_intdigest(i.encode("utf-8"), seed64) for i in ids), dtype=np.uint64, count=len(ids)
    )


def seeded_order(keys: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """Indices sorting documents by (key, id): ids break the (astronomically rare) key ties."""
    table = pa.table({"k": pa.array(keys, pa.uint64()), "i": pa.array(ids, pa.string())})
    return pc.sort_indices(table, sort_keys=[("k", "ascending"), ("i", "ascending")]).to_numpy()


def choose_cutoff(keys: np.ndarray, ids: Sequence[str], units: np.ndarray, target: float) -> Cutoff | None:
    """The cutoff whose prefix in seeded order totals closest to ``target`` units."""
    if target <= 0 or len(ids) == 0:
        return None
    order = seeded_order(keys, ids)
    totals = np.concatenate([[0], np.cumsum(units[order], dtype=np.int64)])
    n = int(np.argmin(np.abs(totals - target)))
    if n == 0:
        return None
    last = int(order[n - 1])
    return Cutoff(int(keys[last]), str(ids[last]))


def in_sample(keys: np.ndarray, ids: Sequence[str], cutoff: Cutoff | None) -> np.ndarray:
    """True for documents at or before ``cutoff`` in seeded order."""
    if cutoff is None:
        return np.zeros(len(keys), dtype=bool)
    key = np.uint64(cutoff.key)
    mask = keys < key
    for i in np.flatnonzero(keys == key):
        mask[i] = ids[i] <= cutoff.id
    return mask


def copies(groups: Sequence[str], keys: np.ndarray, ids: Sequence[str], draws: Mapping[str, DomainDraw]) -> np.ndarray:
    """How many times each document appears in the mixture (0 = not sampled)."""
    group_arr = np.asarray(groups, dtype=object)
    out = np.zeros(len(ids), dtype=np.int64)
    for name in sorted(set(group_arr.tolist())):
        if name not in draws:
            raise ValueError(f"domain {name!r} was not seen when the mixture was planned; re-run the mix stage")
        rows = np.flatnonzero(group_arr == name)
        picked = in_sample(keys[rows], [ids[i] for i in rows], draws[name].cutoff)
        out[rows] = draws[name].repeats + picked
    return out


def draw_for(plan: DomainPlan, keys: np.ndarray, ids: Sequence[str], units: np.ndarray) -> DomainDraw:
    """Turn one domain's plan into repeats and a cutoff over its documents."""
    return DomainDraw(plan.repeats, choose_cutoff(keys, ids, units, plan.fraction))
