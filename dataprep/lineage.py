"""Per-document lineage: where a document went, stage by stage, and why it left.

Follows a document id through a run's stages: the shard and row holding it in each
stage's output, or the rejected shard, reason and stage-specific detail (``dup_of``,
matched benchmark items, ...) where it was dropped. Copies made by a stage (e.g. mix
repeats ``<id>#r2``) are followed too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc

from dataprep.engine.storage import Storage

# Columns too large to show in a lineage report.
BULKY = {"text", "input_ids"}


@dataclass
class Sighting:
    stage: str  # stage directory, e.g. "02-dedup"
    status: str  # "kept" or "rejected"
    shard: str  # run-relative shard path
    row: int  # 0-based row in that shard
    doc_id: str
    detail: dict[str, Any] = field(default_factory=dict)


def trace(run_dir: str, doc_id: str) -> list[Sighting]:
    """Every place ``doc_id`` (or a copy of it) is found in the run, stage by stage."""
    storage = Storage(run_dir)
    out: list[Sighting] = []
    for st in storage.read_json("run.json")["stages"]:
        mpath = f"{st['dir']}/manifest.json"
        if not storage.exists(mpath):
            continue
        doc = storage.read_json(mpath)
        for status, entries in (("kept", doc["outputs"]), ("rejected", doc["rejected"])):
            for e in entries:
                out += _find(storage, st["dir"], status, e["path"], doc_id)
    return out


def _find(storage: Storage, stage: str, status: str, rel: str, doc_id: str) -> list[Sighting]:
    ids = storage.read_parquet(rel, ["id"]).column("id")
    hit = pc.or_(pc.equal(ids, doc_id), pc.starts_with(ids, doc_id + "#"))
    rows = pc.indices_nonzero(hit).to_pylist()
    if not rows:
        return []
    table = storage.read_parquet(rel)
    cols = [c for c in table.column_names if c not in BULKY and c != "id"]
    found = []
    for r in rows:
        rec = table.slice(r, 1).select(cols).to_pylist()[0]
        found.append(Sighting(stage, status, rel, r, table.column("id")[r].as_py(), rec))
    return found
