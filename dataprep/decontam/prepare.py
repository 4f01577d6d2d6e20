"""The decontaminate stage's whole-corpus steps, around its work dir.

1. ``index_benchmarks``: build the n-gram index of the benchmark sets (the caller shares it
   with every task) and leave the item names and the benchmark files' sha256 in the work dir;
2. ``scan_documents``: per batch of documents, the index hits and each key's document count;
3. ``record_common``: keys seen in more than ``max_doc_freq`` documents (GPT-3's rule),
   saved with their text for the report, and ignored from then on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from dataprep.benchmarks import BenchmarkSet
from dataprep.core.contract import WorkDir
from dataprep.decontam.index import NgramIndex, build_index, ngram_texts
from dataprep.decontam.match import Hits, common_keys, doc_frequency, scan
from dataprep.decontam.report import benchmark_entries

ITEMS, BENCHMARKS, COMMON = "items.parquet", "benchmarks.json", "common.json"


def index_benchmarks(
    sets: Sequence[BenchmarkSet], n: int, min_words: int, work: WorkDir, base: str | None = None
) -> NgramIndex:
    """Index every item of ``sets``; save the items and the benchmark file hashes in ``work``.

    Benchmark file paths are recorded relative to ``base`` when given (a pipeline's folder).
    """
    if not sets or not any(b.items for b in sets):
        raise ValueError("the benchmark paths hold no items to check against")
    index, items = build_index(list(sets), n, min_words)
    work.write_table(ITEMS, items.append_column("ngrams", pa.array(index.item_keys, pa.int64())))
    indexed: dict[str, int] = {}
    for (bench, split), keys in zip(
        zip(items.column("benchmark").to_pylist(), items.column("split").to_pylist()), index.item_keys.tolist()
    ):
        indexed[f"{bench}/{split}"] = indexed.get(f"{bench}/{split}", 0) + (keys > 0)
    work.write_json(BENCHMARKS, benchmark_entries(sets, indexed, base))
    return index


def scan_documents(texts: Sequence[str | None], index: NgramIndex) -> tuple[Hits, tuple[np.ndarray, np.ndarray]]:
    """Hits of ``index`` in ``texts``, and (key, documents holding it) counts."""
    hits = scan(texts, index)
    return hits, doc_frequency(hits)


def record_common(
    counts: list[tuple[np.ndarray, np.ndarray]],
    max_docs: int,
    sets: Sequence[BenchmarkSet],
    index: NgramIndex,
    work: WorkDir,
) -> np.ndarray:
    """Save the common keys (with their text and document counts) in ``work``; return them sorted."""
    keys = common_keys(counts, max_docs)
    fields = [item.fields for b in sets for item in b.items]
    texts = ngram_texts(keys, index, fields.__getitem__)
    all_keys = np.concatenate([k for k, _ in counts]) if counts else np.zeros(0, np.uint64)
    all_docs = np.concatenate([d for _, d in counts]) if counts else np.zeros(0, np.int64)
    docs = [int(all_docs[all_keys == k].sum()) for k in keys]
    rows = sorted(
        (
            {"key": str(k), "text": t, "words": len(t.split()), "documents": d}
            for k, t, d in zip(keys.tolist(), texts, docs)
        ),
        key=lambda r: (-r["documents"], r["text"]),
    )
    work.write_json(COMMON, rows)
    return keys


def read_common(work: WorkDir) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The common keys (sorted) and their report rows."""
    rows = work.read_json(COMMON)
    return np.sort(np.array([int(r["key"]) for r in rows], np.uint64)), rows
