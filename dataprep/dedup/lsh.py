"""LSH banding: which (bands, rows) to use, what they catch, and the band keys.

A pair with Jaccard similarity ``s`` shares at least one band (becomes a candidate) with
probability ``P(s) = 1 - (1 - s**r)**b``. The manifest records ``P`` at the threshold so
the trade-off is visible: 9 bands x 13 rows catches only ~40% of pairs at J = 0.8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasketch.lsh import _optimal_param

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


def derive_banding(threshold: float, num_perm: int, false_positive_weight: float, false_negative_weight: float) -> Banding:
    """(b, r) minimizing the weighted false-positive and false-negative areas around
    ``threshold``: datasketch's optimizer (``datasketch.lsh._optimal_param``), so the choice
    matches what ``MinHashLSH`` users know."""
    bands, rows = _optimal_param(threshold, num_perm, false_positive_weight, false_negative_weight)
    return Banding(int(bands), int(rows))


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
