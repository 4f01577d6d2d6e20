"""The compiled inner loop of MinHash: every permutation's minimum over each document's shingles.

Why compiled (numba): numpy needs three passes per permutation (multiply, add, a segmented
``minimum.reduceat``), and ``reduceat`` over the ~14 shingles of a 100-byte document costs
2.4 ns a value for its per-segment overhead alone; one fused loop keeps a document's
``num_perm`` minima in L1 and costs 0.5 ns per (shingle, permutation), 5x less on short
documents (measured on 2.5M shingles, 128 permutations). The arithmetic is the same wrapping
64-bit integer arithmetic, so signatures are bit-identical to the numpy form.

Imported only by ``MinHasher.of_shingles`` when it runs: numba's import (0.35 s) stays out of
processes that never sketch. ``cache=True`` keeps the machine code beside this module, so
each worker process loads it instead of compiling again (~1 s).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def minima(shingles: np.ndarray, ends: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out[d, i] = min(a[i] * x + b[i] mod 2**64)`` over the shingles ``x`` of document ``d``
    (``shingles[ends[d-1]:ends[d]]``); a document without shingles gets the uint64 maximum.

    Four shingles per pass over the permutations: each ``a[i], b[i]`` and running minimum is
    loaded once for four values (1.65x faster than one shingle per pass)."""
    k = a.shape[0]
    row = np.empty(k, np.uint64)
    start = 0
    for d in range(ends.shape[0]):
        row[:] = 0xFFFFFFFFFFFFFFFF
        s = start
        while s + 4 <= ends[d]:
            x0, x1, x2, x3 = shingles[s], shingles[s + 1], shingles[s + 2], shingles[s + 3]
            for i in range(k):
                ai, bi = a[i], b[i]
                row[i] = min(row[i], min(ai * x0 + bi, ai * x1 + bi), min(ai * x2 + bi, ai * x3 + bi))
            s += 4
        for x in shingles[s : ends[d]]:
            for i in range(k):
                row[i] = min(row[i], a[i] * x + b[i])
        out[d, :] = row
        start = ends[d]
