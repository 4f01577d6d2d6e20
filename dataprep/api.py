"""The Python API, for notebooks and scripts: the same runs as the CLI.

from dataprep.api import run, read_stage
result = run("pipelines/quickstart.yaml", output="runs/qs")
kept = read_stage(result.stages[-1].dir)
dropped = read_stage(result.stages[1].dir, rejected=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from dataprep.config import load_pipeline
from dataprep.core.storage import Storage
from dataprep.engine.lineage import trace
from dataprep.engine.runner import RunResult, run_pipeline
from dataprep.engine.verify import verify_run

__all__ = ["run", "read_stage", "verify_run", "trace", "RunResult"]


def run(
    pipeline: str | Path | dict[str, Any],
    output: str | None = None,
    inputs: list[str] | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    resume: bool = False,
    verbose: bool = False,
    base_dir: str | None = None,
    executor: str = "ray",
) -> RunResult:
    """Run a pipeline (a YAML path or a dict) into ``output`` (default ``runs/<name>``).

    ``executor="local"`` runs every task in this process (no Ray): for debugging and tests.
    """
    pipe = load_pipeline(pipeline, inputs=inputs, base_dir=base_dir)
    return run_pipeline(
        pipe,
        output or f"runs/{pipe.name}",
        address=address,
        num_cpus=num_cpus,
        resume=resume,
        verbose=verbose,
        executor=executor,
    )


def read_stage(stage_dir: str, columns: Sequence[str] | None = None, rejected: bool = False) -> pa.Table:
    """All rows a stage kept (or rejected), in shard order, as one Arrow table."""
    storage = Storage(stage_dir)
    manifest = storage.read_json("manifest.json")
    entries = manifest["rejected"] if rejected else manifest["outputs"]
    run_root = storage.parent()
    tables = [run_root.read_parquet(e["path"], columns) for e in entries]
    if not tables:
        return pa.table({c: [] for c in (columns or ["id"])})
    return pa.concat_tables(tables, promote_options="default")
