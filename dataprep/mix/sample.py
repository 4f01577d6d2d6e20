"""Which documents a mixture takes: whole repeats plus a seeded fractional sample.

Each document gets a key, xxh64 of its id under the run's seed: stable across processes,
machines and worker counts (unlike Python's salted ``hash``). Per domain, documents in
(key, id) order form a seeded random permutation; the fractional sample is the prefix of
that order up to the first document that would overshoot the plan's fraction, then
first-fit: later documents (in the same order) that still fit, until the fraction is met.
The prefix is remembered as a ``Cutoff`` (the last key and id taken), so every shard
decides alone: a document is taken iff its (key, id) <= the cutoff, or it is one of the
few first-fit ``extra`` ids. Filling by units (rather than flipping a coin per document)
lands token shares within a few tokens of the target even when documents are large; the
first-fit tail slightly favours small documents, but only for the last few picks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    cutoff: Cutoff | None  # None: no prefix
    extra: tuple[str, ...] = ()  # ids taken by first-fit after the prefix


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


def choose_sample(
    keys: np.ndarray, ids: Sequence[str], units: np.ndarray, target: float
) -> tuple[Cutoff | None, tuple[str, ...]]:
    """The prefix cutoff and first-fit extras whose units total closest to ``target``.

    First-fit never overshoots; if taking the first document that does not fit (a plain
    prefix one longer) lands closer, that wins instead.
    """
    if target <= 0 or len(ids) == 0:
        return None, ()
    order = seeded_order(keys, ids)
    ordered = units[order]
    totals = np.cumsum(ordered, dtype=np.int64)
    n = int(np.searchsorted(totals, target, side="right"))  # docs fitting wholly in order
    taken = int(totals[n - 1]) if n else 0
    if n == len(ids):
        return _cutoff(keys, ids, order, n), ()
    extra: list[str] = []
    room = target - taken
    for i, u in zip(order[n + 1 :].tolist(), ordered[n + 1 :].tolist()):
        if room < 1:
            break
        if u <= room:
            extra.append(str(ids[i]))
            room -= u
    if int(totals[n]) - target < room:  # one more in plain order is closer
        return _cutoff(keys, ids, order, n + 1), ()
    return _cutoff(keys, ids, order, n), tuple(sorted(extra))


def _cutoff(keys: np.ndarray, ids: Sequence[str], order: np.ndarray, n: int) -> Cutoff | None:
    if n == 0:
        return None
    last = int(order[n - 1])
    return Cutoff(int(keys[last]), str(ids[last]))


def in_sample(keys: np.ndarray, ids: Sequence[str], draw: DomainDraw) -> np.ndarray:
    """True for documents at or before the draw's cutoff in seeded order, or among its extras."""
    mask = np.zeros(len(keys), dtype=bool)
    if draw.cutoff is not None:
        key = np.uint64(draw.cutoff.key)
        mask = keys < key
        for i in np.flatnonzero(keys == key):
            mask[i] = ids[i] <= draw.cutoff.id
    if draw.extra:
        mask |= pc.is_in(pa.array(ids, pa.string()), value_set=pa.array(draw.extra, pa.string())).to_numpy(
            zero_copy_only=False
        )
    return mask


def copies(groups: Sequence[str], keys: np.ndarray, ids: Sequence[str], draws: Mapping[str, DomainDraw]) -> np.ndarray:
    """How many times each document appears in the mixture (0 = not sampled)."""
    group_arr = np.asarray(groups, dtype=object)
    out = np.zeros(len(ids), dtype=np.int64)
    for name in sorted(set(group_arr.tolist())):
        if name not in draws:
            raise ValueError(f"domain {name!r} was not seen when the mixture was planned; re-run the mix stage")
        rows = np.flatnonzero(group_arr == name)
        picked = in_sample(keys[rows], [ids[i] for i in rows], draws[name])
        out[rows] = draws[name].repeats + picked
    return out


def draw_for(plan: DomainPlan, keys: np.ndarray, ids: Sequence[str], units: np.ndarray) -> DomainDraw:
    """Turn one domain's plan into repeats and a cutoff over its documents."""
    cutoff, extra = choose_sample(keys, ids, units, plan.fraction)
    return DomainDraw(plan.repeats, cutoff, extra)
