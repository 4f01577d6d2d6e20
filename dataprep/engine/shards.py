"""The shard machinery every kind of stage shares: run tasks, land files, keep progress records.

Crash safety rests on three rules: (1) every file lands atomically; (2) after shard ``i``'s
files land, a progress record ``_progress/part-i.json`` (their sha256, the input's sha256 and
the config hash) lands; (3) ``manifest.json`` lands last. ``--resume`` keeps a shard only if
its record matches the current config and input and its files still hash to the record,
so a run killed at any point and resumed gives the same bytes as one never interrupted.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from dataprep.config import StagePlan, sha256_json
from dataprep.core.schema import REASON, STAGE
from dataprep.core.storage import FileEntry, Shard, StageWorkDir, Storage
from dataprep.engine.executor import AnyExecutor
from dataprep.engine.progress import Progress, Style
from dataprep.stages.base import ShardContext, ShardResult, Stage


def run_shards(
    stage: Stage,
    plan: StagePlan,
    storage: Storage,
    executor: AnyExecutor,
    work: StageWorkDir,
    items: list[tuple[int, Any]],
    resume: bool,
    verbose: Style,
    task: Callable[[tuple[Any, ...]], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Process every ``(index, input)`` pair, reusing valid progress records under --resume."""
    cfg = plan.config_sha256
    records: dict[int, dict[str, Any]] = {}
    todo = []
    for index, item in items:
        rec = _progress(storage, plan.dir, index) if resume else None
        if (
            rec
            and rec["config_sha256"] == cfg
            and rec["input_sha256"] == _input_sha(item)
            and intact(storage, [rec["output"]] + ([rec["rejected"]] if rec["rejected"] else []))
        ):
            records[index] = rec
        else:
            todo.append((stage, plan.dir, plan.name, cfg, index, item, storage, work))
    prog = Progress(plan.name, len(todo), verbose, executor)
    done = executor.map(
        task or _process_shard,
        todo,
        num_cpus=stage.num_cpus,
        describe=lambda t: f"{plan.dir} shard {t[4]}",
        on_done=prog.step,
    )
    records.update({r["index"]: r for r in done})
    return [records[i] for i, _ in items]


def _input_sha(item: Any) -> str:
    return item.sha256 if isinstance(item, Shard) else sha256_json(item)


def _process_shard(args: tuple[Any, ...]) -> dict[str, Any]:
    """Task: read input shard ``index``, run the stage on it, write its files and record.

    The whole shard is read, not only the stage's ``input_columns()``: every stage writes
    every column it was given, so a narrower first read would only add a second one.
    """
    stage, stage_dir, name, cfg, index, shard, storage, work = args
    table = shard.read()
    result = stage.process(table, ShardContext(index, shard, stage.run, work))
    return write_result(storage, stage_dir, name, cfg, index, shard.sha256, table.num_rows, result)


def write_result(
    storage: Storage,
    stage_dir: str,
    name: str,
    cfg: str,
    index: int,
    input_sha: str,
    rows_in: int,
    result: ShardResult,
) -> dict[str, Any]:
    """Land shard ``index``'s kept and rejected files, then its progress record."""
    if "id" not in result.kept.column_names:
        raise RuntimeError(f"stage {name!r} dropped the id column")
    rej = result.rejected
    n_rej = rej.num_rows if rej is not None else 0
    if rows_in + result.added != result.kept.num_rows + n_rej:
        raise RuntimeError(
            f"stage {name!r}, shard {index}: {rows_in} in + {result.added} added != "
            f"{result.kept.num_rows} kept + {n_rej} rejected"
        )
    out = storage.write_parquet(f"{stage_dir}/part-{index:05d}.parquet", result.kept)
    rej_rel = f"{stage_dir}/rejected/part-{index:05d}.parquet"
    rej_entry: FileEntry | None = None
    by_reason: dict[str, int] = {}
    if rej is not None and n_rej:
        if REASON not in rej.column_names:
            raise RuntimeError(f"stage {name!r} rejected rows without a {REASON!r} column")
        rej = rej.append_column(STAGE, pa.array([name] * n_rej, pa.string()))
        rej_entry = storage.write_parquet(rej_rel, rej)
        by_reason = {str(k): int(v) for k, v in Counter(rej.column(REASON).to_pylist()).items()}
    else:
        storage.delete(rej_rel)
    record = {
        "index": index,
        "config_sha256": cfg,
        "input_sha256": input_sha,
        "in": rows_in,
        "added": result.added,
        "output": out.as_dict(),
        "rejected": rej_entry.as_dict() if rej_entry else None,
        "by_reason": by_reason,
        "stats": result.stats,
        "node": _node_id(),
    }
    storage.write_json(f"{stage_dir}/_progress/part-{index:05d}.json", record)
    return record


def _node_id() -> str | None:
    """The Ray node this task ran on (None in this process without Ray): shows a cluster spread the work.

    Read from ``sys.modules``: a task of the local executor must not import Ray just to ask.
    """
    ray = sys.modules.get("ray")
    return ray.get_runtime_context().get_node_id() if ray is not None and ray.is_initialized() else None


def _progress(storage: Storage, stage_dir: str, index: int) -> dict[str, Any] | None:
    rel = f"{stage_dir}/_progress/part-{index:05d}.json"
    return storage.read_json(rel) if storage.exists(rel) else None


def intact(storage: Storage, entries: list[dict[str, Any]]) -> bool:
    """Every recorded file still exists and still hashes to its record."""
    return all(storage.exists(e["path"]) and storage.sha256(e["path"]) == e["sha256"] for e in entries)
