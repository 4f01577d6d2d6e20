"""Runs a source stage (``SourceStage``, e.g. ingest): read files in parallel, then re-shard.

1. *Read*: input files are grouped into units of about ``unit_bytes`` (so a folder of many
   small text files is not a task per file); one task per unit parses its files, in order,
   into ``_work/units/unit-NNNNN.parquet`` (good and bad rows, with ``reason``).
2. *Plan*: the stage's run-wide rule (``reject_run_wide``, e.g. URL dedup) sees every unit
   in run order and names rows to reject, kept per unit in ``unit-NNNNN.rejects.parquet``.
   Then the units' ``reason`` and text-size columns are streamed, in order, to cut the
   sequence of documents into shards of at most ``shard_rows`` documents (and
   ``shard_bytes`` text bytes). A rejected row goes with the shard of the documents
   around it. The plan depends only on the files' contents and order: never on workers.
3. *Write*: one task per output shard reads its slices (only the row groups it needs)
   and writes ``part-NNNNN.parquet`` and ``rejected/part-NNNNN.parquet``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.config import StagePlan, sha256_json
from dataprep.core.schema import REASON
from dataprep.core.storage import StageWorkDir, Storage, file_sha256_and_size, public_uri, redact
from dataprep.engine.executor import AnyExecutor
from dataprep.engine.progress import Progress, Style, note
from dataprep.engine.shards import run_shards, write_result
from dataprep.stages.base import SOURCE_SCHEMA, ShardResult, SourceFile, SourceStage

NBYTES = "_nbytes"  # text bytes of each row, for ``shard_bytes`` (a working column)
UNIT_ROW_GROUP = 8192


@dataclass(frozen=True)
class Slice:
    unit: int
    start: int
    stop: int


def run_source(
    stage: SourceStage[Any],
    plan: StagePlan,
    storage: Storage,
    executor: AnyExecutor,
    work: StageWorkDir,
    resume: bool,
    verbose: Style,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sharding = stage.sharding()
    units = group_units(stage.files(), sharding.unit_bytes, 4 * executor.workers)
    unit_recs = _read_units(stage, plan, storage, executor, work, units, resume, verbose)
    _check_damage(plan, [f for u in unit_recs for f in u["files"]], verbose)
    late = stage.reject_run_wide(_Units(work, unit_recs))
    for u in unit_recs:  # rewritten every time: an earlier attempt's rejects never linger
        rows = late.rows.get(u["unit"], np.zeros(0, np.int64)) if late else np.zeros(0, np.int64)
        reasons = pa.array([late.reason] * len(rows) if late else [], pa.string())
        work.write_table(_rejects_name(u["unit"]), pa.table({"row": pa.array(rows, pa.int64()), REASON: reasons}))
    shards = plan_shards(work, unit_recs, sharding.shard_rows, sharding.shard_bytes)
    items = [(i, [s.__dict__ for s in sl]) for i, sl in enumerate(shards)]
    records = run_shards(stage, plan, storage, executor, work, items, resume, verbose, task=_write_shard)
    inputs = [f for u in unit_recs for f in u["files"]]
    if sum(f["rows"] for f in inputs) != sum(r["in"] for r in records):
        raise RuntimeError(f"{plan.dir}: records read and rows written differ")
    return records, [{"path": _rel_to(storage, f["path"]), "sha256": f["sha256"], "rows": f["rows"]} for f in inputs]


def group_units(files: Sequence[SourceFile], unit_bytes: int, min_units: int) -> list[list[SourceFile]]:
    """Consecutive files grouped into read tasks of at most ``unit_bytes``, and into at least
    ``min_units`` tasks where there are enough files, so every worker has work.

    Grouping may depend on the worker count: output shards do not, because they are cut
    from the sequence of rows, which is the same however the files were grouped.
    """
    limit = min(unit_bytes, max(1, -(-sum(f.size for f in files) // min_units)))
    units: list[list[SourceFile]] = []
    size = 0
    for f in files:
        if not units or size + f.size > limit:
            units.append([])
            size = 0
        units[-1].append(f)
        size += f.size
    return units


def _read_units(
    stage: SourceStage[Any],
    plan: StagePlan,
    storage: Storage,
    executor: AnyExecutor,
    work: StageWorkDir,
    units: list[list[SourceFile]],
    resume: bool,
    verbose: Style,
) -> list[dict[str, Any]]:
    cfg = plan.config_sha256
    recs: dict[int, dict[str, Any]] = {}
    todo = []
    for k, unit in enumerate(units):
        # as stored (JSON lists, credentials redacted), so a resumed run recognises its units
        key = redact({"config_sha256": cfg, "files": [[f.path, f.size] for f in unit]})
        name = _unit_name(k, "json")
        if resume and work.exists(name):
            rec = work.read_json(name)
            if rec["key"] == key and work.exists(_unit_name(k)):
                recs[k] = rec
                continue
        todo.append((stage, k, unit, key, work))
    prog = Progress(f"{plan.name} read", len(todo), verbose, executor)
    done = executor.map(
        _read_unit, todo, describe=lambda t: f"input files {[f.path for f in t[2]]}", on_done=prog.step
    )
    recs.update({r["unit"]: r for r in done})
    return [recs[k] for k in range(len(units))]


def _read_unit(args: tuple[Any, ...]) -> dict[str, Any]:
    """Task: parse a unit's files into one work table; record each file's hash and rows."""
    stage, k, unit, key, work = args
    files = []
    writer = None
    total = 0
    with work.storage.open_atomic(f"{work.rel_dir}/{_unit_name(k)}") as stream:
        for f in unit:
            sha, size = file_sha256_and_size(f.path)
            rows = good = 0
            damage: list[str] = []
            for batch in stage.read_file(f):
                batch = batch.append_column(NBYTES, pc.binary_length(batch.column("text")).cast(pa.int64()))
                if writer is None:
                    writer = pq.ParquetWriter(stream, batch.schema, compression="zstd", compression_level=1)
                writer.write_table(batch, row_group_size=UNIT_ROW_GROUP)
                rows += batch.num_rows
                good += batch.column(REASON).null_count  # a null reason is a document
                damage += batch.filter(_damaged(stage, batch)).column("text").to_pylist()
            files.append({"path": f.path, "sha256": sha, "bytes": size, "rows": rows, "good": good, "damage": damage})
            total += rows
        if writer is None:  # no records at all: still a valid, empty unit
            writer = pq.ParquetWriter(stream, SOURCE_SCHEMA.append(pa.field(NBYTES, pa.int64())))
        writer.close()
    rec = {"unit": k, "key": key, "files": files, "rows": total}
    work.write_json(_unit_name(k, "json"), rec)
    return rec


def _damaged(stage: SourceStage[Any], table: pa.Table) -> pa.ChunkedArray:
    """Which rows stand for a damaged file's unreadable part (one per damaged file)."""
    return pc.fill_null(pc.is_in(table.column(REASON), pa.array(stage.damage_reasons, pa.string())), False)


def _check_damage(plan: StagePlan, files: list[dict[str, Any]], verbose: Style) -> None:
    """Damaged files cost only their unreadable part, which is said once here and kept as one
    rejected row each; only when every file is damaged and none gave a record does the run stop."""
    damaged = [f for f in files if f.get("damage")]
    if not damaged:
        return
    path = damaged[0]["path"]
    first = f"{public_uri(path) if '://' in path else path}: {damaged[0]['damage'][0]}"
    more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
    if len(damaged) == len(files) and not any(f.get("good") for f in files):
        raise ValueError(f"{plan.dir}: every input file is damaged and none gave a document: {first}{more}")
    note(
        verbose,
        f"{plan.dir}: {len(damaged)} of {len(files)} input files damaged, their readable records kept and the "
        f"rest one rejected row each: {first}{more}",
        stage=plan.dir,
        damaged_files=len(damaged),
    )


@dataclass(frozen=True)
class _Units:
    """The units read so far, as the stage's run-wide rule sees them (implements ``ReadRows``)."""

    work: StageWorkDir
    units: list[dict[str, Any]]

    @property
    def rows(self) -> int:
        return sum(u["rows"] for u in self.units)

    def scan(self, columns: Sequence[str]) -> Iterator[tuple[int, pa.Table]]:
        for u in self.units:
            if u["rows"]:
                yield u["unit"], self.work.read_table(_unit_name(u["unit"]), columns=list(columns))


def plan_shards(
    work: StageWorkDir, units: list[dict[str, Any]], shard_rows: int, shard_bytes: int | None
) -> list[list[Slice]]:
    """Cut the documents of all units, in order, into shards; memory O(one unit's columns)."""
    shards: list[list[Slice]] = [[]]
    docs = size = 0
    for u in units:
        if not u["rows"]:
            continue
        t = work.read_table(_unit_name(u["unit"]), columns=[REASON, NBYTES])
        good = pc.is_null(t.column(REASON)).to_numpy(zero_copy_only=False).copy()
        good[work.read_table(_rejects_name(u["unit"]), columns=["row"]).column("row").to_numpy()] = False
        nbytes = t.column(NBYTES).to_numpy()
        start = 0
        for row in range(t.num_rows):
            if not good[row]:
                continue
            full = docs >= shard_rows or (shard_bytes is not None and docs > 0 and size + nbytes[row] > shard_bytes)
            if full:
                if row > start:
                    shards[-1].append(Slice(u["unit"], start, row))
                shards.append([])
                start, docs, size = row, 0, 0
            docs += 1
            size += int(nbytes[row])
        shards[-1].append(Slice(u["unit"], start, t.num_rows))
    return shards


def _write_shard(args: tuple[Any, ...]) -> dict[str, Any]:
    """Task: gather a shard's slices from the unit tables and land it."""
    stage, stage_dir, name, cfg, index, slices, storage, work, _delta = args  # a source has no base
    parts = [_read_slice(work, Slice(**s)) for s in slices]
    table = pa.concat_tables(parts) if parts else SOURCE_SCHEMA.empty_table()
    good = pc.is_null(table.column(REASON))
    kept = table.filter(good).drop_columns([REASON])
    rejected = table.filter(pc.invert(good))
    stats = {"damaged_files": pc.sum(_damaged(stage, table)).as_py() or 0} if stage.damage_reasons else {}
    result = ShardResult(kept=kept, rejected=rejected if rejected.num_rows else None, stats=stats)
    return write_result(storage, stage_dir, name, cfg, index, sha256_json(slices), table.num_rows, result)


def _read_slice(work: StageWorkDir, s: Slice) -> pa.Table:
    """Rows ``[start, stop)`` of a unit, reading only the row groups that hold them, with the
    run-wide rejects applied and the working columns dropped."""
    storage = work.storage
    with storage.fs.open_input_file(storage.full(f"{work.rel_dir}/{_unit_name(s.unit)}")) as f:
        pf = pq.ParquetFile(f)
        groups, offset, first = [], 0, None
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            if offset + n > s.start and offset < s.stop:
                groups.append(g)
                first = offset if first is None else first
            offset += n
        t = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
    t = t.slice(s.start - (first or 0), s.stop - s.start)
    rejects = work.read_table(_rejects_name(s.unit))
    rows = rejects.column("row").to_numpy()
    sel = np.nonzero((rows >= s.start) & (rows < s.stop))[0]
    if len(sel):
        pos = np.full(t.num_rows, -1, np.int64)  # row of the slice -> its entry in rejects, if any
        pos[rows[sel] - s.start] = sel
        late = rejects.column(REASON).take(pa.array(pos, mask=pos < 0))
        t = t.set_column(t.schema.get_field_index(REASON), REASON, pc.coalesce(late, t.column(REASON)))
    return t.drop_columns([c for c in t.column_names if c.startswith("_")])


def _unit_name(k: int, ext: str = "parquet") -> str:
    return f"units/unit-{k:05d}.{ext}"


def _rejects_name(k: int) -> str:
    return _unit_name(k, "rejects.parquet")


def inputs_unchanged(stage: SourceStage[Any], old_inputs: list[dict[str, Any]], storage: Storage) -> bool:
    """Whether the files a source stage names are still the ones (and bytes) it read."""
    files = stage.files()
    if [_rel_to(storage, f.path) for f in files] != [i["path"] for i in old_inputs]:
        return False
    return all(file_sha256_and_size(f.path)[0] == i["sha256"] for f, i in zip(files, old_inputs))


def _rel_to(storage: Storage, path: str) -> str:
    """Input paths in manifests are relative to the run directory (URIs stay as they are)."""
    if "://" in path:
        return public_uri(path)
    if not storage.is_local:
        return path
    return os.path.relpath(path, storage.base)
