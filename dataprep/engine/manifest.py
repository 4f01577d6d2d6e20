"""Lineage manifests: building them, and checking them against ``manifests/*.schema.json``.

A stage manifest says exactly what a stage read and wrote (paths relative to the run
directory, sha256, rows), with which config (and its hash), code versions and seed, how
many rows went where and why, and how long it took. ``run.json`` lists the stages of a run
and their status.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import platform
import subprocess
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jsonschema

from dataprep import __version__

# Shipped inside the package (``dataprep/manifests`` links to the top-level ``manifests/``).
SCHEMA_DIR = Path(str(resources.files("dataprep").joinpath("manifests")))
STAGE_SCHEMA = "dataprep/stage-manifest"
RUN_SCHEMA = "dataprep/run-manifest"
SCHEMA_VERSION = 1


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str | None]:
    """Versions of dataprep, its git commit when known, Python and the libraries that shape output."""
    out: dict[str, str | None] = {
        "dataprep": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
    }
    for dist in ("ray", "pyarrow", "polars", "tokenizers", "numpy", "fasttext-numpy2"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _git_commit() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


@functools.lru_cache(maxsize=4)
def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())


def validate(doc: dict[str, Any], name: str) -> list[str]:
    """Schema violations of ``doc`` against ``manifests/<name>.schema.json``, as readable lines."""
    validator = jsonschema.Draft202012Validator(load_schema(name))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(doc)]


def stage_manifest(
    *,
    plan: Any,
    writes: tuple[str, ...],
    storage: str,
    seed: int,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    rejected: list[dict[str, Any]],
    artifacts: list[dict[str, Any]],
    counts: dict[str, Any],
    start: str,
    end: str,
    wall: float,
    workers: int,
    retries: int,
    stats: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema": STAGE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "stage": {
            "name": plan.name,
            "kind": plan.cls.kind,
            "index": plan.index,
            "dir": plan.dir,
            "reads": list(plan.cls.reads),
            "writes": list(writes),
            "storage": storage,
        },
        "config": plan.resolved,
        "config_sha256": plan.config_sha256,
        "versions": versions(),
        "seed": seed,
        "inputs": inputs,
        "outputs": outputs,
        "rejected": rejected,
        "artifacts": artifacts,
        "counts": counts,
        "timing": {"start": start, "end": end, "wall_seconds": round(wall, 3), "workers": workers, "retries": retries},
        "stats": stats,
    }
