"""Cutting removed spans out of documents, with the accounting both span-level stages share.

A removal is a character span ``[start, end)`` of a document's input text plus the ids of
other documents holding the same content (``also_in``), so lineage can say where else a
removed span occurred. Spans of one document are disjoint and sorted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

SPAN = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("also_in", pa.list_(pa.string()))])
ALSO_IN_MAX = 5  # other documents named per removed span (the first ones in id order)


@dataclass
class Removals:
    """Removed spans of a shard, sorted by (row, start)."""

    row: np.ndarray  # int64
    start: np.ndarray  # int64
    end: np.ndarray  # int64
    also_in: list[list[str]]


@dataclass
class Cut:
    """The shard's texts after removal and the columns that account for it."""

    texts: list[str]
    removed_chars: np.ndarray  # int64 per row
    spans: pa.Array  # list<SPAN> per row, offsets into the input text
    changed: np.ndarray  # bool per row: something was removed


def cut(texts: list[str], removals: Removals) -> Cut:
    """Remove every span from its document; untouched rows are returned as they were."""
    n = len(texts)
    out = list(texts)
    removed = np.zeros(n, dtype=np.int64)
    per_row: list[list[dict]] = [[] for _ in range(n)]
    bounds = np.searchsorted(removals.row, np.arange(n + 1))
    for r in np.unique(removals.row).tolist():
        lo, hi = int(bounds[r]), int(bounds[r + 1])
        text, pieces, pos = texts[r], [], 0
        for i in range(lo, hi):
            # a tokenizer may give neighbouring tokens overlapping offsets (bytes of one character)
            s, e = max(int(removals.start[i]), pos), int(removals.end[i])
            if e <= s:
                continue
            pieces.append(text[pos:s])
            pos = e
            removed[r] += e - s
            per_row[r].append({"start": s, "end": e, "also_in": removals.also_in[i]})
        pieces.append(text[pos:])
        out[r] = "".join(pieces)
    return Cut(out, removed, pa.array(per_row, pa.list_(SPAN)), removed > 0)
