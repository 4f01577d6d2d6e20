"""Runs work: on Ray (starting or joining a cluster), or in this process, as an ordered map.

Plain ``ray.remote`` tasks, not Ray Data: Ray Data reorders shards and renames files
(see ENVIRONMENT.md), while one task per shard with results gathered by index keeps
outputs independent of worker count and finishing order, at ~0.3 s overhead a task.
``LocalExecutor`` runs the same tasks one after another in this process: unit tests of
stages and libraries need no cluster, and ``--executor local`` gives plain tracebacks and
breakpoints for debugging. Both give the same bytes, since outputs never depend on order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# One task per core: libraries must not each start a pool as large as the machine. And the
# allocators of polars (jemalloc) and Arrow (mimalloc) keep the pages a task frees for its next
# batch or task instead of handing them back at once: a page handed back is zeroed and mapped
# again on its next use, ~8 us a 4 KB page on a VM that reports free pages to its host. Dedup of
# 1M short documents in one process: 746k page faults (6.3 of 26.4 CPU s in the kernel); 216k
# (3.0 of 21.6 s) with these settings and no release between tasks. A worker's memory then stays
# at its largest task's peak, which configuration bounds, plus what Arrow's pool keeps, which
# ``RETAIN_BYTES`` bounds (docs/SCALING.md measures both at 10M). Arrow's pool purges pages free
# for 10 s on its own; a negative delay would also make ``release_unused`` a no-op.
WORKER_ENV = {
    "RAYON_NUM_THREADS": "1",
    "POLARS_MAX_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ARROW_NUM_THREADS": "1",
    "_RJEM_MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1",  # polars' jemalloc (prefixed build)
    "MIMALLOC_PURGE_DELAY": "10000",  # Arrow's default memory pool (ms)
}

# Free memory a worker may keep in Arrow's pool above its size after the last release. Kept without
# bound, the pool's free pages spread over size classes: ingest's largest worker peaked at 360-394
# MB over 200 shards of 10M short documents, 289-301 MB over 20 shards of 1M, though no task used
# over 20 MB of Arrow memory. With this bound (and Arrow on one thread, ``storage.ARROW_THREADS``)
# 296 MB at 10M. Handing everything back after each task instead cost dedup ~2 CPU s per 1M short
# documents in page faults (235k more); with the bound one process releases after 17 of its 166
# tasks, and three alternating Ray runs took 25.3 CPU s (median) with and without it.
RETAIN_BYTES = 64 << 20
_released_at: list[int] = []  # this process's RSS after its last release


class TaskError(RuntimeError):
    """A task failed; names the item it was working on."""


def _task_failed(item: str, cause: BaseException) -> TaskError:
    """The one wording of a task's own failure, whichever executor ran it (Ray's cause unwrapped by the caller)."""
    return TaskError(f"task failed on {item}: {type(cause).__name__}: {cause}")


RUN_TAG = "DATAPREP_RUN"  # set in every process of a local Ray we start, to find them after a crash


def _apply(fn: Callable[[T], R], item: T) -> R:
    """``fn(item)``: one Ray remote function for every ``fn`` (named after it per map); then the
    worker's free memory is bounded (``_bound_free_memory``)."""
    result = fn(item)
    _bound_free_memory()
    return result


def _bound_free_memory() -> None:
    """Hand Arrow's free pages back if this process is over ``RETAIN_BYTES`` above its size after
    the last release; the first task always releases, which sets that size."""
    rss = _rss()
    if rss is None or (_released_at and rss <= _released_at[0] + RETAIN_BYTES):
        return
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    _released_at[:] = [_rss()]


def _rss() -> int | None:
    """This process's resident bytes, or None where there is no ``/proc`` (no bound there)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


class LocalExecutor:
    """Ordered map in this process, one item after another (implements ``Executor``)."""

    workers = 1
    temp_dir: str | None = None
    retries = 0  # nothing to retry: a failure here is the task's own

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        num_cpus: float = 1,
        describe: Callable[[T], str] = repr,
        on_done: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """``fn(item)`` for every item in order; a failure raises ``TaskError`` naming the item."""
        results = []
        for i, item in enumerate(items):
            try:
                result = fn(item)
            except Exception as exc:  # noqa: BLE001 - re-raised with the item named
                raise _task_failed(describe(item), exc) from exc
            results.append(result)
            if on_done is not None:
                on_done(i, result)
        return results

    def broadcast(self, obj: T) -> LocalShared[T]:
        return LocalShared(obj)


@dataclass(frozen=True)
class LocalShared(Generic[T]):
    """The object itself: tasks run in this process."""

    obj: T

    def get(self) -> T:
        return self.obj


@dataclass(frozen=True)
class RayShared(Generic[T]):
    """An object in Ray's object store; ``get`` maps numpy arrays from it without copying."""

    ref: Any

    def get(self) -> T:
        import ray

        return ray.get(self.ref)


class RayExecutor:
    """Ordered parallel map over Ray tasks, with bounded tasks in flight (implements ``Executor``).

    A task lost to the system (its worker crashed or was killed, its node died, its result was
    lost) is submitted again, up to ``max_retries`` times: shard tasks are idempotent (atomic
    writes, outputs named by shard index), so a retry gives the same bytes. Retries are counted
    in ``retries`` for the manifest. An error raised by the task's own code is deterministic (the
    same data fails the same way) and stops the map at once, naming the item.
    """

    def __init__(self, workers: int, temp_dir: str | None = None, max_retries: int = 3) -> None:
        self.workers = max(1, workers)
        self.temp_dir = temp_dir  # the local Ray's own temp dir, when we started it
        self.max_retries = max_retries
        self.retries = 0  # tasks resubmitted after a system failure, over this executor's life

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        num_cpus: float = 1,
        describe: Callable[[T], str] = repr,
        on_done: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """``fn(item)`` for every item, in parallel; results in item order.

        At most ``workers`` tasks are in flight, so memory stays bounded however many items
        there are, and ``--num-cpus`` limits parallelism even on a larger cluster.
        ``on_done(index, result)`` is called as each finishes (progress, bookkeeping).
        """
        import ray

        # Ray's own retry (max_retries) would hide how often it happened; we resubmit ourselves.
        # Named after ``fn``: a worker's process title (``ray::<name>``) says what it runs.
        remote = ray.remote(num_cpus=num_cpus, max_retries=0)(_apply).options(name=getattr(fn, "__name__", "task"))
        results: list[R | None] = [None] * len(items)
        attempts = [0] * len(items)
        pending: dict[object, int] = {}
        queue = list(range(len(items)))[::-1]  # popped from the end: item order
        while queue or pending:
            while queue and len(pending) < self.workers:
                i = queue.pop()
                pending[remote.remote(fn, items[i])] = i
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    results[i] = ray.get(ref)
                except _system_failures() as exc:
                    if attempts[i] >= self.max_retries:
                        self._cancel(pending)
                        raise TaskError(
                            f"task on {describe(items[i])} was lost {attempts[i] + 1} times "
                            f"(last: {type(exc).__name__}); is a node or the machine out of memory?"
                        ) from exc
                    attempts[i] += 1
                    self.retries += 1
                    queue.append(i)
                    continue
                except Exception as exc:  # noqa: BLE001 - re-raised with the item named
                    self._cancel(pending)
                    raise _task_failed(describe(items[i]), getattr(exc, "cause", None) or exc) from exc
                if on_done is not None:
                    on_done(i, results[i])  # type: ignore[arg-type]
        return results  # type: ignore[return-value]

    @staticmethod
    def _cancel(pending: dict[object, int]) -> None:
        import ray

        for other in pending:
            ray.cancel(other, force=True)

    def broadcast(self, obj: T) -> RayShared[T]:
        import ray

        return RayShared(ray.put(obj))


@contextlib.contextmanager
def ray_runtime(
    address: str | None = None, num_cpus: int | None = None, tag: str | None = None
) -> Iterator[RayExecutor]:
    """Join the cluster at ``address``, reuse an initialized Ray, or start a local one.

    A local Ray keeps its sockets, logs and spilled objects in a temp dir of its own that is
    removed at the end, and every process of it carries ``DATAPREP_RUN=<tag>`` in its
    environment, so that a run resumed after a crash can find and stop what is left of it.
    """
    import ray

    if ray.is_initialized():
        yield RayExecutor(_workers(num_cpus))
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    kwargs = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        runtime_env={"env_vars": WORKER_ENV},
    )
    if address:
        with _caller_sigterm():
            ray.init(address=address, **kwargs)
        try:
            yield RayExecutor(_workers(num_cpus))
        finally:
            ray.shutdown()
        return
    if tag:
        os.environ[RUN_TAG] = tag  # inherited by the Ray processes ray.init starts
        kwargs["runtime_env"] = {"env_vars": {**WORKER_ENV, RUN_TAG: tag}}
    tmp = None
    try:
        for attempt in (1, 2):
            tmp = tempfile.mkdtemp(prefix="dataprep-ray-")
            try:
                with _caller_sigterm():
                    ray.init(num_cpus=num_cpus or os.cpu_count(), _temp_dir=tmp, **kwargs)
                break
            except Exception as exc:  # noqa: BLE001 - a local start that failed is retried once, then named
                _stop_local(tag, tmp)
                tmp = None
                if attempt == 2:
                    raise RuntimeError(
                        f"the local Ray did not start, twice ({_first_line(exc)}); load average "
                        f"{os.getloadavg()[0]:.0f}: fix the cause, or wait for a quieter machine, then rerun with "
                        "--resume (or use --executor local)"
                    ) from exc
        yield RayExecutor(_workers(num_cpus), tmp)
    finally:
        _stop_local(tag, tmp)
        os.environ.pop(RUN_TAG, None)


def _stop_local(tag: str | None, tmp: str | None) -> None:
    """Shut the local Ray down and leave nothing of it: no tagged process, no temp dir."""
    import ray

    ray.shutdown()
    if tag:
        stop_tagged(tag)  # a worker still finishing a task, or what a failed start left running
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _caller_sigterm() -> Iterator[None]:
    """Keep the caller's SIGTERM handler across ``ray.init``.

    ray.init installs its own (sys.exit, then the core worker's handler aborts with a stack
    dump: exit -6, lock and temp dir left); the runner's handler stops the run cleanly instead.
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _system_failures() -> tuple[type[BaseException], ...]:
    """Ray's errors for work lost to the system, not raised by the task's code."""
    from ray import exceptions as rx

    names = ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError", "OutOfMemoryError")
    return tuple(getattr(rx, n) for n in names if hasattr(rx, n))


AnyExecutor = RayExecutor | LocalExecutor


@contextlib.contextmanager
def open_executor(
    kind: str = "ray", address: str | None = None, num_cpus: int | None = None, tag: str | None = None
) -> Iterator[AnyExecutor]:
    """The executor a run asked for: ``ray`` (default) or ``local`` (this process, for debugging)."""
    if kind == "local":
        if address:
            raise ValueError("--executor local runs in this process; it cannot take --address")
        yield LocalExecutor()
        return
    if kind != "ray":
        raise ValueError(f"unknown executor {kind!r}; choose ray or local")
    with ray_runtime(address, num_cpus, tag) as executor:
        yield executor


def tagged_pids(tag: str) -> list[int]:
    """Processes of this host, other than this one, whose environment has ``DATAPREP_RUN=<tag>``
    (a run's driver and every Ray process it started); also what tests and benchmarks check is gone."""
    needle = f"{RUN_TAG}={tag}".encode()
    pids = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()) if os.path.isdir("/proc") else ():
        if pid == os.getpid():
            continue  # the driver itself, when it started with the tag in its environment
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    pids.append(pid)
        except OSError:  # gone, or not ours to read
            continue
    return pids


def stop_tagged(tag: str) -> int:
    """SIGKILL every process of ``tagged_pids(tag)``; how many were killed.

    Ray workers of a driver killed with -9 are not in its process group and finish their
    task before noticing; stopping them keeps them from writing beside a resumed run.
    """
    killed = 0
    for pid in tagged_pids(tag):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:  # ended since it was listed
            continue
    return killed


def _workers(num_cpus: int | None) -> int:
    import ray

    available = int(ray.cluster_resources().get("CPU", 1))
    return min(num_cpus, available) if num_cpus else available
