"""The protocols every layer shares: stage configs, run facts, shards, scratch space, executors.

They live in the bottom layer so that libraries (dedup, decontam, tokenize, ...) can take a
``WorkDir`` or an ``Executor`` without importing the engine that implements them or the
stages that use them.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
R = TypeVar("R")


class StageConfig(BaseModel):
    """Base of every stage's config: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _check_path(value: str, info: ValidationInfo) -> str:
    """Fail at validation time if a local input path (or glob) matches nothing.

    The value is kept as written so the config hash does not depend on the checkout's
    location; stages resolve it with ``RunInfo.resolve``.
    """
    base = (info.context or {}).get("base_dir")
    if base is None or "://" in value:
        return value
    full = os.path.join(base, os.path.expanduser(value))
    if not (_glob.has_magic(full) and _glob.glob(full, recursive=True)) and not os.path.exists(full):
        raise ValueError(f"path {value!r} does not exist (looked at {full})")
    return value


InputPath = Annotated[str, AfterValidator(_check_path)]
"""A config field naming an existing file, folder or glob, relative to the pipeline file."""


@dataclass(frozen=True)
class RunInfo:
    """Run-wide facts a stage may use: the seed, where relative paths start, the tokenizer."""

    seed: int
    base_dir: str
    tokenizer: str | None = None

    def resolve(self, path: str) -> str:
        """An absolute path or URI for a path written in the pipeline (relative to its file)."""
        if "://" in path:
            return path
        return os.path.normpath(os.path.join(self.base_dir, os.path.expanduser(path)))


class ShardRef(Protocol):
    """A readable Parquet shard; picklable, so it can be handed to a task."""

    path: str  # relative to the run directory, e.g. "01-quality/part-00003.parquet"
    rows: int

    def read(self, columns: Sequence[str] | None = None) -> pa.Table: ...


class WorkDir(Protocol):
    """Scratch space of one stage (``NN-stage/_work``). Writes are atomic. Picklable."""

    def write_table(self, name: str, table: pa.Table) -> None: ...
    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table: ...
    # A shuffle file: consecutive partitions of ``sizes`` rows each; a reader reads one of them.
    def write_partitioned(self, name: str, table: pa.Table, sizes: Sequence[int], compress: bool = True) -> None: ...
    def read_partition(self, name: str, part: int, columns: Sequence[str] | None = None) -> pa.Table: ...
    def write_json(self, name: str, obj: Any) -> None: ...
    def read_json(self, name: str) -> Any: ...
    def exists(self, name: str) -> bool: ...
    def delete(self, name: str) -> None: ...  # a file or a folder
    def list(self, prefix: str = "") -> list[str]: ...
    def sub(self, name: str) -> WorkDir: ...  # the same, inside a sub-folder


class Shared(Protocol[T_co]):
    """A read-only object put once where every task can reach it (e.g. a benchmark index)."""

    def get(self) -> T_co: ...


class Executor(Protocol):
    """Parallel map on the cluster (or in this process). Results come back in item order."""

    workers: int

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, num_cpus: float = 1) -> list[R]: ...

    def broadcast(self, obj: T) -> Shared[T]:
        """``obj`` shared with every task: sent once, not pickled into each task's arguments."""
        ...


class ArtifactWriter(Protocol):
    """Writes extra files into the stage directory; each is hashed into the manifest."""

    def open(self, name: str) -> Any:  # a context manager yielding a binary writable file
        ...
