"""The Python API, for notebooks and scripts: the same runs as the CLI.

from dataprep.api import run, read_stage
result = run("pipelines/quickstart.yaml", output="runs/qs")
kept = read_stage(result.stages[-1].dir)
dropped = read_stage(result.stages[1].dir, rejected=True)
report = audit(["corpus.parquet"], ["evals/"], output="audit").stages[-1].dir  # contamination.json there
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

__all__ = ["run", "audit", "read_stage", "verify_run", "trace", "RunResult"]


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


def audit(
    data: Sequence[str],
    benchmarks: Sequence[str],
    output: str = "audit",
    *,
    text_field: str | None = None,
    id_field: str | None = "id",
    benchmark_fields: Sequence[str] | None = None,
    benchmark_id_field: str | None = None,
    shard_rows: int | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    resume: bool = False,
    verbose: bool = False,
    executor: str = "ray",
    **settings: Any,
) -> RunResult:
    """Check any corpus (files, folders, globs ingest reads) against benchmarks: a pipeline run.

    The run is an ingest of ``data`` (``text_field``/``id_field`` map the corpus records;
    document ids follow the id rule, the file's own id goes to ``meta.orig_id``) and the
    decontaminate stage in annotate mode, whose ``contamination.json``/``.md`` in the last
    stage's dir is the report. ``settings`` are that stage's config (``ngram``,
    ``min_item_words``, ``max_doc_freq``, ``min_overlap``), validated like a pipeline file.
    ``benchmark_fields`` reads benchmark files no family knows, with those text fields.
    """
    pipe = load_pipeline(
        audit_pipeline(
            data, benchmarks, text_field, id_field, benchmark_fields, benchmark_id_field, shard_rows, settings
        )
    )
    return run_pipeline(
        pipe, output, address=address, num_cpus=num_cpus, resume=resume, verbose=verbose, executor=executor
    )


def audit_pipeline(
    data: Sequence[str],
    benchmarks: Sequence[str],
    text_field: str | None,
    id_field: str | None,
    benchmark_fields: Sequence[str] | None,
    benchmark_id_field: str | None,
    shard_rows: int | None,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The pipeline ``audit`` runs, as a pipeline file would spell it (paths relative to the cwd)."""
    fields = {"text": text_field, "id": id_field}
    ingest: dict[str, Any] = {"stage": "ingest", "inputs": [{"path": p, "fields": fields} for p in data]}
    if shard_rows is not None:
        ingest["shard_rows"] = shard_rows
    benches: list[Any] = [
        {"path": b, "text_fields": list(benchmark_fields), "id_field": benchmark_id_field} if benchmark_fields else b
        for b in benchmarks
    ]
    decontaminate = {"stage": "decontaminate", "benchmarks": benches, **settings, "mode": "annotate"}
    return {"name": "audit", "stages": [ingest, decontaminate]}


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
