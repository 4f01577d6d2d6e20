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

The planner never holds a domain's documents: it works from per-shard histograms over key
ranges (``Histogram``) and reads only the documents of the range where the prefix stops
(``choose_bucketed``), so its memory depends on the number of ranges, not of documents.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash


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


BUCKET_BITS = 12  # the seeded order cut into 4,096 key ranges per domain: the planner's memory


def buckets_of(keys: np.ndarray, bits: int = BUCKET_BITS) -> np.ndarray:
    """The key range (top ``bits`` bits of the key) of each document: ranges follow the seeded order."""
    return (np.asarray(keys, np.uint64) >> np.uint64(64 - bits)).astype(np.int64)


@dataclass
class Histogram:
    """One domain's documents per key range: count, units and the smallest document's units.

    Enough to place a sample's cutoff to within one range and to skip ranges first-fit cannot
    use; summed over shards, its size depends on ``bits``, never on the number of documents.
    """

    counts: np.ndarray
    units: np.ndarray
    min_units: np.ndarray

    @classmethod
    def empty(cls, bits: int = BUCKET_BITS) -> Histogram:
        n = 1 << bits
        return cls(np.zeros(n, np.int64), np.zeros(n, np.int64), np.full(n, np.iinfo(np.int64).max))

    def add(self, buckets: np.ndarray, counts: np.ndarray, units: np.ndarray, min_units: np.ndarray) -> None:
        np.add.at(self.counts, buckets, counts)
        np.add.at(self.units, buckets, units)
        np.minimum.at(self.min_units, buckets, min_units)


def shard_histogram(groups: pa.Array, keys: np.ndarray, units: np.ndarray, bits: int = BUCKET_BITS) -> pa.Table:
    """Per (group, key range) of one shard: count, units, min units (only the ranges it has)."""
    table = pa.table({"group": groups, "bucket": buckets_of(keys, bits), "units": pa.array(units, pa.int64())})
    agg = table.group_by(["group", "bucket"], use_threads=False).aggregate(
        [("units", "count"), ("units", "sum"), ("units", "min")]
    )
    names = {"units_count": "count", "units_sum": "units", "units_min": "min_units"}
    return agg.rename_columns([names.get(c, c) for c in agg.column_names])


# The documents of the given key ranges of one domain: keys, ids, units (any order).
Fetch = Callable[[list[int]], tuple[np.ndarray, list[str], np.ndarray]]
FETCH_DOCS = 1 << 16  # first-fit reads later ranges at most this many documents at a time


def _ordered(fetch: Fetch, buckets: list[int]) -> tuple[np.ndarray, list[str], np.ndarray]:
    keys, ids, units = fetch(buckets)
    order = seeded_order(keys, ids)
    return keys[order], [ids[i] for i in order.tolist()], units[order]


def choose_bucketed(hist: Histogram, target: float, fetch: Fetch) -> tuple[Cutoff | None, tuple[str, ...], int]:
    """The prefix cutoff and first-fit extras whose units total closest to ``target``, and
    their units, reading only the key range where the prefix stops (and the one before it,
    the last, or ranges first-fit can still use).

    First-fit never overshoots; if taking the first document that does not fit (a plain
    prefix one longer) lands closer, that wins instead.
    """
    nonempty = np.flatnonzero(hist.counts)
    if target <= 0 or len(nonempty) == 0:
        return None, (), 0
    cum = np.cumsum(hist.units)
    b = int(np.searchsorted(cum, target, side="right"))  # the range holding the first document that does not fit
    if b == len(cum):  # every document fits: the cutoff is the last one
        keys, ids, _ = _ordered(fetch, [int(nonempty[-1])])
        return Cutoff(int(keys[-1]), ids[-1]), (), int(cum[-1])
    before = int(cum[b - 1]) if b else 0
    keys, ids, units = _ordered(fetch, [b])
    totals = before + np.cumsum(units, dtype=np.int64)
    n = int(np.searchsorted(totals, target, side="right"))  # documents of range b fitting wholly
    taken = int(totals[n - 1]) if n else before
    if n:
        prefix: Cutoff | None = Cutoff(int(keys[n - 1]), ids[n - 1])
    else:
        earlier = nonempty[nonempty < b]
        prev = _ordered(fetch, [int(earlier[-1])]) if len(earlier) else None
        prefix = Cutoff(int(prev[0][-1]), prev[1][-1]) if prev else None
    extra: list[str] = []
    room = target - taken
    extra_units = 0
    pending = iter(zip(units[n + 1 :].tolist(), ids[n + 1 :]))
    later = deque(int(c) for c in nonempty[nonempty > b])
    limit = max(int(hist.counts[b]), 1)  # first-fit usually ends in the next range or two: read more only if not
    while room >= 1:
        for u, i in pending:
            if room < 1:
                break
            if u <= room:
                extra.append(i)
                room -= u
                extra_units += u
        if room < 1:
            break
        batch, size = [], 0
        while later and (not batch or size + hist.counts[later[0]] <= limit):
            c = later.popleft()
            if hist.min_units[c] <= room:  # else no document of range c fits: skip it unread
                batch.append(c)
                size += int(hist.counts[c])
        if not batch:
            break
        limit = min(2 * limit, FETCH_DOCS)
        _, more_ids, more_units = _ordered(fetch, batch)
        pending = iter(zip(more_units.tolist(), more_ids))
    if int(totals[n]) - target < room:  # one more in plain order is closer
        return Cutoff(int(keys[n]), ids[n]), (), int(totals[n])
    return prefix, tuple(sorted(extra)), taken + extra_units


def choose_sample(
    keys: np.ndarray, ids: Sequence[str], units: np.ndarray, target: float
) -> tuple[Cutoff | None, tuple[str, ...]]:
    """``choose_bucketed`` over documents held in memory (one domain)."""
    keys = np.asarray(keys, np.uint64)
    buckets = buckets_of(keys)
    hist = Histogram.empty()
    hist.add(buckets, np.ones(len(keys), np.int64), np.asarray(units, np.int64), np.asarray(units, np.int64))

    def fetch(wanted: list[int]) -> tuple[np.ndarray, list[str], np.ndarray]:
        rows = np.flatnonzero(np.isin(buckets, wanted))
        return keys[rows], [str(ids[i]) for i in rows.tolist()], np.asarray(units)[rows]

    cutoff, extra, _ = choose_bucketed(hist, target, fetch)
    return cutoff, extra


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
