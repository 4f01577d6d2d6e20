"""Re-threshold a finished dedup stage without running it again.

For researchers choosing a threshold or (b, r): for each setting, how many documents
would go and how many clusters form. It runs the stage's own partitioned phases on the given
executor (band keys, ``candidates``, signature verification, ``components``), so no task holds
more than one partition (``memory_per_task``, as in the stage) and a setting equal to the stage's
own reproduces the stage's removal count. The exact checks of ``verify: jaccard`` and ``hybrid``
are estimated from the signatures here (no text is read), so there it may differ by the pairs
whose estimate falls on the other side of the threshold. Signatures come from the stage's
pass if it kept them (``keep_signatures: true``), otherwise they are sketched again from the
stage's input shards, which stay in the run directory (one parallel pass, the stage's phase 1
without its band rows). Scratch lives in the stage's ``_work/sweep`` (deleted before and
after), so Ray workers on other nodes see it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from dataprep.core.contract import Executor, WorkDir
from dataprep.core.storage import Shard, StageWorkDir, Storage
from dataprep.dedup.candidates import candidates_task
from dataprep.dedup.components import connected_components, read_labels
from dataprep.dedup.lsh import Banding
from dataprep.dedup.minhash import exact_keys, unpack
from dataprep.dedup.scratch import CURRENT, NODE, Task, drop, group_tasks, read_part, write_parts
from dataprep.dedup.settings import DedupConfig
from dataprep.dedup.signatures import sketch_shard, write_bands, write_exact
from dataprep.dedup.verification import accept_task, signature_first_task, signature_second_task

SCRATCH = "_work/sweep"


@dataclass(frozen=True)
class Setting:
    banding: Banding
    threshold: float


@dataclass(frozen=True)
class Stored:
    """A finished dedup stage: its config, the documents it read, and where their signatures
    come from: the pass folder holding ``sigs`` and its node partitions, or (``work`` None, the
    stage kept none) the input shards to sketch again."""

    stage_dir: str
    config: DedupConfig
    work: WorkDir | None
    parts: int
    documents: int
    inputs: tuple[Shard, ...]


def open_stage(stage_dir: str) -> Stored:
    """A finished dedup stage and its signatures (errors say what is missing and why)."""
    storage = Storage(stage_dir)
    if not storage.exists("manifest.json"):
        raise FileNotFoundError(f"{stage_dir} has no manifest.json: not a finished stage directory")
    manifest = storage.read_json("manifest.json")
    if manifest["stage"]["name"] != "dedup":
        raise ValueError(f"{stage_dir} is a {manifest['stage']['name']!r} stage, not dedup")
    config = DedupConfig(**manifest["config"])
    run = storage.parent()
    inputs = tuple(Shard(run, i["path"], i["rows"], i["sha256"]) for i in manifest["inputs"])
    documents = manifest["counts"]["in"]
    if not config.keep_signatures:
        if missing := [s.path for s in inputs if not run.exists(s.path)]:
            raise FileNotFoundError(
                f"{stage_dir} kept no signatures and its input {missing[0]} is gone: rerun dedup with "
                "keep_signatures: true, or keep the run directory whole"
            )
        return Stored(stage_dir, config, None, 0, documents, inputs)
    scope = storage.read_json(f"_work/{CURRENT}")["scope"] if storage.exists(f"_work/{CURRENT}") else ""
    work = StageWorkDir(storage, f"_work/{scope}")
    if not work.list("sigs/"):
        raise FileNotFoundError(f"{stage_dir}/_work/{scope}/sigs holds no signatures (was _work deleted?)")
    return Stored(stage_dir, config, work, work.read_json("stats.json")["partitions"], documents, inputs)


@dataclass(frozen=True)
class _Load:
    """One stored node partition, or one group of input shards to sketch again (``task.group``,
    as phase 1 groups them: at most 4P writers), re-shuffled into the sweep's partitions
    (picklable for Ray)."""

    stored: WorkDir | None
    part: int  # the stored partition, or the shard group's index
    task: Task


def _load_task(load: _Load) -> None:
    """Signatures by node partition (for verification), exact keys by key (for exact groups)."""
    task = load.task
    if load.stored is not None:
        sigs = read_part(load.stored, "sigs", load.part, ["node", "exact", "signature"])
    else:
        sigs = pl.concat([sketch_shard(shard, task.config) for shard in task.group])
    sigs = sigs.with_columns(ekey=pl.Series(exact_keys(sigs["exact"].to_list()), dtype=NODE))
    write_parts(task.work, "sigs", load.part, sigs, "node", task.parts, compress=False)
    write_exact(task.work, load.part, task.parts, sigs.select("node", "exact", "ekey"), task.config)


def _bands_task(task: Task) -> None:
    """One partition's band buckets under the setting's (b, r), shuffled by key."""
    sigs = read_part(task.work, "sigs", task.index)
    matrix = unpack(sigs["signature"], task.config.num_perm)
    write_bands(task.work, task.index, task.parts, sigs.select("node", "exact", "ekey"), matrix, task.config)


def _count_task(task: Task) -> tuple[int, int]:
    """Labelled nodes and component roots (a component's smallest node) of one partition."""
    labels = read_labels(task.work, task.index)
    return labels.height, labels.filter(pl.col("node") == pl.col("label")).height


def sweep(
    stored: Stored, settings: list[Setting], executor: Executor, memory_per_task: int | None = None
) -> list[dict]:
    """Removal figures of each setting; partitions from ``memory_per_task`` (default the stage's)."""
    config = stored.config
    if memory_per_task is not None:  # not validated: tests force many partitions on a tiny corpus
        config = config.model_copy(update={"partitions": None, "memory_per_task": memory_per_task})
    parts = config.partition_count(stored.documents)
    work = StageWorkDir(Storage(stored.stage_dir), SCRATCH)
    work.delete("")
    try:
        base = Task(config, work, parts, parts, 0)
        if stored.work is not None:
            loads = [_Load(stored.work, g, base) for g in range(stored.parts)]
        else:
            loads = [_Load(None, g.index, g) for g in group_tasks(config, work, parts, stored.inputs)]
        executor.map(_load_task, loads)
        return [_evaluate(config, work, parts, s, executor, stored.documents) for s in settings]
    finally:
        work.delete("")


def _evaluate(
    config: DedupConfig, work: WorkDir, parts: int, setting: Setting, executor: Executor, documents: int
) -> dict:
    """One setting through the stage's phases; exact checks become signature estimates."""
    verify = "none" if config.verify == "none" else "signature"
    cfg = config.model_copy(
        update={
            "bands": setting.banding.bands,
            "rows": setting.banding.rows,
            "threshold": setting.threshold,
            "measure": "jaccard",
            "verify": verify,
        }
    )
    tasks = [Task(cfg, work, parts, parts, p) for p in range(parts)]
    executor.map(_bands_task, tasks)
    executor.map(candidates_task, tasks)
    drop(work, "bands")
    found = executor.map(accept_task if verify == "none" else signature_first_task, tasks)
    drop(work, "cand")
    if verify != "none":
        executor.map(signature_second_task, tasks)
        drop(work, "cand2")
    connected_components(work, executor, "edges", parts)
    counts = executor.map(_count_task, tasks)
    labelled, clusters = sum(c[0] for c in counts), sum(c[1] for c in counts)
    drop(work, "labels")
    return {
        "bands": setting.banding.bands,
        "rows": setting.banding.rows,
        "threshold": setting.threshold,
        "candidate_probability_at_threshold": round(setting.banding.probability(setting.threshold), 4),
        "candidate_pairs": sum(f["candidate_pairs"] for f in found),
        "clusters": clusters,
        "removed": labelled - clusters,
        "removed_fraction": round((labelled - clusters) / max(1, documents), 6),
    }
