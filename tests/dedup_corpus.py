"""A small real corpus with planted duplicates, and the tasks of one dedup pass over it (no Ray).

Shard ``a`` holds twelve Python documentation pages; shard ``b`` holds an upper-case copy of
page 0 (an exact duplicate after normalization), a copy of page 1 with 1% of words replaced
(shingle Jaccard 0.93, shorter), a copy of page 2 with every 12th word replaced (Jaccard
0.45), an empty document, copies of pages 4 and 3 with every 57th / 37th word replaced
(Jaccard 0.84 and 0.76, MinHash estimates 0.86 and 0.805: both near the 0.8 threshold), and
twelve other pages.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from dataprep.core.storage import Shard, StageWorkDir, Storage
from dataprep.dedup.normalize import Normalization, normalize
from dataprep.dedup.scratch import Task, group_tasks
from dataprep.dedup.settings import DedupConfig

MARKED = ((2, 12), (4, 57), (3, 37))  # (page, every k-th word replaced) of the mid, high and low copies
EXACT_COPY, NEAR_COPY, MID_COPY, EMPTY, HIGH_COPY, LOW_COPY = "b:0", "b:1", "b:2", "b:3", "b:4", "b:5"


def pages(shared_data: Path, count: int = 24) -> list[str]:
    """Real Python documentation pages of 300 to 3,000 words, in file order."""
    out = []
    with gzip.open(shared_data / "corpus" / "techdocs" / "python3.11-doc_rst_sources.jsonl.gz", "rt") as f:
        for line in f:
            text = json.loads(line)["text"]
            if 300 <= len(text.split()) <= 3000:
                out.append(text)
            if len(out) == count:
                return out
    raise AssertionError(f"fewer than {count} pages of 300-3000 words")


def planted(shared_data: Path) -> dict[str, list[str]]:
    """The texts of shards ``a`` and ``b`` (see module docstring)."""
    texts = pages(shared_data)
    rng = random.Random(1)
    near = " ".join(w if rng.random() > 0.01 else "x" for w in texts[1].split())
    mid, high, low = (" ".join(w if i % k else "x" for i, w in enumerate(texts[p].split())) for p, k in MARKED)
    return {"a": texts[:12], "b": [texts[0].upper(), near, mid, "", high, low] + texts[12:]}


def shingle_jaccard(x: str, y: str, n: int = 5) -> float:
    """Exact Jaccard of two texts' word ``n``-gram sets, after the default normalization."""
    sets = []
    for text in (x, y):
        words = normalize(pl.Series([text]), Normalization())[0].split()
        sets.append({tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))})
    return len(sets[0] & sets[1]) / len(sets[0] | sets[1])


@dataclass
class Pass:
    """One dedup pass's tasks over the planted shards."""

    part_tasks: list[Task]
    group_tasks: list[Task]

    @property
    def work(self) -> StageWorkDir:
        return self.part_tasks[0].work


def new_pass(
    tmp_path: Path, texts: dict[str, list[str]] | list[tuple[str, list[str]]], config: DedupConfig, parts: int = 3
) -> Pass:
    """Writes each shard as Parquet (columns id = ``<name>:<row>``, text) and returns the pass's tasks."""
    storage = Storage(str(tmp_path))
    shards = []
    for index, (name, docs) in enumerate(texts.items() if isinstance(texts, dict) else texts):
        table = pa.table({"id": [f"{name}:{i}" for i in range(len(docs))], "text": docs})
        entry = storage.write_parquet(f"in/{index}-{name}.parquet", table)
        shards.append(Shard(storage, entry.path, table.num_rows))
    work = StageWorkDir(storage, "_work/pass")
    return Pass(
        [Task(config, work, parts, len(shards), p) for p in range(parts)],
        group_tasks(config, work, parts, shards),
    )
