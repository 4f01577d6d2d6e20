"""Stopping a run: SIGINT/SIGTERM, a lost worker, a stale or reused lock, a Ray that will not start."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO
from run_compare import data_files, manifests

from dataprep.api import run
from dataprep.engine.executor import tagged_pids
from dataprep.engine.verify import verify_run

ENV = dict(os.environ, RAY_AUTH_MODE="disabled")
INGEST_ONLY = {
    "name": "signals",
    "seed": 5,
    "stages": [
        {
            "stage": "ingest",
            "shard_rows": 60,
            "inputs": [{"path": str(REPO / "pipelines/data/quickstart/*.jsonl.gz"), "domain": "mixed"}],
        }
    ],
}


# Ingest, then a stage with many shards to stop in: what the signal tests stop and a worker kill disturbs.
# (Resuming stages after an interrupted one is test_engine's kill in a later stage of the quickstart.)
QUALITY = dict(INGEST_ONLY, stages=INGEST_ONLY["stages"] + [{"stage": "quality", "rule_sets": ["c4"]}])


@pytest.fixture(scope="module")
def quality_reference(tmp_path_factory, ray_session) -> Path:
    """QUALITY run once, undisturbed, on the session's Ray."""
    out = tmp_path_factory.mktemp("reference") / "run"
    run(QUALITY, output=str(out))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "to_group", "code"),
    [(signal.SIGTERM, False, 143), (signal.SIGINT, True, 130)],  # `kill PID`; Ctrl-C (the whole process group)
    ids=["sigterm", "sigint"],
)
def test_a_signal_stops_the_run_cleanly_and_resume_gives_the_same_bytes(
    tmp_path, quality_reference, signum, to_group, code
):
    out = tmp_path / "run"
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(json.dumps(QUALITY))  # JSON is YAML
    cmd = [sys.executable, "-m", "dataprep", "run", str(pipeline), "--output", str(out), "--quiet"]
    proc = subprocess.Popen(
        cmd, env=ENV, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lock: dict = {}
    try:
        deadline = time.monotonic() + 600
        # The first shard of quality done: Ray is busy and ingest's shards are there to keep.
        while time.monotonic() < deadline and proc.poll() is None and not list(out.glob("01-*/_progress/*.json")):
            time.sleep(0.05)
        lock = json.loads((out / ".lock").read_text())
        assert lock["ray_temp"] and Path(lock["ray_temp"]).is_dir() and tagged_pids(lock["tag"])
        (os.killpg if to_group else os.kill)(proc.pid, signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == code, stderr[-2000:]
    assert "Traceback" not in stderr and "SIGTERM received" not in stderr
    name = signal.Signals(signum).name
    (line,) = stderr.strip().splitlines()
    prefix = f"interrupted by {name}; {out} keeps its finished shards; continue it with: "
    assert line.startswith(prefix), line
    resume = shlex.split(line[len(prefix) :])
    assert resume == ["dataprep", "run", str(pipeline), "--output", str(out), "--quiet", "--resume"]
    assert not (out / ".lock").exists()
    assert not Path(lock["ray_temp"]).exists()
    assert tagged_pids(lock["tag"]) == []
    doc = json.loads((out / "run.json").read_text())
    assert doc["status"] == "interrupted"
    assert [s["status"] for s in doc["stages"]][:2] == ["complete", "interrupted"]
    again = subprocess.run(
        [sys.executable, "-m", *resume], env=ENV, timeout=900, capture_output=True, text=True, start_new_session=True
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert data_files(out) == data_files(quality_reference)
    assert manifests(out) == manifests(quality_reference)
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert verify_run(str(out)) == []


def _busy_workers(raylet: int) -> list[int]:
    """Ray workers of this session (children of its raylet) running a shard task (``engine/shards.py``)."""
    pids = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().split(b"\0")[0]
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        if ppid == raylet and title == b"ray::_process_shard":  # not its agents: the raylet dies with them
            pids.append(pid)
    return pids


@pytest.mark.slow
def test_a_worker_killed_mid_shard_is_retried_and_counted_in_the_manifest(tmp_path, quality_reference):
    """kill -9 of busy workers during the quality stage: the run finishes by itself, the same bytes."""
    import ray._private.worker as ray_worker

    undisturbed = quality_reference
    raylet = ray_worker._global_node.all_processes["raylet"][0].process.pid
    out = tmp_path / "disturbed"
    stop = threading.Event()
    kills = []

    def kill_busy_workers() -> None:
        """Two kills, a second apart, once quality's shards are running (a retry per kill at most)."""
        while not stop.is_set() and len(kills) < 2:
            busy = _busy_workers(raylet) if (out / "01-quality").is_dir() else []
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                kills.append(busy[0])
                stop.wait(1.0)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_busy_workers)
    killer.start()
    try:
        disturbed = run(QUALITY, output=str(out))
    finally:
        stop.set()
        killer.join()
    assert kills, "no busy worker was found to kill"
    timing = disturbed.stages[1].manifest["timing"]
    assert timing["retries"] >= 1, (kills, timing)
    assert json.loads((undisturbed / "01-quality/manifest.json").read_text())["timing"]["retries"] == 0
    assert data_files(out) == data_files(undisturbed)
    assert manifests(out) == manifests(undisturbed)


def _start_time(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat[stat.rindex(b")") + 2 :].split()[19])


def test_a_lock_of_a_reused_pid_is_stale_and_force_unlock_takes_a_live_one(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        lock = {"host": socket.gethostname(), "pid": holder.pid, "tag": "t", "ray_temp": None}
        # The pid is alive but started at another time: a new process that reused the dead run's pid.
        (out / ".lock").write_text(json.dumps(dict(lock, started=_start_time(holder.pid) - 1)))
        res = run(INGEST_ONLY, output=str(out), resume=True, executor="local")
        assert not res.stages[0].reused and not (out / ".lock").exists()
        # The holder itself (same pid and start time): refused, naming the way out.
        (out / ".lock").write_text(json.dumps(dict(lock, started=_start_time(holder.pid))))
        with pytest.raises(FileExistsError, match=f"another run \\(pid {holder.pid} .* pass --force-unlock"):
            run(INGEST_ONLY, output=str(out), resume=True, executor="local")
        res = run(INGEST_ONLY, output=str(out), resume=True, executor="local", force_unlock=True)
        assert res.stages[0].reused and not (out / ".lock").exists()
        assert holder.poll() is None, "force-unlock does not stop the process that held the lock"
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert f"warning: --force-unlock: taking the lock of {out} from pid {holder.pid}" in err
    assert "the two runs will damage each other's files" in err


@pytest.mark.slow
def test_a_local_ray_that_cannot_start_is_retried_then_named_in_one_line(tmp_path):
    """A temp dir whose socket paths exceed AF_UNIX's 107 bytes: a real failing ray.init, every time."""
    tmpdir = tmp_path / ("t" * (100 - len(str(tmp_path))))
    tmpdir.mkdir()
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(json.dumps(INGEST_ONLY))
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "dataprep", "run", str(pipeline), "--output", str(out), "--quiet"]
    res = subprocess.run(cmd, env=dict(ENV, TMPDIR=str(tmpdir)), capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    first, second = res.stderr.strip().splitlines()
    assert first.startswith("error: RuntimeError: the local Ray did not start, twice (OSError: ")
    assert first.endswith("then rerun with --resume (or use --executor local)")
    assert second.strip().startswith("(full traceback in ")
    assert [p.name for p in tmpdir.iterdir()] in ([], ["dataprep-logs"]), "both attempts' temp dirs are removed"
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert not (out / ".lock").exists()
