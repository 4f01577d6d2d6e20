"""The Python API, for notebooks and scripts: the same runs as the CLI.

from dataprep.api import run, read_stage
result = run("pipelines/quickstart.yaml", output="runs/qs")
kept = read_stage(result.stages[-1].dir)
dropped = read_stage(result.stages[1].dir, rejected=True)
mixes = write_mixtures("runs/qs/03-decontaminate", "mixes.yaml", output="runs/mixes")  # a run per mixture
report = audit(["corpus.parquet"], ["evals/"], output="audit").stages[-1].dir  # contamination.json there
export_stage("runs/qs/03-dedup", "exports/dedup")  # a delta-stored stage as plain Parquet
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from dataprep.config import Pipeline, StagePlan, load_pipeline
from dataprep.core.storage import Shard, Storage
from dataprep.engine.executor import open_executor
from dataprep.engine.export import export_stage
from dataprep.engine.lineage import trace
from dataprep.engine.progress import Style, note
from dataprep.engine.runner import RunLock, RunResult, run_pipeline
from dataprep.engine.verify import verify_run
from dataprep.mix.mixtures import parse_mixtures
from dataprep.report import write_report
from dataprep.stages.mix import MixStage

__all__ = [
    "run",
    "audit",
    "write_mixtures",
    "read_stage",
    "export_stage",
    "verify_run",
    "trace",
    "RunResult",
    "MixtureRun",
]


def run(
    pipeline: str | Path | dict[str, Any],
    output: str | None = None,
    inputs: list[str] | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    resume: bool = False,
    verbose: Style = "auto",
    base_dir: str | None = None,
    executor: str = "ray",
    report: bool = False,
    settings: list[str] | None = None,
    force_unlock: bool = False,
) -> RunResult:
    """Run a pipeline (a YAML path or a dict) into ``output`` (default ``runs/<name>``).

    ``settings``: ``STAGE.KEY=VALUE`` changes applied before validation, as ``--set`` does.
    ``executor="local"`` runs every task in this process (no Ray): for debugging and tests.
    ``force_unlock``: take the output's lock even from a live process (``--force-unlock``).
    ``report``: write ``report.html`` (``dataprep report``) into the run directory at the end, as
    ``dataprep run`` does; off by default here, since drawing ~40 figures costs ~10 CPU s a run.
    """
    pipe = load_pipeline(pipeline, inputs=inputs, base_dir=base_dir, settings=settings)
    result = run_pipeline(
        pipe,
        output or f"runs/{pipe.name}",
        address=address,
        num_cpus=num_cpus,
        resume=resume,
        verbose=verbose,
        executor=executor,
        force_unlock=force_unlock,
    )
    if report:
        write_report([result.output_dir])
    return result


# An audit's shards: ~2.5 CPU s of matching each (so a 30 MB corpus still keeps two cores busy;
# ingest's default of 10,000 documents made it one shard), ~0.3 s of task overhead.
AUDIT_SHARD_BYTES = 16 << 20


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
    shard_bytes: int | None = AUDIT_SHARD_BYTES,
    address: str | None = None,
    num_cpus: int | None = None,
    resume: bool = False,
    verbose: Style = "auto",
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
    Shards (the unit of parallel work and of resume) hold ``shard_rows`` documents and
    ``shard_bytes`` of text at most.
    """
    shards = {k: v for k, v in (("shard_rows", shard_rows), ("shard_bytes", shard_bytes)) if v is not None}
    pipe = load_pipeline(
        audit_pipeline(data, benchmarks, text_field, id_field, benchmark_fields, benchmark_id_field, shards, settings)
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
    shards: dict[str, int],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The pipeline ``audit`` runs, as a pipeline file would spell it (paths relative to the cwd)."""
    fields = {"text": text_field, "id": id_field}
    ingest = {"stage": "ingest", "inputs": [{"path": p, "fields": fields} for p in data], **shards}
    benches: list[Any] = [
        {"path": b, "text_fields": list(benchmark_fields), "id_field": benchmark_id_field} if benchmark_fields else b
        for b in benchmarks
    ]
    decontaminate = {"stage": "decontaminate", "benchmarks": benches, **settings, "mode": "annotate"}
    return {"name": "audit", "stages": [ingest, decontaminate]}


POOL_JSON = "pool.json"  # in each mixture's run: the stage it was drawn from, whose shards it read in place


@dataclass
class MixtureRun:
    """One mixture of ``write_mixtures``: its run, or why it failed (``resume=True`` continues it)."""

    name: str
    output_dir: str
    result: RunResult | None = None
    error: str | None = None


def write_mixtures(
    pool: str,
    mixtures: str,
    output: str,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    resume: bool = False,
    verbose: Style = "auto",
    executor: str = "ray",
) -> list[MixtureRun]:
    """Draw every mixture of the file ``mixtures`` from the finished stage ``pool``, each a run ``<output>/<name>``.

    Each mixture is a pipeline of one mix stage over the pool's shards, run by the engine's
    runner (its own lock, run.json, ``pool.json``, resume). They share one executor: Ray
    starts once (~7 s here) rather than once per mixture (a quickstart mixture takes ~0.3 s).
    A mixture that fails is reported and the others still run; ``resume=True`` keeps the
    finished ones and continues the rest.
    """
    pipelines = _mixture_pipelines(mixtures)
    shards, pool_note = _pool(pool)
    root = Storage(output)
    runs = [MixtureRun(p.name, root.uri(p.name)) for p in pipelines]
    if not resume:  # refuse before writing any mixture, not after the first few
        taken = [s.display for s in map(Storage, (r.output_dir for r in runs)) if s.exists("") and s.list("")]
        if taken:
            raise FileExistsError(
                f"not empty: {', '.join(taken)}; pass --resume to continue or choose another --output"
            )
    root.makedirs("")
    # The root's lock carries the tag of the Ray started here: a run taking over after a kill -9 stops what is left.
    with RunLock(root, root.display) as lock, open_executor(executor, address, num_cpus, tag=lock.tag) as shared:
        if shared.temp_dir:
            lock.record_ray_temp(shared.temp_dir)
        for pipeline, mix in zip(pipelines, runs):
            note(verbose, f"mixture {pipeline.name}", event="mixture", mixture=pipeline.name)
            try:
                mix.result = run_pipeline(
                    pipeline,
                    mix.output_dir,
                    address=address,
                    num_cpus=num_cpus,
                    resume=resume,
                    verbose=verbose,
                    executor=executor,
                    pool=shards,
                    notes={POOL_JSON: pool_note},
                )
            except Exception as exc:  # noqa: BLE001 - reported with the mixture named; the others still run
                mix.error = f"{type(exc).__name__}: {exc}"
    return runs


def _mixture_pipelines(path: str) -> list[Pipeline]:
    """One pipeline per mixture of the mixtures file: the mix stage alone, reading a pool."""
    path = os.path.abspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"mixtures file not found: {path}") from None
    base = os.path.dirname(path)
    spec = parse_mixtures(data, path, base)
    sha = hashlib.sha256(data).hexdigest()
    return [
        Pipeline(
            m.name,
            spec.seed,
            base,
            [StagePlan(0, "mix", m.config, MixStage)],
            spec.tokenizer,
            path,
            sha,
            {"mix": m.raw},
        )
        for m in spec.mixtures
    ]


def _pool(stage_dir: str) -> tuple[list[Shard], dict[str, str]]:
    """A finished stage's output shards (read in place) and the note naming it, for ``pool.json``."""
    stage = Storage(stage_dir)
    if not stage.exists("manifest.json"):
        raise FileNotFoundError(f"{stage_dir}: no manifest.json (not a finished stage directory)")
    run_root = stage.parent()
    shards = [Shard(run_root, e["path"], e["rows"], e["sha256"]) for e in stage.read_json("manifest.json")["outputs"]]
    return shards, {"pool": stage.display, "manifest_sha256": stage.sha256("manifest.json")}


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
