"""Several mixtures from one pool: the mix stage run on an existing stage's output.

For researchers comparing mixtures: the expensive stages (quality, dedup, ...) run once,
and each mixture is a run directory of its own (``<output>/<name>/run.json``,
``pool.json`` naming the pool stage and its manifest's sha256, and ``00-mix/`` with its
manifest), written by the engine's own ``run_stage``, so it verifies
and traces like any run. A mixtures file names the mixtures::

    seed: 1234                      # default seed of every mixture (a mixture may set its own)
    tokenizer: tokenizer.json       # optional: exact token counts
    mixes:
      code-heavy: {weights: {code: 0.5, web: 0.5}, budget_tokens: 1000000, max_epochs: 2}
      natural:    {temperature: 1.0, budget_tokens: 1000000}

Every mixture's config is validated, and every name checked, before any work starts.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataprep.config import Pipeline, PipelineError, StagePlan
from dataprep.core.contract import InputPath
from dataprep.core.storage import Shard, Storage
from dataprep.engine import manifest as mf
from dataprep.engine.executor import ray_runtime
from dataprep.engine.runner import RUN_JSON, RunLock, StageOutcome, _run_doc, run_stage
from dataprep.stages.mix import MixConfig, MixStage

POOL_JSON = "pool.json"  # which stage the mixture was drawn from (input paths are relative to its run)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class MixturesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    tokenizer: InputPath | None = None
    mixes: dict[str, dict[str, Any]] = Field(min_length=1)


def load_mixtures(path: str) -> list[Pipeline]:
    """One single-stage pipeline per mixture, all validated; errors name the mixture and field."""
    data = Path(path).read_bytes()
    base = os.path.dirname(os.path.abspath(path))
    ctx = {"base_dir": base}
    try:
        spec = MixturesFile.model_validate(yaml.safe_load(data), context=ctx)
    except ValidationError as exc:
        raise PipelineError(f"{path}: {exc}") from None
    errors, pipelines = [], []
    for name, raw in spec.mixes.items():
        if not NAME.match(name):
            errors.append(
                f"{path}: mixture {name!r}: a name is letters, digits, '.', '_' or '-' (it becomes a folder)"
            )
            continue
        try:
            config = MixConfig.model_validate(raw, context=ctx)
        except ValidationError as exc:
            errors += [f"{path}: mixture {name!r}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            continue
        pipelines.append(
            Pipeline(
                name,
                spec.seed,
                base,
                [StagePlan(0, "mix", config, MixStage)],
                spec.tokenizer,
                os.path.abspath(path),
                hashlib.sha256(data).hexdigest(),
                {"mix": raw},
            )
        )
    if errors:
        raise PipelineError("\n".join(errors))
    return pipelines


def pool_shards(stage_dir: str) -> list[Shard]:
    """The output shards of a finished stage, read in place from its run directory."""
    stage = Storage(stage_dir)
    if not stage.exists("manifest.json"):
        raise FileNotFoundError(f"{stage_dir}: no manifest.json (not a finished stage directory)")
    run_root = Storage(stage.root.rsplit("/", 1)[0])
    return [Shard(run_root, e["path"], e["rows"], e["sha256"]) for e in stage.read_json("manifest.json")["outputs"]]


def write_mixtures(
    pool: str,
    mixtures: str,
    output: str,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    verbose: bool = True,
) -> list[StageOutcome]:
    """Write every mixture of ``mixtures`` drawn from the stage at ``pool`` under ``output``."""
    pipelines = load_mixtures(mixtures)
    shards = pool_shards(pool)
    targets = [
        Storage(os.path.join(output, p.name) if "://" not in output else f"{output}/{p.name}") for p in pipelines
    ]
    taken = [s.root for s in targets if s.exists("") and s.list("", recursive=True)]
    if taken:
        raise FileExistsError(f"not empty: {', '.join(taken)}; choose another --output")
    pool_note = {
        "pool": os.path.abspath(pool) if "://" not in pool else pool,
        "manifest_sha256": Storage(pool).sha256("manifest.json"),
    }
    outcomes = []
    with ray_runtime(address, num_cpus) as executor:
        for pipeline, storage in zip(pipelines, targets):
            storage.makedirs("")
            with RunLock(storage, storage.root):
                doc = _run_doc(pipeline, resume=False)
                outcome, _ = run_stage(pipeline, pipeline.stages[0], storage, executor, shards, False, verbose)
                doc["stages"][0]["status"] = "complete"
                doc.update(status="complete", end=mf.now())
                storage.write_json(POOL_JSON, pool_note)
                storage.write_json(RUN_JSON, doc)
            outcomes.append(outcome)
    return outcomes
