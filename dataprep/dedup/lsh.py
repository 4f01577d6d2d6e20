"""LSH banding: which (bands, rows) to use, what they catch, and the band keys.

A pair with Jaccard similarity ``s`` shares at least one band (becomes a candidate) with
probability ``P(s) = 1 - (1 - s**r)**b``. The manifest records ``P`` at the threshold and
the predicted recall curve so the trade-off is visible: 9 bands x 13 rows (datasketch's
choice at 0.8) catches only ~40% of pairs at J = 0.8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from dataprep.dedup.minhash import EMPTY, LOW_BITS, low_bits, mix64, ranges, splitmix64

_PRIME = np.uint64(0x100000001B3)
_BAND_SEED = 0xBA4D  # seeds each band's key hash with its number
CHANCE = 2.0**-LOW_BITS  # two different minima agree on their low bits (``low_bits``)


@dataclass(frozen=True)
class Banding:
    """``bands`` groups of ``rows`` consecutive signature values."""

    bands: int
    rows: int

    def probability(self, similarity: float) -> float:
        """Chance that a pair of this Jaccard similarity becomes a candidate."""
        return 1.0 - (1.0 - similarity**self.rows) ** self.bands


def derive_banding(threshold: float, num_perm: int, recall: float, above: float = 0.02) -> Banding:
    """The fewest-candidates (b, r) that makes a pair of Jaccard ``threshold + above`` a
    candidate with probability >= ``recall``: the most rows per band that still reach it,
    with as many bands as ``num_perm`` holds.

    Candidates are verified, so a false candidate costs only a check while a missed one is a
    lost duplicate. datasketch's optimizer (weighted error areas) gave 14 x 9 at 0.8: P(0.82)
    = 0.92, so 8% of pairs just above the threshold could never be found; this rule gives
    18 x 7, P(0.82) = 0.994.
    """
    target = min(threshold + above, 1.0)
    for rows in range(num_perm, 0, -1):
        banding = Banding(num_perm // rows, rows)
        if banding.probability(target) >= recall:
            return banding
    return Banding(num_perm, 1)


def agreement_at_least(similarity: float, num_perm: int, share: float) -> float:
    """Chance that two signatures of ``num_perm`` values agree on at least ``share`` of them,
    for a pair of Jaccard ``similarity`` (each value agrees with that probability)."""
    need = math.ceil(share * num_perm - 1e-9)
    return sum(
        math.comb(num_perm, k) * similarity**k * (1 - similarity) ** (num_perm - k) for k in range(need, num_perm + 1)
    )


def band_keys(signatures: np.ndarray, banding: Banding, block: int = 2048) -> np.ndarray:
    """A ``(docs, bands)`` uint64 matrix: one stable hash of each band's number and ``rows`` values.

    The band number seeds the hash, so equal keys mean the same band with equal values, up to a
    2**-64 collision: a bucket is one integer (half of it stored: ``high_half``), not a band number
    beside ``rows`` values. Blocks of ``block`` documents keep the ~2 x rows passes in the CPU
    cache: 0.19 -> 0.08 CPU s for 200k documents, where whole-matrix passes each went through memory.
    """
    out = np.empty((len(signatures), banding.bands), np.uint64)
    seeds = splitmix64(_BAND_SEED, banding.bands)
    for start in range(0, len(signatures), block):
        used = signatures[start : start + block, : banding.bands * banding.rows]
        used = used.reshape(len(used), banding.bands, banding.rows)
        acc = out[start : start + block]
        acc[:] = seeds
        for r in range(banding.rows):
            np.bitwise_xor(acc, used[:, :, r], out=acc)
            np.multiply(acc, _PRIME, out=acc)
        acc[:] = mix64(acc)
    return out


def high_half(hashes: np.ndarray) -> np.ndarray:
    """The high 32 bits of uniform 64-bit hashes: what a band row stores of its bucket key (the
    low 32 bits chose its partition, ``signatures.write_bands``) and of its document's exact key
    (two different texts in one bucket share it with probability 2**-32)."""
    return (hashes >> np.uint64(32)).astype(np.uint32)


def has_shingles(signatures: np.ndarray) -> np.ndarray:
    """Rows of documents with at least one shingle; empty ones never enter LSH (they would
    all share every band). Exact dedup still handles them. Every value is checked: one of a
    document's minima is ``EMPTY`` with probability 2**-32."""
    return (signatures != EMPTY).any(axis=1)


def observed(similarity: float) -> float:
    """Share of low bits (``low_bits``) that agree, on average, for a pair of this Jaccard similarity."""
    return similarity + (1.0 - similarity) * CHANCE


def estimate_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash estimate of the Jaccard similarity of row pairs: the share of equal values, on
    their low 4 bits (``low_bits``: what a pass stores for verification), less the share that
    agrees there by chance. Whole uint32 values are reduced to their low bits first, so
    ``dataprep dedup-sweep`` estimates like the stage."""
    if a.dtype != np.uint8:
        a, b = low_bits(a), low_bits(b)
    diff = a ^ b
    same = ((diff & 0xF) == 0).sum(axis=1) + ((diff >> 4) == 0).sum(axis=1)
    return np.maximum(same / (2 * diff.shape[1]) - CHANCE, 0.0) / (1.0 - CHANCE)


def candidate_pairs(buckets: pl.DataFrame, anchors: int, collapse_exact: bool = True) -> tuple[pl.DataFrame, int]:
    """Pairs ``(a, b)``, ``a < b``, of uint64 nodes sharing a bucket (a ``key`` of ``band_keys``),
    sorted, and the number of buckets larger than ``anchors``.

    ``buckets`` has columns key, node and (with ``collapse_exact``) ekey, keys as ``high_half``:
    documents with equal normalized text keep one node per bucket, the smallest (they are joined by
    exact edges already). Each member is paired with the bucket's first ``anchors`` members
    (smallest nodes), so a bucket of k documents costs at most ``anchors * k`` pairs, not
    k**2; for buckets up to ``anchors`` that is every pair.

    Nearly every bucket holds one document: the rows of shared ones are found first (``_shared``),
    and only they are sorted, in numpy: polars' ``is_duplicated`` cost 0.43 s per 1.8M band rows
    and its group/rank/self-join of the survivors 0.4 s more.
    """
    key = buckets["key"].to_numpy()
    rows = _shared(key.astype(np.uint64) << np.uint64(32))
    key, node = key[rows], buckets["node"].to_numpy()[rows]
    if collapse_exact:  # the smallest node of each (key, ekey), then back in (key, node) order
        ekey = buckets["ekey"].to_numpy()[rows]
        keep = _order(key, ekey, node)
        keep = keep[_new_run(key[keep], ekey[keep])]
        keep = keep[_order(key[keep], node[keep])]
    else:  # a node once per bucket, already in (key, node) order
        keep = _order(key, node)
        keep = keep[_new_run(key[keep], node[keep])]
    key, node = key[keep], node[keep]
    starts = np.flatnonzero(_new_run(key))
    sizes = np.diff(np.r_[starts, len(key)])
    start_of = np.repeat(starts, sizes)
    partners = np.minimum(np.arange(len(key)) - start_of, anchors)  # the anchors ranked before each member
    a = node[np.repeat(start_of, partners) + ranges(partners)]
    b = np.repeat(node, partners)
    pairs = _order(a, b)
    a, b = a[pairs], b[pairs]
    once = _new_run(a, b)  # a pair shares several buckets
    found = pl.DataFrame({"a": a[once], "b": b[once]}, schema={"a": pl.UInt64, "b": pl.UInt64})
    return found, int((sizes > anchors).sum())


def _order(*columns: np.ndarray) -> np.ndarray:
    """Row indices sorting by ``columns``, the first one major, ties in order: ``np.lexsort`` of
    the columns reversed, but polars' sort is 3x faster on these uint64 columns (367k rows of a 1M-document
    partition, three columns: 128 -> 42 ms)."""
    frame = pl.DataFrame({f"c{i}": col for i, col in enumerate(columns)})
    return frame.select(pl.arg_sort_by(frame.columns, maintain_order=True)).to_series().to_numpy()


def _new_run(*columns: np.ndarray) -> np.ndarray:
    """True at each row that differs from the one before in any of ``columns`` (and at the first)."""
    new = np.zeros(len(columns[0]), bool)
    new[:1] = True
    for col in columns:
        new[1:] |= col[1:] != col[:-1]
    return new


def _shared(keys: np.ndarray) -> np.ndarray:
    """Rows whose key (a uniform 64-bit hash) may occur more than once, in key order.

    One ``np.sort`` of values that pack a key's high bits over its row number: equal prefixes
    sit side by side and carry their rows along, 0.1 s per 1.8M keys where an indirect sort
    (argsort) or ``isin`` cost 0.4 s. A prefix shared by different keys (~n^2 / 2^(65 - row
    bits) pairs: ~0.1 at 1.8M rows) only adds rows; the caller groups by the full key.
    """
    bits = np.uint64(max(1, (len(keys) - 1).bit_length()))
    packed = (keys >> bits << bits) | np.arange(len(keys), dtype=np.uint64)
    packed.sort()
    prefix = packed >> bits
    same = prefix[1:] == prefix[:-1]
    shared = np.zeros(len(keys), bool)
    shared[1:] |= same
    shared[:-1] |= same
    return (packed[shared] & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
