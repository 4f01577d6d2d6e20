"""The shard machinery every kind of stage shares: run tasks, land files, keep progress records.

Crash safety rests on three rules: (1) every file lands atomically; (2) after shard ``i``'s
files land, a progress record ``_progress/part-i.json`` (their sha256, the input's sha256 and
the config hash) lands; (3) ``manifest.json`` lands last. ``--resume`` keeps a shard only if
its record matches the current config and input and its files still hash to the record,
so a run killed at any point and resumed gives the same bytes as one never interrupted.

With ``delta`` a shard is stored as the rows it keeps of its input shard and the columns it
adds or changes (``core/delta.py``); readers materialize it. Source stages have no input
shard and always write in full.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dataprep.config import StagePlan, sha256_json
from dataprep.core import delta as deltas
from dataprep.core.schema import REASON, STAGE, normalize_table
from dataprep.core.storage import Shard, StageWorkDir, Storage
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
    delta: bool = False,
) -> list[dict[str, Any]]:
    """Process every ``(index, input)`` pair, reusing valid progress records under --resume
    (a record of the other storage mode is redone: the mode a stage was asked for is the one it has)."""
    cfg = plan.config_sha256
    records: dict[int, dict[str, Any]] = {}
    todo = []
    for index, item in items:
        rec = _progress(storage, plan.dir, index) if resume else None
        if (
            rec
            and rec["config_sha256"] == cfg
            and rec["input_sha256"] == _input_sha(item)
            and rec.get("delta", False) == delta
            and intact(storage, [rec["output"]] + ([rec["rejected"]] if rec["rejected"] else []))
        ):
            records[index] = rec
        else:
            todo.append((stage, plan.dir, plan.name, cfg, index, item, storage, work, delta))
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
    stage, stage_dir, name, cfg, index, shard, storage, work, delta = args
    table = shard.read()
    result = stage.process(table, ShardContext(index, shard, stage.run, work))
    base = Base(shard, table, [work.path(a) for a in result.attributes]) if delta else None
    if base is not None and shard.storage.root != storage.root:  # a pool of another run: no relative base
        base = None
    return write_result(storage, stage_dir, name, cfg, index, shard.sha256, table.num_rows, result, base)


def write_result(
    storage: Storage,
    stage_dir: str,
    name: str,
    cfg: str,
    index: int,
    input_sha: str,
    rows_in: int,
    result: ShardResult,
    base: Base | None = None,
) -> dict[str, Any]:
    """Land shard ``index``'s kept and rejected files, then its progress record; as deltas
    over ``base`` (the input shard and its table) when given."""
    if "id" not in result.kept.column_names:
        raise RuntimeError(f"stage {name!r} dropped the id column")
    rej = result.rejected
    n_rej = rej.num_rows if rej is not None else 0
    if rows_in + result.added != result.kept.num_rows + n_rej:
        raise RuntimeError(
            f"stage {name!r}, shard {index}: {rows_in} in + {result.added} added != "
            f"{result.kept.num_rows} kept + {n_rej} rejected"
        )
    out = _land(storage, f"{stage_dir}/part-{index:05d}.parquet", result.kept, base, result.rows)
    rej_rel = f"{stage_dir}/rejected/part-{index:05d}.parquet"
    rej_entry: dict[str, Any] | None = None
    by_reason: dict[str, int] = {}
    if rej is not None and n_rej:
        if REASON not in rej.column_names:
            raise RuntimeError(f"stage {name!r} rejected rows without a {REASON!r} column")
        rej = rej.append_column(STAGE, pa.array([name] * n_rej, pa.string()))
        rej_entry = _land(storage, rej_rel, rej, base and Base(base.shard, base.table), None)
        by_reason = {str(k): int(v) for k, v in Counter(rej.column(REASON).to_pylist()).items()}
    else:
        storage.delete(rej_rel)
    record = {
        "index": index,
        "config_sha256": cfg,
        "input_sha256": input_sha,
        "in": rows_in,
        "added": result.added,
        "output": out,
        "rejected": rej_entry,
        "delta": base is not None,
        "by_reason": by_reason,
        "stats": result.stats,
        "node": _node_id(),
    }
    storage.write_json(f"{stage_dir}/_progress/part-{index:05d}.json", record)
    return record


@dataclass
class Base:
    """What a delta shard is written over: the input shard, its table, and attribute files
    (run-relative) aligned with it (``ShardResult.attributes``)."""

    shard: Shard
    table: pa.Table
    attributes: list[str] = field(default_factory=list)


def _land(storage: Storage, rel: str, table: pa.Table, base: Base | None, rows: pa.Array | None) -> dict[str, Any]:
    """Write ``table`` in full, or as a delta over ``base`` when its rows can be placed there
    (``rows`` given by the stage, or found by id); return the manifest entry, naming the base."""
    if base is not None and rows is None:
        rows = _positions(base.table, table)
    if base is None or rows is None:
        return storage.write_parquet(rel, table).as_dict()
    table = normalize_table(table)
    source, attributes = base.table, []
    for path in base.attributes:
        extra = storage.read_parquet(path)
        names = [c for c in extra.column_names if c not in source.column_names]
        attributes.append(deltas.Attribute(path, storage.sha256(path), tuple(names), storage.size(path)))
        for c in names:
            source = source.append_column(extra.schema.field(c), extra.column(c))
    stored, patched = deltas.encode(source, table, rows)
    shard = base.shard
    spec = deltas.DeltaSpec(
        shard.path, shard.sha256, storage.size(shard.path), table.schema, patched, tuple(attributes)
    )
    entry = storage.write_parquet(rel, stored, metadata=spec.to_metadata()).as_dict()
    return {**entry, "base": {"path": base.shard.path, "sha256": base.shard.sha256}}


def _positions(source: pa.Table, table: pa.Table) -> pa.Array | None:
    """Where each row of ``table`` sits in ``source``, by id; None if ids repeat or are new."""
    ids = source.column("id").combine_chunks()
    if pc.count_distinct(ids).as_py() != len(ids):
        return None
    rows = pc.index_in(table.column("id"), value_set=ids)
    return None if rows.null_count else rows


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
