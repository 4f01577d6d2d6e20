"""``dataprep verify``: re-check a run against its manifests, naming every bad file.

Re-hashes every shard and artifact, re-counts rows, validates manifests against the
schemas in ``manifests/``, checks that rows add up (in + added = out + rejected, and by
reason), that each stage read exactly what the previous one wrote, that every shard's
progress record (``_progress/part-i.json``) agrees with the manifest, that every delta shard's
base and attribute files are still the files it was written over, that shards carry
the document columns (and rejected shards ``reason`` and ``stage``), that ids are unique
among the documents a stage kept, and that no stray shard lies beside the recorded ones.

It never stops at the first finding: a damaged file is named and the checks go on. Its
memory does not grow with the number of documents: id uniqueness is checked one hash
partition at a time (``max_ids`` 8-byte hashes in memory at once). Each file is hashed once
(a delta's base is the previous stage's output, hashed there), and each shard's footer is read
once for every check but the id check (which reads the id column through ``Storage``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from dataprep.core.schema import REASON, STAGE
from dataprep.core.storage import Footer, Storage
from dataprep.engine import manifest as mf

MAX_IDS = 50_000_000  # id hashes held at once by the uniqueness check (400 MB)


def verify_run(run_dir: str, max_ids: int = MAX_IDS) -> list[str]:
    """Every problem found in the run at ``run_dir``; an empty list means it verifies."""
    storage = Storage(run_dir)
    if not storage.exists("run.json"):
        return [f"{run_dir}: no run.json (not a dataprep run directory)"]
    run_doc, problems = _read_json(storage, "run.json")
    if run_doc is None:
        return problems
    problems += [f"run.json: {e}" for e in mf.validate(run_doc, "run")]
    if run_doc.get("status") != "complete":
        problems.append(f"run.json: run status is {run_doc.get('status')!r}, not complete")
    previous: list[dict[str, Any]] | None = None
    broken: set[str] = set()  # delta shards that cannot be materialized: their chain changed
    hashes: dict[str, str] = {}  # path -> sha256 of every file hashed so far
    for st in run_doc.get("stages", []):
        mpath = f"{st['dir']}/manifest.json"
        doc, found = _read_json(storage, mpath)
        problems += found
        schema_errors = mf.validate(doc, "stage") if doc is not None else []
        problems += [f"{mpath}: {e}" for e in schema_errors]
        if doc is None or schema_errors:
            previous = None
            continue
        if doc["config_sha256"] != st["config_sha256"]:
            problems.append(f"{mpath}: config_sha256 differs from run.json's")
        if previous is not None and [(i["path"], i["sha256"], i["rows"]) for i in doc["inputs"]] != [
            (o["path"], o["sha256"], o["rows"]) for o in previous
        ]:
            problems.append(f"{mpath}: inputs are not the previous stage's outputs")
        problems += _check_stage(storage, st["dir"], doc, max_ids, broken, hashes)
        previous = doc["outputs"]
    return problems


def _read_json(storage: Storage, rel: str) -> tuple[Any, list[str]]:
    """The parsed file, or None and a finding naming it (missing, or not JSON)."""
    if not storage.exists(rel):
        return None, [f"{rel}: missing"]
    try:
        return storage.read_json(rel), []
    except ValueError as exc:
        return None, [f"{rel}: not valid JSON ({exc}); the file is damaged"]


def _read_footer(storage: Storage, rel: str) -> Footer | str:
    """The footer of shard ``rel``, or why it is not readable as Parquet."""
    try:
        return storage.footer(rel)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a finding, not a crash
        return str(exc)


def _sha256(storage: Storage, rel: str, hashes: dict[str, str]) -> str:
    """The file's sha256, computed at most once per verify."""
    if rel not in hashes:
        hashes[rel] = storage.sha256(rel)
    return hashes[rel]


def _check_stage(
    storage: Storage, stage_dir: str, doc: dict[str, Any], max_ids: int, broken: set[str], hashes: dict[str, str]
) -> list[str]:
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
    records, found = _progress_records(storage, stage_dir)
    problems += found
    shards = doc["outputs"] + doc["rejected"]
    footers = {e["path"]: _read_footer(storage, e["path"]) for e in shards if storage.exists(e["path"])}
    for entry in shards + doc["artifacts"]:
        problems += _check_file(storage, entry, records.get(entry["path"]), footers.get(entry["path"]), hashes)
    for entry in shards:
        found = _check_chain(storage, entry, broken, footers.get(entry["path"]), hashes)
        problems += found
        if found:
            broken.add(entry["path"])
    by_path = {e["path"]: e for e in shards}
    for path, rec in sorted(records.items()):
        listed = by_path.get(path)
        if listed is not None and (listed["sha256"], listed["rows"]) != (rec["sha256"], rec["rows"]):
            problems.append(f"{stage_dir}/_progress: record of {path} disagrees with {stage_dir}/manifest.json")
    readable = {
        e["path"]: footer
        for e in shards
        if e["path"] not in broken and isinstance(footer := footers.get(e["path"]), Footer)
    }
    problems += _check_columns(doc, readable)
    problems += _check_unique_ids(storage, stage_dir, [e for e in doc["outputs"] if e["path"] in readable], max_ids)
    for sub in (stage_dir, f"{stage_dir}/rejected"):
        for rel in storage.list(sub):
            name = os.path.basename(rel)
            if ".tmp-" in name:
                problems.append(f"{rel}: temporary file of an interrupted write (resume the run to clean it)")
            elif name.startswith("part-") and rel not in by_path:
                problems.append(f"{rel}: shard not recorded in the manifest")
    return problems


def _progress_records(storage: Storage, stage_dir: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """File entries of every shard's progress record, by path; findings for damaged records."""
    out: dict[str, dict[str, Any]] = {}
    problems = []
    for rel in storage.list(f"{stage_dir}/_progress"):
        rec, found = _read_json(storage, rel)
        problems += found
        if rec is None:
            continue
        for entry in (rec.get("output"), rec.get("rejected")):
            if isinstance(entry, dict) and {"path", "sha256", "rows"} <= entry.keys():
                out[entry["path"]] = entry
            elif entry is not None:
                problems.append(f"{rel}: malformed progress record")
    return out, problems


def _check_file(
    storage: Storage,
    entry: dict[str, Any],
    record: dict[str, Any] | None,
    footer: Footer | str | None,
    hashes: dict[str, str],
) -> list[str]:
    """Size, hash and rows of one recorded file (``footer``: a shard's, None for an artifact). When
    the file and its progress record agree and only the manifest differs, the manifest is what
    changed, and the finding says so."""
    rel = entry["path"]
    if not storage.exists(rel):
        return [f"{rel}: missing"]
    problems = []
    if (size := storage.size(rel)) != entry["bytes"]:
        problems.append(f"{rel}: {size} bytes, manifest says {entry['bytes']}")
    actual = _sha256(storage, rel, hashes)
    if actual != entry["sha256"]:
        if record is not None and record["sha256"] == actual:
            stage_dir = rel.split("/", 1)[0]
            return [
                f"{stage_dir}/manifest.json: records a sha256 for {rel} that neither the file nor its progress "
                "record has (the manifest was changed)"
            ]
        return problems + [f"{rel}: sha256 does not match the manifest (file changed or corrupt)"]
    if isinstance(footer, str):
        return problems + [f"{rel}: not readable as Parquet: {footer}"]
    if footer is not None and footer.rows != entry["rows"]:
        problems.append(f"{rel}: {footer.rows} rows, manifest says {entry['rows']}")
    return problems


def _check_chain(
    storage: Storage, entry: dict[str, Any], broken: set[str], footer: Footer | str | None, hashes: dict[str, str]
) -> list[str]:
    """A delta shard reads its rows from its base and attribute files: each must still hash to
    what it had when the delta was written, or the materialized table would silently change.
    ``broken``: deltas found unreadable so far (a delta over one of them is unreadable too);
    ``footer``: the shard's (None when it is missing)."""
    if "base" not in entry or footer is None:
        return []
    rel = entry["path"]
    if entry["base"]["path"] in broken:
        return [f"{rel}: cannot be read: its base {entry['base']['path']} is a delta over a changed file"]
    if isinstance(footer, str):  # an unreadable shard is named by _check_file
        return []
    spec = footer.spec
    if spec is None:
        return [f"{rel}: the manifest records a base but the file is not a delta shard"]
    refs = [(entry["base"]["path"], entry["base"]["sha256"])]
    if (spec.base, spec.base_sha256) != refs[0]:
        return [f"{rel}: its footer names base {spec.base}, the manifest {refs[0][0]} (sha256 differs)"]
    problems = []
    for path, sha in refs + [(a.path, a.sha256) for a in spec.attributes]:
        if not storage.exists(path):
            problems.append(f"{rel}: is a delta over {path}, which is missing")
        elif _sha256(storage, path, hashes) != sha:
            problems.append(
                f"{rel}: is a delta over {path}, which changed after it was written; "
                "rerun the run with --resume to rebuild the stages after it"
            )
    return problems


def _check_columns(doc: dict[str, Any], readable: dict[str, Footer]) -> list[str]:
    """``readable``: the footers of the shards whose table can be read (the others are named elsewhere)."""
    problems = []
    stage_dir = doc["stage"]["dir"]
    needed = {"id"} | set(doc["stage"]["writes"]) - {"text"}
    schemas = set()
    for e in doc["outputs"]:
        if e["path"] not in readable:
            continue
        schema = readable[e["path"]].schema
        schemas.add(str(schema))
        if missing := needed - set(schema.names):
            problems.append(f"{e['path']}: missing columns {sorted(missing)}")
    if len(schemas) > 1:
        problems.append(f"{stage_dir}: output shards do not share one schema")
    for e in doc["rejected"]:
        if e["path"] in readable:
            names = readable[e["path"]].schema.names
            if missing := {"id", REASON, STAGE} - set(names):
                problems.append(f"{e['path']}: rejected shard lacks {sorted(missing)}")
    return problems


def _check_unique_ids(storage: Storage, stage_dir: str, outputs: list[dict[str, Any]], max_ids: int) -> list[str]:
    """Duplicate kept ids, found one hash partition at a time so memory stays at ``max_ids`` hashes.

    A repeated 64-bit hash is confirmed on the ids themselves, so a hash collision is never
    reported as a duplicate.
    """
    total = sum(e["rows"] for e in outputs)
    parts = max(1, -(-total // max_ids))
    duplicates = 0
    for p in range(parts):
        hashes = [h[h % parts == p] for h in _id_hashes(storage, outputs)]  # one shard's hashes at a time
        if not hashes:
            continue
        h = np.sort(np.concatenate(hashes))
        repeated = np.unique(h[1:][h[1:] == h[:-1]])
        if len(repeated):
            duplicates += _confirmed_duplicates(storage, outputs, repeated)
    return [f"{stage_dir}: {duplicates} duplicate document ids among kept rows"] if duplicates else []


def _id_hashes(storage: Storage, outputs: list[dict[str, Any]]) -> Iterator[np.ndarray]:
    for e in outputs:
        col = pl.from_arrow(storage.read_parquet(e["path"], ["id"]).column("id"))
        if len(col):
            yield col.hash(seed=0).to_numpy()


def _confirmed_duplicates(storage: Storage, outputs: list[dict[str, Any]], repeated: np.ndarray) -> int:
    """Rows beyond the first of each id whose hash is among ``repeated`` (few: only true repeats)."""
    ids = []
    for e in outputs:
        col = pl.from_arrow(storage.read_parquet(e["path"], ["id"]).column("id"))
        ids.append(col.filter(pl.Series(np.isin(col.hash(seed=0).to_numpy(), repeated))))
    found = pl.concat(ids) if ids else pl.Series([], dtype=pl.String)
    return len(found) - found.n_unique()
