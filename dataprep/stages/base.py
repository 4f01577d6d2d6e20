"""The stage contract: what a stage declares and computes. The engine does everything else.

A stage never touches Ray, paths or manifests. It declares

* ``name`` (the ``stage:`` key in a pipeline YAML), ``config_model`` (a pydantic model),
* ``reads`` / ``writes`` (columns it needs and columns it adds), ``num_cpus`` per task,

and implements ``process`` (one input shard -> kept rows, rejected rows, stats). A global
stage (dedup, mix) also implements ``prepare``: a whole-corpus pass run before the
per-shard pass, which uses the engine's ``Executor`` for parallel work and leaves its
decisions in the stage's ``WorkDir`` for ``process`` to read. ``finalize`` may write extra
artifacts (e.g. Megatron ``.bin``/``.idx``) and add figures to the manifest's ``stats``.

Output shard ``i`` is always made from input shard ``i``, so output bytes never depend on
how many workers ran or in what order they finished. A source stage (ingest) instead names
files and turns one file into rows (``SourceStage``); the engine reads them in parallel and
cuts the rows into shards.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import numpy as np
import pyarrow as pa

from dataprep.core.contract import ArtifactWriter, Executor, RunInfo, ShardRef, StageConfig, WorkDir
from dataprep.core.schema import CORE_SCHEMA, REASON


@dataclass
class ShardContext:
    """What ``process`` knows about the shard at hand."""

    index: int  # shard number, also the output shard number
    input: ShardRef
    run: RunInfo
    work: WorkDir


@dataclass
class PrepareContext:
    """What ``prepare`` gets: every input shard, the executor and the stage's scratch space."""

    inputs: list[ShardRef]
    run: RunInfo
    work: WorkDir
    executor: Executor


@dataclass
class FinalizeContext:
    """What ``finalize`` gets, after every output shard is written."""

    outputs: list[ShardRef]
    rejected: list[ShardRef]
    run: RunInfo
    work: WorkDir
    executor: Executor
    artifacts: ArtifactWriter


@dataclass
class ShardResult:
    """The outcome of one shard.

    ``rejected`` has the input's columns plus ``reason`` (and any stage-specific columns,
    e.g. ``dup_of``); the engine adds ``stage``. ``added`` counts rows a stage created
    (e.g. upsampled repeats) so that ``in + added == out + rejected`` always holds.
    ``stats`` are summed across shards by ``Stage.merge_stats`` unless it is overridden.
    ``rows``: the position in the input shard of each kept row, for delta storage; a stage
    that repeats rows or changes ids says it, otherwise the engine finds rows by id.
    ``attributes``: work-dir tables aligned row for row with the input shard whose columns
    ``kept`` carries (mix's token ids): a delta shard refers to them instead of storing them again.
    """

    kept: pa.Table
    rejected: pa.Table | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    added: int = 0
    rows: pa.Array | None = None
    attributes: tuple[str, ...] = ()


class Stage(ABC):
    """One pipeline step. Subclasses set the class attributes and implement ``process``."""

    name: ClassVar[str]
    kind: ClassVar[Literal["map", "global", "source"]] = "map"
    config_model: ClassVar[type[StageConfig]]
    reads: ClassVar[tuple[str, ...]] = ("id", "text")
    writes: ClassVar[tuple[str, ...]] = ()
    num_cpus: ClassVar[float] = 1.0

    def __init__(self, config: StageConfig, run: RunInfo) -> None:
        self.config = config
        self.run = run

    def output_columns(self) -> tuple[str, ...]:
        """The columns this configured stage adds: ``writes`` unless some depend on config
        (e.g. a classifier score only when a classifier is set). Recorded in the manifest
        and checked by ``dataprep verify``."""
        return self.writes

    def input_columns(self) -> tuple[str, ...]:
        """The columns this configured stage reads: ``reads`` unless config adds some (e.g.
        dedup's ``keep: [q_score]``). The engine checks, before any work, that a stage
        upstream produces each of them."""
        return self.reads

    def prepare(self, ctx: PrepareContext) -> None:
        """Whole-corpus pass of a global stage; map stages have none."""

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        raise NotImplementedError(f"stage {self.name!r} does not process shards")

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        """Figures for the manifest's ``stats`` computed over all outputs; none by default."""
        return {}

    def merge_stats(self, per_shard: list[dict[str, Any]]) -> dict[str, Any]:
        """Combine per-shard stats: numbers and nested dicts of numbers are summed."""
        return sum_stats(per_shard)


SOURCE_SCHEMA = CORE_SCHEMA.append(pa.field(REASON, pa.string()))
"""The rows a source yields: the core columns and ``reason`` (null for a good document).
Columns named ``_...`` are the source's working columns (e.g. a URL key), never written out."""


class SourceFile(Protocol):
    """One input file of a source stage, as the engine sees it."""

    path: str  # absolute path or URI: the engine hashes it into the manifest
    size: int  # bytes: the engine groups small files into one read task


F = TypeVar("F", bound=SourceFile)


@dataclass(frozen=True)
class Sharding:
    """How the engine groups a source's files into read tasks and cuts its rows into shards."""

    unit_bytes: int  # input bytes read by one task (small files are grouped)
    shard_rows: int  # documents per output shard at most
    shard_bytes: int | None = None  # text bytes per output shard at most


class ReadRows(Protocol):
    """Every row a source read, in run order, kept by the engine between reading and sharding."""

    rows: int  # rows of every part, good and bad

    def scan(self, columns: Sequence[str]) -> Iterator[tuple[int, pa.Table]]:
        """``(part, those columns)`` for every non-empty part, in run order (``part`` increasing),
        one part in memory at a time."""
        ...


@dataclass(frozen=True)
class RunWideRejects:
    """Rows rejected by a rule that must see every file first (e.g. URL dedup): for each part,
    the numbers of its rows (within the part) to reject with ``reason``."""

    reason: str
    rows: dict[int, np.ndarray]


class SourceStage(Stage, Generic[F]):
    """A stage that reads files rather than shards: it says which files and how one file
    becomes rows (``SOURCE_SCHEMA``); the engine reads files in parallel and cuts shards
    from the rows in run order (inputs as listed, files sorted, rows in file order)."""

    kind = "source"
    reads = ()
    # Reasons of the one row a damaged file's unreadable part becomes (its text says where): the
    # engine counts damaged files, and fails the run only when every file is damaged and unread.
    damage_reasons: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def files(self) -> list[F]:
        """Every input file, in run order; fails before any work if one is missing or unknown."""

    @abstractmethod
    def read_file(self, f: F) -> Iterator[pa.Table]:
        """The file's records as rows of ``SOURCE_SCHEMA`` (plus ``_`` columns), a batch at a time."""

    @abstractmethod
    def sharding(self) -> Sharding:
        """Read-task and shard sizes."""

    def reject_run_wide(self, rows: ReadRows) -> RunWideRejects | None:
        """Rows to reject once every file is read, by a rule across files; none by default."""
        return None

    def split_file(self, f: F, piece_bytes: int) -> Sequence[Any] | None:
        """Pieces of a big file for separate read tasks, whose rows in piece order are exactly a
        whole-file read's; None (the default): read it whole. Pieces are dataclasses with
        ``start``/``stop`` (contiguous), ``first_row`` and ``size`` in bytes."""
        return None

    def read_piece(self, f: F, piece: Any) -> Iterator[pa.Table]:
        """One piece of ``split_file`` as rows of ``SOURCE_SCHEMA``, numbered as in the whole file."""
        raise NotImplementedError(f"stage {self.name!r} does not read files in pieces")


def sum_stats(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Recursively sum dicts of numbers; other values keep the first seen."""
    out: dict[str, Any] = {}
    for item in items:
        for key, value in item.items():
            if key not in out:
                out[key] = sum_stats([value]) if isinstance(value, dict) else value
            elif isinstance(value, dict):
                out[key] = sum_stats([out[key], value])
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] += value
    return out


def reject(table: pa.Table, mask: pa.Array | Sequence[bool], reasons: pa.Array | Sequence[str]) -> ShardResult:
    """Split ``table`` by ``mask`` (True = reject) with one reason per rejected row."""
    import pyarrow.compute as pc

    mask_arr = pa.array(mask, pa.bool_()) if not isinstance(mask, pa.Array) else mask
    kept = table.filter(pc.invert(mask_arr))
    rejected = table.filter(mask_arr)
    reason_arr = pa.array(reasons, pa.string()) if not isinstance(reasons, pa.Array) else reasons
    if len(reason_arr) == len(table):
        reason_arr = reason_arr.filter(mask_arr)
    return ShardResult(kept=kept, rejected=rejected.append_column("reason", reason_arr))
