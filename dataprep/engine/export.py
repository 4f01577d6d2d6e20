"""``dataprep export RUN/STAGE --output DIR``: a stage written in full, as plain Parquet.

A stage stored as deltas (``core/delta.py``) is readable through dataprep only; export
materializes it shard by shard (one shard in memory at a time) with the same writer a
full-copy run uses, so the files are byte-identical to that run's and any Parquet reader
(polars, duckdb, HF ``datasets``, Spark) reads them. ``export.json`` lists every file with
its sha256 and rows, and names the stage and the manifest it came from.
"""

from __future__ import annotations

from typing import Any

from dataprep.core.storage import Storage

EXPORT_JSON = "export.json"


def export_stage(stage_dir: str, output: str, rejected: bool = True) -> dict[str, Any]:
    """Write every output shard (and rejected shard) of ``stage_dir`` in full under ``output``."""
    stage = Storage(stage_dir)
    if not stage.exists("manifest.json"):
        raise FileNotFoundError(f"{stage.display}: no manifest.json (not a finished stage directory)")
    manifest = stage.read_json("manifest.json")
    run_root, out = stage.parent(), Storage(output)
    if out.exists("") and out.list("", recursive=True):
        raise FileExistsError(f"{out.display} is not empty; choose an empty or new --output")
    out.makedirs("")
    prefix = manifest["stage"]["dir"] + "/"
    files = []
    for entry in manifest["outputs"] + (manifest["rejected"] if rejected else []):
        rel = entry["path"].removeprefix(prefix)
        files.append(out.write_parquet(rel, run_root.read_parquet(entry["path"])).as_dict())
    doc = {
        "stage": stage.display,
        "manifest_sha256": stage.sha256("manifest.json"),
        "storage": manifest["stage"].get("storage", "full"),
        "files": files,
        "rows": sum(f["rows"] for f in files[: len(manifest["outputs"])]),
    }
    out.write_json(EXPORT_JSON, doc)
    return doc
