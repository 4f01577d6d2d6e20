"""Runs a pipeline: each stage over its shards in parallel, with resume and a run lock.

Crash safety: every file lands atomically, each shard's progress record after its files
(``engine/shards.py``), and ``manifest.json`` last. ``--resume`` keeps a stage whose
manifest still matches its config, inputs and files, and within a stage every shard whose
record does, so a run killed at any point and resumed gives the same bytes as one never
interrupted. Column checks, run.json and the lock are here too: before any work starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dataprep.config import Pipeline, StagePlan, check_columns, sha256_json
from dataprep.core.schema import CORE_COLUMNS
from dataprep.core.storage import Shard, StageArtifacts, StageWorkDir, Storage, redact_secrets
from dataprep.engine import manifest as mf
from dataprep.engine.cluster import check_shared_output
from dataprep.engine.executor import AnyExecutor, RayExecutor, open_executor, stop_tagged
from dataprep.engine.progress import Style, note
from dataprep.engine.shards import intact, run_shards
from dataprep.engine.source import inputs_unchanged, run_source
from dataprep.stages.base import FinalizeContext, PrepareContext, SourceStage, Stage

RUN_JSON = "run.json"
LOCK = ".lock"


@dataclass
class StageOutcome:
    name: str
    dir: str  # absolute path (or URI) of the stage directory
    manifest: dict[str, Any]
    reused: bool = False  # kept whole from an earlier run by --resume


@dataclass
class RunResult:
    output_dir: str  # path or URI (with its options) of the run directory
    stages: list[StageOutcome]


def run_pipeline(
    pipeline: Pipeline,
    output: str,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    resume: bool = False,
    verbose: Style = True,
    executor: str = "ray",
    pool: list[Shard] | None = None,
    notes: dict[str, Any] | None = None,
    force_unlock: bool = False,
) -> RunResult:
    """Run every stage of ``pipeline`` into ``output`` under the run lock, resumably.

    ``pool``: the input shards of a pipeline that starts from an earlier run's stage (e.g. a
    mixture drawn from a finished pool) instead of a source stage. ``executor``: ``ray`` or
    ``local`` (in this process, for debugging and unit tests). ``notes``: JSON files written
    beside run.json under the lock (a mixture's ``pool.json``), so a killed run still has them.
    ``force_unlock``: take the lock even from a live holder (the user says that run is gone).
    SIGINT and SIGTERM stop the run cleanly (lock released, Ray stopped, run.json ``interrupted``)
    and raise ``RunInterrupted``; ``resume=True`` continues from the finished shards.
    """
    # Build every stage first: a setting only a stage can check (a tokenizer's EOS token, a
    # model file) or a column no stage before produces fails here, before any work.
    stages = [pipeline.build(plan) for plan in pipeline.stages]
    check_columns(pipeline.stages, stages, _columns(pool) if pool is not None else ())
    for stage in stages:
        if isinstance(stage, SourceStage):
            stage.files()  # a missing input or an unknown format fails now: no run.json asks for --resume
    storage = Storage(output)
    _check_output(storage, storage.display, resume)
    storage.makedirs("")
    with _signals_interrupt(), RunLock(storage, storage.display, force=force_unlock) as lock:
        run_doc = _run_doc(pipeline, resume)
        storage.write_json(RUN_JSON, run_doc)  # before Ray starts: a kill from here on is resumable
        for name, content in (notes or {}).items():
            storage.write_json(name, content)
        outcomes: list[StageOutcome] = []
        try:
            with open_executor(executor, address, num_cpus, tag=lock.tag) as runner:
                if runner.temp_dir:
                    lock.record_ray_temp(runner.temp_dir)
                if isinstance(runner, RayExecutor):
                    check_shared_output(storage)  # a multi-node cluster must reach a local output
                inputs: list[Shard] = list(pool or [])
                for plan, stage in zip(pipeline.stages, stages):
                    run_doc["stages"][plan.index]["status"] = "running"
                    storage.write_json(RUN_JSON, run_doc)
                    note(verbose, f"stage {plan.dir}", event="stage", stage=plan.dir)
                    try:
                        outcome, inputs = run_stage(pipeline, plan, storage, runner, inputs, resume, verbose, stage)
                    except Exception as exc:
                        run_doc["stages"][plan.index]["status"] = "failed"
                        if not isinstance(exc, USER_ERRORS):
                            message = f"{plan.dir}: {exc}; {_hint(exc)}"
                            raise RunFailed(message, _log_failure(storage, plan.dir, exc)) from exc
                        raise
                    run_doc["stages"][plan.index].update(status="complete", config_sha256=plan.config_sha256)
                    outcomes.append(outcome)
        except Exception:  # a stage failed (recorded above), or the executor did not start
            run_doc["status"] = "failed"
            storage.write_json(RUN_JSON, run_doc)
            raise
        except KeyboardInterrupt as exc:  # SIGINT or SIGTERM: Ray is stopped by now, the lock goes next
            for entry in run_doc["stages"]:
                if entry["status"] == "running":
                    entry["status"] = "interrupted"
            run_doc["status"] = "interrupted"
            storage.write_json(RUN_JSON, run_doc)
            raise RunInterrupted(getattr(exc, "signal", signal.SIGINT), storage.display) from None
        run_doc.update(status="complete", end=mf.now())
        _check(mf.validate(run_doc, "run"), RUN_JSON)
        storage.write_json(RUN_JSON, run_doc)
    return RunResult(storage.uri(), outcomes)


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run after it cleaned up; ``--resume`` keeps the finished shards."""

    def __init__(self, signum: int, output: str) -> None:
        self.signal, self.output = signum, output
        self.exit_code = 128 + signum  # what a shell reports for a process ended by that signal
        super().__init__(f"interrupted by {signal.Signals(signum).name}; {output} keeps its finished shards")


class _Signal(KeyboardInterrupt):
    """Raised in the main thread by the handler of a stopping signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signal = signum


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM unwind the run (a ``KeyboardInterrupt``) so every ``with`` cleans up.

    A second signal during that cleanup (Ray's shutdown takes a few seconds) is ignored: it
    would cut the cleanup short and leave the lock and Ray's temp dir behind.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise _Signal(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


class RunFailed(RuntimeError):
    """A stage failed; the message names it, ``log_path`` holds the full traceback."""

    def __init__(self, message: str, log_path: str) -> None:
        super().__init__(message)
        self.log_path = log_path


LOG = "logs/dataprep.log"
# Raised with a message meant for the user (an infeasible mixture, a missing file): passed on as is.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, PermissionError)


def _hint(exc: BaseException) -> str:
    """What to do next, for the failures users meet."""
    if "Errno 28" in str(exc) or "No space left" in str(exc):
        return "the disk holding the output or Ray's temp dir is full: free space, then rerun with --resume"
    return "fix the cause named here, then rerun with --resume to keep the finished shards"


def _log_failure(storage: Storage, stage_dir: str, exc: BaseException) -> str:
    """Append the failure's traceback (credentials removed) to the run's log; return its path."""
    old = storage.read_bytes(LOG).decode() if storage.exists(LOG) else ""
    entry = f"{mf.now()} {stage_dir} failed\n" + "".join(traceback.format_exception(exc))
    storage.write_bytes(LOG, (old + redact_secrets(entry)).encode())
    return f"{storage.display}/{LOG}"


def _columns(pool: list[Shard]) -> tuple[str, ...]:
    """The columns a pipeline starting from ``pool`` can read: its shards' (one footer read)."""
    if not pool:
        return CORE_COLUMNS
    first = pool[0]
    return tuple(first.storage.footer(first.path).schema.names)


def _check_output(storage: Storage, output: str, resume: bool) -> None:
    if resume:
        if storage.exists(RUN_JSON):
            return
        if storage.exists("") and set(storage.list("", recursive=True)) - {LOCK}:
            raise FileExistsError(f"{output} holds files but no run.json: it is not a dataprep run to resume")
        return
    if storage.exists(RUN_JSON):
        raise FileExistsError(f"{output} already holds a run; pass --resume to continue it or choose another --output")
    if storage.exists("") and storage.list("", recursive=True):
        raise FileExistsError(f"{output} is not empty; choose an empty or new --output")


def _run_doc(pipeline: Pipeline, resume: bool) -> dict[str, Any]:
    return {
        "schema": mf.RUN_SCHEMA,
        "schema_version": mf.SCHEMA_VERSION,
        "name": pipeline.name,
        "pipeline": {
            "path": pipeline.path,
            "sha256": pipeline.sha256 or sha256_json(pipeline.raw),
            "settings": pipeline.settings,
        },
        "seed": pipeline.seed,
        "versions": mf.versions(),
        "start": mf.now(),
        "end": None,
        "resumed": resume,
        "status": "running",
        "stages": [
            {"index": p.index, "name": p.name, "dir": p.dir, "status": "pending", "config_sha256": p.config_sha256}
            for p in pipeline.stages
        ],
    }


def run_stage(
    pipeline: Pipeline,
    plan: StagePlan,
    storage: Storage,
    executor: AnyExecutor,
    inputs: list[Shard],
    resume: bool,
    verbose: Style = True,
    stage: Stage | None = None,
) -> tuple[StageOutcome, list[Shard]]:
    """Run one stage (or keep it whole under --resume); return its outcome and output shards."""
    stage = stage or pipeline.build(plan)
    mpath = f"{plan.dir}/manifest.json"
    if resume and storage.exists(mpath):
        old = storage.read_json(mpath)
        if _still_valid(old, stage, plan, inputs, storage, pipeline.stores_delta(plan)):
            return StageOutcome(plan.name, storage.uri(plan.dir), old, reused=True), _shards(storage, old["outputs"])
    storage.delete(mpath)
    delta = pipeline.stores_delta(plan)
    start, t0, retries = mf.now(), time.monotonic(), executor.retries
    work = StageWorkDir(storage, f"{plan.dir}/_work")
    if isinstance(stage, SourceStage):
        records, input_entries = run_source(stage, plan, storage, executor, work, resume, verbose)
    else:
        input_entries = [{"path": s.path, "sha256": s.sha256, "rows": s.rows} for s in inputs]
        if stage.kind == "global":
            _prepare(stage, plan, inputs, storage, executor, work, resume)
        items = [(i, s) for i, s in enumerate(inputs)]
        records = run_shards(stage, plan, storage, executor, work, items, resume, verbose, delta=delta)
    _prune(storage, plan.dir, records)
    outputs = [r["output"] for r in records]
    rejected = [r["rejected"] for r in records if r["rejected"]]
    out_shards = _shards(storage, outputs)
    artifacts = StageArtifacts(storage, plan.dir)
    stats = stage.merge_stats([r["stats"] for r in records])
    stats.update(
        stage.finalize(FinalizeContext(out_shards, _shards(storage, rejected), stage.run, work, executor, artifacts))
    )
    by_reason = sum((Counter(r["by_reason"]) for r in records), Counter())
    counts = {
        "in": sum(r["in"] for r in records),
        "out": sum(o["rows"] for o in outputs),
        "rejected": sum(o["rows"] for o in rejected),
        "added": sum(r["added"] for r in records),
        "by_reason": dict(sorted(by_reason.items())),
    }
    if counts["in"] + counts["added"] != counts["out"] + counts["rejected"]:
        raise RuntimeError(f"{plan.dir}: rows do not add up: {counts}")
    doc = mf.stage_manifest(
        plan=plan,
        writes=stage.output_columns(),
        storage="delta" if delta else "full",
        seed=pipeline.seed,
        inputs=input_entries,
        outputs=outputs,
        rejected=rejected,
        artifacts=[a.as_dict() for a in artifacts.entries],
        counts=counts,
        start=start,
        end=mf.now(),
        wall=time.monotonic() - t0,
        workers=executor.workers,
        retries=executor.retries - retries,
        stats=stats,
    )
    _check(mf.validate(doc, "stage"), mpath)
    storage.write_json(mpath, doc)
    return StageOutcome(plan.name, storage.uri(plan.dir), doc), out_shards


def _prepare(
    stage: Stage,
    plan: StagePlan,
    inputs: list[Shard],
    storage: Storage,
    executor: AnyExecutor,
    work: StageWorkDir,
    resume: bool,
) -> None:
    """A global stage's whole-corpus pass, skipped on resume if done for this config and input."""
    key = {"config_sha256": plan.config_sha256, "inputs": [s.sha256 for s in inputs]}
    if resume and work.exists("_prepared.json") and work.read_json("_prepared.json") == key:
        return
    stage.prepare(PrepareContext(inputs, stage.run, work, executor))
    work.write_json("_prepared.json", key)


def _still_valid(
    old: dict[str, Any], stage: Stage, plan: StagePlan, inputs: list[Shard], storage: Storage, delta: bool
) -> bool:
    """A finished stage is kept by --resume if config, storage mode, inputs and every file still match."""
    if old.get("config_sha256") != plan.config_sha256 or old["stage"].get("storage", "full") != (
        "delta" if delta else "full"
    ):
        return False
    if plan.cls.kind != "source" and [(i["path"], i["sha256"]) for i in old["inputs"]] != [
        (s.path, s.sha256) for s in inputs
    ]:
        return False
    if isinstance(stage, SourceStage) and not inputs_unchanged(stage, old["inputs"], storage):
        return False
    return intact(storage, old["outputs"] + old["rejected"] + old["artifacts"])


def _prune(storage: Storage, stage_dir: str, records: list[dict[str, Any]]) -> None:
    """Remove what an interrupted or different earlier attempt left behind (resume)."""
    keep = {r["output"]["path"] for r in records} | {r["rejected"]["path"] for r in records if r["rejected"]}
    for sub in (stage_dir, f"{stage_dir}/rejected", f"{stage_dir}/_progress"):
        for rel in storage.list(sub):
            name = os.path.basename(rel)
            if ".tmp-" in name or (name.startswith("part-") and name.endswith(".parquet") and rel not in keep):
                storage.delete(rel)  # a half-written temp file, or a shard of an earlier attempt
    keep_idx = {f"part-{r['index']:05d}.json" for r in records}
    for rel in storage.list(f"{stage_dir}/_progress"):
        if os.path.basename(rel) not in keep_idx:
            storage.delete(rel)


def _shards(storage: Storage, entries: list[dict[str, Any]]) -> list[Shard]:
    return [Shard(storage, e["path"], e["rows"], e["sha256"]) for e in entries]


def _check(errors: list[str], what: str) -> None:
    if errors:
        raise RuntimeError(f"{what} does not match its schema:\n  " + "\n  ".join(errors))


def summary_table(result: RunResult) -> str:
    """The per-stage summary printed at the end of a run."""
    head = f"{'stage':<20} {'in':>10} {'out':>10} {'rejected':>10} {'seconds':>9}"
    lines = [f"run: {Storage(result.output_dir).display}", head, "-" * len(head)]
    for o in result.stages:
        c, t = o.manifest["counts"], o.manifest["timing"]
        secs = "reused" if o.reused else f"{t['wall_seconds']:.1f}"
        lines.append(f"{o.manifest['stage']['dir']:<20} {c['in']:>10,} {c['out']:>10,} {c['rejected']:>10,} {secs:>9}")
    return "\n".join(lines + _where_things_are(result))


def _where_things_are(result: RunResult) -> list[str]:
    """Where a person looks next: token files and their total, contamination report, rejected rows."""
    root = Storage(result.output_dir).display
    out = []
    for o in result.stages:
        files = [a["path"] for a in o.manifest["artifacts"]]
        tokens = o.manifest["stats"].get("tokens")
        for path in files:
            if path.endswith(".bin") and isinstance(tokens, int):
                out.append(
                    f"tokens: {tokens:,} in {root}/{path} (Megatron .idx beside it, document spans in .docs.parquet)"
                )
            elif path.endswith("contamination.md"):
                out.append(f"contamination report: {root}/{path}")
    rejected = sum(o.manifest["counts"]["rejected"] for o in result.stages)
    if rejected:
        out.append(
            f"rejected rows: {rejected:,} in {root}/NN-stage/rejected/ (dataprep inspect {root}/NN-stage --rejected)"
        )
    return out


class RunLock:
    """One writer per output: a lock file created exclusively, naming the process holding it.

    A lock left by a process that no longer exists on this host (kill -9) is taken over, so
    ``--resume`` after a crash just works: what is left of the dead run's local Ray (workers
    still finishing a task, its temp dir) is stopped and removed first. The lock records the
    holder's start time too: a live process with that pid but another start time is a new
    process that reused the pid, and the lock is stale. A live holder makes the second run
    refuse, unless ``force`` (``--force-unlock``: the user says that run is gone).
    """

    def __init__(self, storage: Storage, output: str, force: bool = False) -> None:
        self.storage, self.output, self.force = storage, output, force
        self.info: dict[str, Any] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": _start_time(os.getpid()),
            "tag": uuid.uuid4().hex,
            "ray_temp": None,
        }

    @property
    def tag(self) -> str:
        return self.info["tag"]

    def __enter__(self) -> RunLock:
        if self.storage.is_local:
            path = self.storage.full(LOCK)
            while True:
                try:
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    held = self._read(path)
                    if self._stale(held) or self.force:
                        if self.force:
                            _warn_force(held, self.output)
                        if held.get("host") == socket.gethostname():
                            _clean_after(held)
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(path)
                        continue
                    raise FileExistsError(
                        f"another run (pid {held.get('pid')} on {held.get('host')}) is writing "
                        f"into {self.output}; wait for it or stop it (if it is gone, pass --force-unlock)"
                    ) from None
                with os.fdopen(fd, "w") as f:
                    json.dump(self.info, f)
                return self
        # Object stores have no exclusive create: best effort, documented in the README.
        if self.storage.exists(LOCK) and self.force:
            _warn_force(self.storage.read_json(LOCK), self.output)
        elif self.storage.exists(LOCK):
            raise FileExistsError(
                f"{self.output} has a lock ({self.storage.read_bytes(LOCK).decode()}); remove it if no run is active"
            )
        self.storage.write_json(LOCK, self.info)
        return self

    def record_ray_temp(self, path: str | None) -> None:
        """Note the local Ray's temp dir, so a run taking over after a crash can remove it."""
        self.info["ray_temp"] = path
        self.storage.write_json(LOCK, self.info)

    def __exit__(self, *exc: Any) -> None:
        self.storage.delete(LOCK)

    @staticmethod
    def _read(path: str) -> dict[str, Any]:
        try:
            with open(path) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return {}

    @staticmethod
    def _stale(held: dict[str, Any]) -> bool:
        if held.get("host") != socket.gethostname() or not isinstance(held.get("pid"), int):
            return False
        try:
            os.kill(held["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        # Alive: the holder, or a process that reused its pid (a lock without a start time is trusted).
        return held.get("started") is not None and _start_time(held["pid"]) != held["started"]


def _start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (/proc/PID/stat field 22); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 2 (the command name) may hold spaces and parentheses: count fields after its last ')'.
    return int(stat[stat.rindex(b")") + 2 :].split()[19])


def _warn_force(held: dict[str, Any], output: str) -> None:
    print(
        f"warning: --force-unlock: taking the lock of {output} from pid {held.get('pid')} on {held.get('host')}; "
        "if that run is still writing, the two runs will damage each other's files",
        file=sys.stderr,
        flush=True,
    )


def _clean_after(held: dict[str, Any]) -> None:
    """Stop a dead run's leftover Ray processes and remove its Ray temp dir."""
    if held.get("tag"):
        stop_tagged(held["tag"])
    if held.get("ray_temp"):
        shutil.rmtree(held["ray_temp"], ignore_errors=True)
