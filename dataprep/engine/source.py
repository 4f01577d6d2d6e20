"""Runs a source stage (``SourceStage``, e.g. ingest): read files in parallel, then re-shard.

1. *Read*: input files are grouped into units of about ``unit_bytes`` (so a folder of many
   small text files is not a task per file); one task per unit parses its files, in order,
   into ``_work/units/unit-NNNNN.parquet`` (good and bad rows, with ``reason``). A file over
   ``unit_bytes`` that the stage can cut exactly (uncompressed JSON Lines at line starts,
   Parquet by row groups) is read in pieces, a task each, after one task per such file finds
   its pieces and hashes it; its rows are those of a whole-file read, so nothing downstream
   knows. Compressed files, WARC and XML dumps are read whole.
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

import dataclasses
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
from dataprep.core.storage import ARROW_THREADS, StageWorkDir, Storage, file_sha256_and_size, public_uri, redact
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
    files = stage.files()
    limit = read_limit(files, sharding.unit_bytes, 4 * executor.workers)
    splits = _split_files(stage, plan, executor, files, sharding.unit_bytes, limit, verbose)
    parts = [Part(f, p) for i, f in enumerate(files) for p in (splits[i][1] if i in splits else [None])]
    units = list(enumerate(group_units(parts, limit)))
    unit_recs = _read_units(stage, plan, executor, work, units, resume, verbose)
    unit_recs = _reread_damaged(stage, plan, executor, work, units, unit_recs, resume, verbose)
    inputs = _file_records(unit_recs, {files[i].path: sha for i, (sha, _) in splits.items()})
    _check_damage(plan, inputs, verbose)
    late = stage.reject_run_wide(_Units(work, unit_recs))
    for u in unit_recs:  # rewritten every time: an earlier attempt's rejects never linger
        rows = late.rows.get(u["unit"], np.zeros(0, np.int64)) if late else np.zeros(0, np.int64)
        reasons = pa.array([late.reason] * len(rows) if late else [], pa.string())
        work.write_table(_rejects_name(u["unit"]), pa.table({"row": pa.array(rows, pa.int64()), REASON: reasons}))
    shards = plan_shards(work, unit_recs, sharding.shard_rows, sharding.shard_bytes)
    items = [(i, [s.__dict__ for s in sl]) for i, sl in enumerate(shards)]
    records = run_shards(stage, plan, storage, executor, work, items, resume, verbose, task=_write_shard)
    if sum(f["rows"] for f in inputs) != sum(r["in"] for r in records):
        raise RuntimeError(f"{plan.dir}: records read and rows written differ")
    return records, [{"path": _rel_to(storage, f["path"]), "sha256": f["sha256"], "rows": f["rows"]} for f in inputs]


@dataclass(frozen=True)
class Part:
    """What one read task reads of a file: all of it, or one piece."""

    file: SourceFile
    piece: Any = None

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def size(self) -> int:
        return self.piece.size if self.piece is not None else self.file.size

    def key(self) -> list[Any]:
        """What the part is, for the unit's resume key (a piece says its range)."""
        return [self.path, self.file.size] + ([dataclasses.asdict(self.piece)] if self.piece is not None else [])


def read_limit(files: Sequence[SourceFile], unit_bytes: int, min_units: int) -> int:
    """Bytes per read task: ``unit_bytes``, or less so that there are at least ``min_units``
    tasks where the input allows, so every worker has work."""
    return min(unit_bytes, max(1, -(-sum(f.size for f in files) // min_units)))


def group_units(parts: Sequence[Part], limit: int) -> list[list[Part]]:
    """Consecutive whole files grouped into read tasks of at most ``limit`` bytes; a piece of a
    split file is a task of its own (so a damaged file's pieces can be read again whole).

    Grouping may depend on the worker count: output shards do not, because they are cut
    from the sequence of rows, which is the same however the files were grouped or split.
    """
    units: list[list[Part]] = []
    size = 0
    for p in parts:
        if not units or size + p.size > limit or p.piece is not None or units[-1][-1].piece is not None:
            units.append([])
            size = 0
        units[-1].append(p)
        size += p.size
    return units


def _split_files(
    stage: SourceStage[Any],
    plan: StagePlan,
    executor: AnyExecutor,
    files: list[SourceFile],
    unit_bytes: int,
    limit: int,
    verbose: Style,
) -> dict[int, tuple[str, list[Any]]]:
    """Files over ``unit_bytes`` that the stage can cut exactly, as ``index -> (sha256, pieces)``.

    One task per such file finds its pieces (a Parquet footer, or one newline-counting pass) and
    hashes it, since its pieces' tasks cannot; a file the stage reads whole (compressed, WARC,
    XML dumps, a footer that cannot be read) is left to one read task as before. Run again on
    resume (about a second per GB): pieces depend only on the file and ``limit``.
    """
    big = [(i, f) for i, f in enumerate(files) if f.size > unit_bytes]
    if not big:
        return {}
    prog = Progress(f"{plan.name} split", len(big), verbose, executor)
    todo = [(stage, i, f, limit) for i, f in big]
    done = executor.map(_split_file, todo, describe=lambda t: f"input file {t[2].path}", on_done=prog.step)
    return {i: split for i, split in done if split is not None}


def _split_file(args: tuple[Any, ...]) -> tuple[int, tuple[str, list[Any]] | None]:
    """Task: a file's pieces (None: read it whole) and, when it has pieces, its sha256."""
    stage, i, f, limit = args
    pieces = stage.split_file(f, limit)
    return i, (file_sha256_and_size(f.path)[0], list(pieces)) if pieces else None


def _read_units(
    stage: SourceStage[Any],
    plan: StagePlan,
    executor: AnyExecutor,
    work: StageWorkDir,
    units: list[tuple[int, list[Part]]],
    resume: bool,
    verbose: Style,
) -> list[dict[str, Any]]:
    """The records of ``units`` (number, parts), in that order: read now, or on resume by an
    earlier attempt whose record has the same key."""
    cfg = plan.config_sha256
    recs: dict[int, dict[str, Any]] = {}
    todo = []
    for k, unit in units:
        # as stored (JSON lists, credentials redacted), so a resumed run recognises its units
        key = redact({"config_sha256": cfg, "files": [p.key() for p in unit]})
        name = _unit_name(k, "json")
        if resume and work.exists(name):
            rec = work.read_json(name)
            if rec["key"] == key and work.exists(_unit_name(k)):
                recs[k] = rec
                continue
        todo.append((stage, k, unit, key, work))
    prog = Progress(f"{plan.name} read", len(todo), verbose, executor)
    done = executor.map(
        _read_unit, todo, describe=lambda t: f"input files {[p.path for p in t[2]]}", on_done=prog.step
    )
    recs.update({r["unit"]: r for r in done})
    return [recs[k] for k, _ in units]


def _read_unit(args: tuple[Any, ...]) -> dict[str, Any]:
    """Task: parse a unit's files (or a piece of one) into one work table; record each one's rows,
    and a whole file's hash (a split file is hashed once, by ``_split_file``)."""
    stage, k, unit, key, work = args
    files = []
    writer = None
    total = 0
    with work.storage.open_atomic(f"{work.rel_dir}/{_unit_name(k)}") as stream:
        for p in unit:
            rows = good = 0
            damage: list[str] = []
            batches = stage.read_file(p.file) if p.piece is None else stage.read_piece(p.file, p.piece)
            for batch in batches:
                batch = batch.append_column(NBYTES, pc.binary_length(batch.column("text")).cast(pa.int64()))
                if writer is None:
                    writer = pq.ParquetWriter(stream, batch.schema, compression="zstd", compression_level=1)
                writer.write_table(batch, row_group_size=UNIT_ROW_GROUP)
                rows += batch.num_rows
                good += batch.column(REASON).null_count  # a null reason is a document
                damage += batch.filter(_damaged(stage, batch)).column("text").to_pylist()
            entry = {"path": p.path, "bytes": p.size, "rows": rows, "good": good, "damage": damage}
            if p.piece is None:
                entry["sha256"] = file_sha256_and_size(p.path)[0]
            else:
                entry["piece"] = dataclasses.asdict(p.piece)
            files.append(entry)
            total += rows
        if writer is None:  # no records at all: still a valid, empty unit
            writer = pq.ParquetWriter(stream, SOURCE_SCHEMA.append(pa.field(NBYTES, pa.int64())))
        writer.close()
    rec = {"unit": k, "key": key, "files": files, "rows": total}
    work.write_json(_unit_name(k, "json"), rec)
    return rec


def _reread_damaged(
    stage: SourceStage[Any],
    plan: StagePlan,
    executor: AnyExecutor,
    work: StageWorkDir,
    units: list[tuple[int, list[Part]]],
    recs: list[dict[str, Any]],
    resume: bool,
    verbose: Style,
) -> list[dict[str, Any]]:
    """A split file with a damaged piece is read again as one piece spanning the file, so that
    its damage is one row at its end naming every damaged part, as a whole-file read gives it;
    that unit (numbered after the others) takes the place of the file's pieces. Rare: of the
    uncompressed formats only Parquet (a corrupt page) can make a piece damaged."""
    out: list[dict[str, Any] | int] = []  # a record, or the number of a unit read again
    again: list[tuple[int, list[Part]]] = []
    j = 0
    while j < len(units):
        first = units[j][1][0]
        end = j + 1
        if first.piece is not None:  # a split file's pieces: the units up to its next first piece
            while end < len(units) and _later_piece(units[end][1][0]):
                end += 1
        if first.piece is not None and any(e["damage"] for r in recs[j:end] for e in r["files"]):
            pieces = [u[0].piece for _, u in units[j:end]]
            span = dataclasses.replace(pieces[0], stop=pieces[-1].stop, size=sum(p.size for p in pieces))
            again.append((len(units) + len(again), [Part(first.file, span)]))
            out.append(again[-1][0])
        else:
            out += recs[j:end]
        j = end
    if not again:
        return recs
    reread = {r["unit"]: r for r in _read_units(stage, plan, executor, work, again, resume, verbose)}
    return [reread[r] if isinstance(r, int) else r for r in out]


def _later_piece(p: Part) -> bool:
    return p.piece is not None and p.piece.start != 0


def _file_records(units: list[dict[str, Any]], split_sha256: dict[str, str]) -> list[dict[str, Any]]:
    """One record per input file, in run order: a split file's pieces summed, with its hash."""
    out: list[dict[str, Any]] = []
    for u in units:
        for e in u["files"]:
            piece = e.get("piece")
            if piece is not None and piece["start"] != 0:
                last = out[-1]
                last["rows"] += e["rows"]
                last["good"] += e["good"]
                last["damage"] += e["damage"]
            else:
                out.append({**e, "sha256": e.get("sha256") or split_sha256[e["path"]], "damage": list(e["damage"])})
    return out


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
        t = pf.read_row_groups(groups, use_threads=ARROW_THREADS) if groups else pf.schema_arrow.empty_table()
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
