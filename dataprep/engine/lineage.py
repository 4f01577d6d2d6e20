"""Per-document lineage: where a document went, stage by stage, and why it left.

Follows a document id through a run's stages: the shard and row holding it in each
stage's output, or the rejected shard, reason and stage-specific detail (``dup_of``,
matched benchmark items, ...) where it was dropped. Copies made by a stage (e.g. mix
repeats ``<id>#r2``) are followed too, and so are token spans: in a stage that exported a
token file with a document index (``*.docs.parquet``), a kept document's sighting carries
its span, and ``token_owner`` answers the reverse: which document is token N.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow.compute as pc

from dataprep.core.storage import Storage
from dataprep.quality.rules import Rule, explain
from dataprep.stages.decontaminate import REPORT
from dataprep.stages.quality import RULES_ARTIFACT

# Columns too large to show in a lineage report.
BULKY = {"text", "input_ids"}
DOC_INDEX_SUFFIX = ".docs.parquet"


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
        found: list[Sighting] = []
        for status, entries in (("kept", doc["outputs"]), ("rejected", doc["rejected"])):
            for e in entries:
                found += _find(storage, st["dir"], status, e["path"], doc_id)
        rules = [a["path"] for a in doc["artifacts"] if a["path"].endswith(f"/{RULES_ARTIFACT}")]
        report = [a["path"] for a in doc["artifacts"] if a["path"].endswith(f"/{REPORT}.json")]
        for s in found:
            if s.status == "rejected":
                s.detail["why"] = _why(storage, s.detail, rules[0] if rules else None)
            if report and s.detail.get("decontam_items"):
                s.detail["why"] = s.detail.get("why", []) + _matched_spans(storage, report[0], s.doc_id)
        for a in doc["artifacts"]:
            if a["path"].endswith(DOC_INDEX_SUFFIX):
                spans = _token_spans(storage, a["path"], doc_id)
                for s in found:
                    if s.doc_id in spans:
                        s.detail["tokens"] = {"index": a["path"], "span": list(spans[s.doc_id])}
        out += found
    return out


def _why(storage: Storage, detail: dict[str, Any], rules_path: str | None) -> list[str]:
    """Why a stage rejected the document, in words: every rule it failed with its value and
    threshold, the kept copy of a duplicate, the benchmark items a contaminated text held."""
    why = []
    if rules_path is not None:
        rules = [Rule.model_validate(r) for r in storage.read_json(rules_path)]
        why += explain(detail, rules)
    if detail.get("dup_of"):
        why.append(f"duplicate of {detail['dup_of']} (the copy that was kept)")
    items = detail.get("decontam_items") or []
    overlaps = detail.get("decontam_overlap") or [None] * len(items)
    for item, overlap in zip(items, overlaps):
        share = f" ({overlap:.0%} of its n-grams)" if overlap is not None else ""
        why.append(f"holds benchmark item {item}{share}")
    if detail.get("reason") == "not_sampled":
        why.append("not drawn in its domain's seeded sample for the mixture's budget")
    return why


def _matched_spans(storage: Storage, report_path: str, doc_id: str) -> list[str]:
    """The character spans of a document that matched benchmark items, from the stage's report."""
    matches = [m for m in storage.read_json(report_path).get("matches", []) if m["doc_id"] == doc_id]
    return [
        f"span [{m['start']}, {m['end']}) matches {m['benchmark']}/{m['split']}/{m['item_id']}: {m['text'][:60]!r}"
        for m in matches
    ]


@dataclass
class TokenOwner:
    index: str  # run-relative path of the document index
    doc_id: str
    start: int  # first token of the document in the token file
    n_tokens: int


def token_owner(run_dir: str, position: int) -> TokenOwner | None:
    """The document holding token ``position`` of the run's exported token file, if any."""
    storage = Storage(run_dir)
    for rel in _doc_indexes(storage):
        index = storage.read_parquet(rel, ["id", "start", "n_tokens"])
        starts = index.column("start").to_numpy()
        i = int(np.searchsorted(starts, position, side="right")) - 1
        if 0 <= i and position < starts[i] + index.column("n_tokens")[i].as_py():
            return TokenOwner(rel, index.column("id")[i].as_py(), int(starts[i]), index.column("n_tokens")[i].as_py())
    return None


def _doc_indexes(storage: Storage) -> list[str]:
    """Run-relative paths of every document index (``*.docs.parquet``) the stages exported."""
    out = []
    for st in storage.read_json("run.json")["stages"]:
        mpath = f"{st['dir']}/manifest.json"
        if storage.exists(mpath):
            out += [a["path"] for a in storage.read_json(mpath)["artifacts"] if a["path"].endswith(DOC_INDEX_SUFFIX)]
    return out


def _token_spans(storage: Storage, index_rel: str, doc_id: str) -> dict[str, tuple[int, int]]:
    """``id -> (start, end)`` token spans of a document and its copies in one index."""
    index = storage.read_parquet(index_rel, ["id", "start", "n_tokens"])
    ids = index.column("id")
    rows = pc.indices_nonzero(pc.or_(pc.equal(ids, doc_id), pc.starts_with(ids, doc_id + "#"))).to_pylist()
    return {
        ids[r].as_py(): (
            index.column("start")[r].as_py(),
            index.column("start")[r].as_py() + index.column("n_tokens")[r].as_py(),
        )
        for r in rows
    }


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
