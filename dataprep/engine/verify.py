"""``dataprep verify``: re-check a run against its manifests, naming every mismatch.

Re-hashes every shard and artifact, re-counts rows, validates manifests against the
schemas in ``manifests/``, checks that rows add up (in + added = out + rejected, and by
reason), that each stage read exactly what the previous one wrote, that shards carry
the document columns (and rejected shards ``reason`` and ``stage``), that ids are unique
among the documents a stage kept, and that no stray shard lies beside the recorded ones.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.core.schema import REASON, STAGE
from dataprep.core.storage import Storage
from dataprep.engine import manifest as mf


def verify_run(run_dir: str) -> list[str]:
    """Every problem found in the run at ``run_dir``; an empty list means it verifies."""
    storage = Storage(run_dir)
    if not storage.exists("run.json"):
        return [f"{run_dir}: no run.json (not a dataprep run directory)"]
    run_doc = storage.read_json("run.json")
    problems = [f"run.json: {e}" for e in mf.validate(run_doc, "run")]
    if run_doc.get("status") != "complete":
        problems.append(f"run.json: run status is {run_doc.get('status')!r}, not complete")
    previous: list[dict[str, Any]] | None = None
    for st in run_doc.get("stages", []):
        mpath = f"{st['dir']}/manifest.json"
        if not storage.exists(mpath):
            problems.append(f"{mpath}: missing")
            previous = None
            continue
        doc = storage.read_json(mpath)
        schema_errors = mf.validate(doc, "stage")
        problems += [f"{mpath}: {e}" for e in schema_errors]
        if schema_errors:
            previous = None
            continue
        if doc["config_sha256"] != st["config_sha256"]:
            problems.append(f"{mpath}: config_sha256 differs from run.json's")
        if previous is not None and [(i["path"], i["sha256"], i["rows"]) for i in doc["inputs"]] != [
            (o["path"], o["sha256"], o["rows"]) for o in previous
        ]:
            problems.append(f"{mpath}: inputs are not the previous stage's outputs")
        problems += _check_stage(storage, st["dir"], doc)
        previous = doc["outputs"]
    return problems


def _check_stage(storage: Storage, stage_dir: str, doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    c = doc["counts"]
    if c["in"] + c["added"] != c["out"] + c["rejected"]:
        problems.append(
            f"{stage_dir}: rows do not add up: in {c['in']} + added {c['added']} "
            f"!= out {c['out']} + rejected {c['rejected']}"
        )
    if sum(o["rows"] for o in doc["outputs"]) != c["out"]:
        problems.append(f"{stage_dir}: counts.out {c['out']} != rows of the output shards")
    if sum(o["rows"] for o in doc["rejected"]) != c["rejected"]:
        problems.append(f"{stage_dir}: counts.rejected {c['rejected']} != rows of the rejected shards")
    if sum(c["by_reason"].values()) != c["rejected"]:
        problems.append(f"{stage_dir}: counts.by_reason does not sum to counts.rejected")
    for entry in doc["outputs"] + doc["rejected"] + doc["artifacts"]:
        problems += _check_file(storage, entry, table=entry not in doc["artifacts"])
    problems += _check_columns(storage, doc)
    recorded = {e["path"] for e in doc["outputs"] + doc["rejected"]}
    for sub in (stage_dir, f"{stage_dir}/rejected"):
        for rel in storage.list(sub):
            name = os.path.basename(rel)
            if ".tmp-" in name:
                problems.append(f"{rel}: temporary file of an interrupted write (resume the run to clean it)")
            elif name.startswith("part-") and rel not in recorded:
                problems.append(f"{rel}: shard not recorded in the manifest")
    return problems


def _check_file(storage: Storage, entry: dict[str, Any], table: bool) -> list[str]:
    rel = entry["path"]
    if not storage.exists(rel):
        return [f"{rel}: missing"]
    problems = []
    if storage.size(rel) != entry["bytes"]:
        problems.append(f"{rel}: {storage.size(rel)} bytes, manifest says {entry['bytes']}")
    if storage.sha256(rel) != entry["sha256"]:
        problems.append(f"{rel}: sha256 does not match the manifest (file changed or corrupt)")
        return problems
    if table:
        try:
            rows = storage.parquet_rows(rel)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a finding, not a crash
            return problems + [f"{rel}: not readable as Parquet: {exc}"]
        if rows != entry["rows"]:
            problems.append(f"{rel}: {rows} rows, manifest says {entry['rows']}")
    return problems


def _check_columns(storage: Storage, doc: dict[str, Any]) -> list[str]:
    problems = []
    stage_dir = doc["stage"]["dir"]
    needed = {"id"} | set(doc["stage"]["writes"]) - {"text"}
    schemas = set()
    ids = 0
    distinct = set()
    for e in doc["outputs"]:
        if not storage.exists(e["path"]):
            continue
        schema = pq.read_schema(storage.full(e["path"]), filesystem=storage.fs)
        schemas.add(str(schema))
        if missing := needed - set(schema.names):
            problems.append(f"{e['path']}: missing columns {sorted(missing)}")
        if "id" in schema.names:
            col = storage.read_parquet(e["path"], ["id"]).column("id")
            ids += len(col)
            distinct.update(pc.unique(col).to_pylist())
    if len(schemas) > 1:
        problems.append(f"{stage_dir}: output shards do not share one schema")
    if ids != len(distinct):
        problems.append(f"{stage_dir}: {ids - len(distinct)} duplicate document ids among kept rows")
    for e in doc["rejected"]:
        if storage.exists(e["path"]):
            names = pq.read_schema(storage.full(e["path"]), filesystem=storage.fs).names
            if missing := {"id", REASON, STAGE} - set(names):
                problems.append(f"{e['path']}: rejected shard lacks {sorted(missing)}")
    return problems
