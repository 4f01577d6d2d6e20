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

from dataprep.dedup.minhash import EMPTY, mix64

_PRIME = np.uint64(0x100000001B3)


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


def band_keys(signatures: np.ndarray, banding: Banding) -> np.ndarray:
    """A ``(docs, bands)`` uint64 matrix: one stable hash of each band's ``rows`` values.

    Keys of different bands are never compared (the band number is kept next to the key),
    so equal keys in one band mean equal values in that band, up to a 2**-64 collision.
    """
    used = signatures[:, : banding.bands * banding.rows].reshape(len(signatures), banding.bands, banding.rows)
    acc = np.zeros((len(signatures), banding.bands), dtype=np.uint64)
    for r in range(banding.rows):
        np.bitwise_xor(acc, used[:, :, r], out=acc)
        np.multiply(acc, _PRIME, out=acc)
    return mix64(acc)


def has_shingles(signatures: np.ndarray) -> np.ndarray:
    """Rows of documents with at least one shingle; empty ones never enter LSH (they would
    all share every band). Exact dedup still handles them."""
    return signatures[:, 0] != EMPTY


def estimate_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash estimate of the Jaccard similarity of row pairs: the share of equal values."""
    return (a == b).mean(axis=1)


def candidate_pairs(buckets: pl.DataFrame, anchors: int, collapse_exact: bool = True) -> tuple[pl.DataFrame, int]:
    """Pairs ``(a, b)``, ``a < b``, of uint64 nodes sharing a ``(band, key)`` bucket, and the
    number of buckets larger than ``anchors``.

    ``buckets`` has columns band, key, node and (with ``collapse_exact``) ekey (``exact_keys``):
    documents with equal normalized text keep one node per bucket, the smallest (they are joined by
    exact edges already). Each member is paired with the bucket's first ``anchors`` members
    (smallest nodes), so a bucket of k documents costs at most ``anchors * k`` pairs, not
    k**2; for buckets up to ``anchors`` that is every pair.
    """
    empty = pl.DataFrame(schema={"a": pl.UInt64, "b": pl.UInt64})
    # Nearly every bucket holds one document: drop those rows first in one hash pass over the key
    # (a key repeated in another band only keeps a few rows too many), so the grouping, sort and
    # self-join below see the shared buckets only (10x less CPU on 100k short documents).
    buckets = buckets.filter(pl.col("key").is_duplicated())
    if buckets.is_empty():
        return empty, 0
    collapsed = (
        buckets.group_by("band", "key", "ekey").agg(pl.col("node").min())
        if collapse_exact
        else buckets.select("band", "key", "node").unique()
    )
    members = collapsed.sort("band", "key", "node").with_columns(rank=pl.int_range(pl.len()).over("band", "key"))
    large = members.group_by("band", "key").len().filter(pl.col("len") > anchors).height
    firsts = members.filter(pl.col("rank") < anchors)
    pairs = (
        firsts.join(members, on=["band", "key"], suffix="_m")
        .filter(pl.col("rank") < pl.col("rank_m"))
        .select(a=pl.min_horizontal("node", "node_m"), b=pl.max_horizontal("node", "node_m"))
        .unique()
    )
    return pairs if not pairs.is_empty() else empty, large
