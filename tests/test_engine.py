"""Engine guarantees: determinism, verification, resume after kill -9, locks, schemas."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import QUICKSTART, REPO

from dataprep.api import run
from dataprep.config import Pipeline, PipelineError, StagePlan, check_columns, load_pipeline
from dataprep.core.storage import Shard, Storage
from dataprep.engine.lineage import token_owner, trace
from dataprep.engine.manifest import validate
from dataprep.engine.runner import run_pipeline
from dataprep.engine.verify import verify_run

INGEST_ONLY = {
    "name": "ingest-only",
    "seed": 7,
    "stages": [
        {
            "stage": "ingest",
            "shard_rows": 50,
            "inputs": [{"path": str(REPO / "pipelines/data/quickstart/*.jsonl.gz"), "domain": "mixed"}],
        }
    ],
}


def _shard_hashes(run_dir: str) -> dict[str, str]:
    out = {}
    for st in json.loads(Path(run_dir, "run.json").read_text())["stages"]:
        m = json.loads(Path(run_dir, st["dir"], "manifest.json").read_text())
        out[st["dir"] + ":config"] = m["config_sha256"]
        for e in m["outputs"] + m["rejected"] + m["artifacts"]:
            out[e["path"]] = e["sha256"]
    return out


def _bytes(run_dir: str) -> dict[str, bytes]:
    root = Path(run_dir)
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*.parquet"))
        if "_work" not in p.parts and "_progress" not in p.parts
    }


@pytest.mark.slow
def test_quickstart_identical_for_one_and_two_workers(tmp_path, ray_session, quickstart_ray):
    one = run(QUICKSTART, output=str(tmp_path / "one"), num_cpus=1)
    two = quickstart_ray
    assert one.stages[-1].manifest["timing"]["workers"] == 1
    assert two.stages[-1].manifest["timing"]["workers"] == 2
    assert _shard_hashes(one.output_dir) == _shard_hashes(two.output_dir)
    assert _bytes(one.output_dir) == _bytes(two.output_dir)
    assert verify_run(one.output_dir) == []
    for st in one.stages:
        assert validate(st.manifest, "stage") == []
    assert validate(json.loads(Path(one.output_dir, "run.json").read_text()), "run") == []
    _token_lineage_round_trip(one.output_dir)


@pytest.mark.slow
def test_local_executor_gives_the_bytes_of_ray(quickstart_ray, quickstart_local):
    """The in-process executor runs the same tasks: the same shards, tokens and rejected rows."""
    on_ray, local = quickstart_ray, quickstart_local
    assert local.stages[-1].manifest["timing"]["workers"] == 1
    assert _shard_hashes(local.output_dir) == _shard_hashes(on_ray.output_dir)
    assert verify_run(local.output_dir) == []


def _token_lineage_round_trip(run_dir: str) -> None:
    """Token N -> its document -> that document's span, and the tokens there are its input_ids."""
    import numpy as np
    import pyarrow.parquet as pq

    owner = token_owner(run_dir, 1000)
    assert owner is not None and owner.start <= 1000 < owner.start + owner.n_tokens
    last = [s for s in trace(run_dir, owner.doc_id.split("#r")[0]) if s.doc_id == owner.doc_id][-1]
    assert last.detail["tokens"]["span"] == [owner.start, owner.start + owner.n_tokens]
    row = pq.read_table(Path(run_dir, last.shard)).slice(last.row, 1).to_pylist()[0]
    index = pq.read_table(Path(run_dir, owner.index))
    dtype = np.dtype(index.schema.metadata[b"dtype"].decode())
    tokens = np.fromfile(Path(run_dir, owner.index.replace(".docs.parquet", ".bin")), dtype=dtype)
    assert tokens[owner.start : owner.start + owner.n_tokens].tolist() == row["input_ids"]


def test_verify_names_a_changed_shard(tmp_path):
    res = run(INGEST_ONLY, output=str(tmp_path / "r"), executor="local")
    assert verify_run(res.output_dir) == []
    shard = Path(res.output_dir, res.stages[0].manifest["outputs"][1]["path"])
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    problems = verify_run(res.output_dir)
    assert any("00-ingest/part-00001.parquet: sha256 does not match" in p for p in problems), problems
    out = subprocess.run([sys.executable, "-m", "dataprep", "verify", res.output_dir], capture_output=True, text=True)
    assert out.returncode == 1 and "part-00001.parquet" in out.stderr


def test_existing_output_and_concurrent_runs_are_refused(tmp_path):
    out = tmp_path / "r"
    run(INGEST_ONLY, output=str(out), executor="local")
    with pytest.raises(FileExistsError, match="already holds a run; pass --resume"):
        run(INGEST_ONLY, output=str(out), executor="local")
    # A live process holds the lock: a second run must refuse, even with --resume.
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": holder.pid, "tag": "t"}))
        with pytest.raises(FileExistsError, match="another run .* is writing into"):
            run(INGEST_ONLY, output=str(out), resume=True, executor="local")
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: its stale lock is taken over and the finished run is reused whole.
    res = run(INGEST_ONLY, output=str(out), resume=True, executor="local")
    assert all(s.reused for s in res.stages)


def test_resume_redoes_only_what_is_missing_or_changed(tmp_path, ray_session):
    clean = run(INGEST_ONLY, output=str(tmp_path / "clean"))
    broken = tmp_path / "broken"
    shutil.copytree(clean.output_dir, broken)
    stage = broken / "00-ingest"
    (stage / "manifest.json").unlink()  # as if the run died before the stage finished
    (stage / "part-00003.parquet").unlink()
    (stage / "part-00005.parquet").write_bytes(b"half-written")
    res = run(INGEST_ONLY, output=str(broken), resume=True)
    assert not res.stages[0].reused
    assert _bytes(str(broken)) == _bytes(clean.output_dir)
    assert verify_run(str(broken)) == []


@pytest.mark.slow
def test_killed_mid_run_and_resumed_is_byte_identical(tmp_path, ray_session):
    pipeline = tmp_path / "p.yaml"
    cfg = dict(INGEST_ONLY)
    cfg["stages"] = [dict(INGEST_ONLY["stages"][0], shard_rows=10)]
    pipeline.write_text(json.dumps(cfg))  # JSON is YAML
    reference = run(cfg, output=str(tmp_path / "ref"), executor="local")  # the bytes of Ray's (tested above)
    out = tmp_path / "killed"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    cmd = [sys.executable, "-m", "dataprep", "run", str(pipeline), "--output", str(out), "--quiet", "--num-cpus", "1"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = out / "00-ingest" / "_progress"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(progress.glob("*.json"))) < 5:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started, at once
    proc.wait()
    ray_temp = Path(json.loads((out / ".lock").read_text())["ray_temp"])
    assert ray_temp.is_dir(), "a killed run leaves its lock and its Ray temp dir"
    done = len(list(progress.glob("*.json")))
    assert 5 <= done < len(reference.stages[0].manifest["outputs"]), "the kill must land mid-stage"
    assert not (out / "00-ingest" / "manifest.json").exists()
    subprocess.run(
        cmd[:-2] + ["--resume"], env=env, check=True, timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert not ray_temp.exists() and not (out / ".lock").exists(), "resume cleans up after the dead run"
    assert _bytes(str(out)) == _bytes(reference.output_dir)
    assert _shard_hashes(str(out)) == _shard_hashes(reference.output_dir)
    assert verify_run(str(out)) == []


@pytest.mark.slow
def test_runs_on_an_existing_cluster_with_address(tmp_path, ray_session):
    """``--address`` joins a running cluster (a head started with ``ray start``) and gives the same bytes."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ray_tmp = tempfile.mkdtemp(prefix="dpc-", dir="/tmp")
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    head = subprocess.Popen(
        [
            "ray",
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            f"--temp-dir={ray_tmp}",
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pipeline = tmp_path / "p.yaml"
        pipeline.write_text(json.dumps(INGEST_ONLY))
        cmd = [
            sys.executable,
            "-m",
            "dataprep",
            "run",
            str(pipeline),
            "--output",
            str(tmp_path / "cluster"),
            "--address",
            f"127.0.0.1:{port}",
        ]
        deadline = time.monotonic() + 90
        while True:  # the head takes a few seconds to accept drivers
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
            if out.returncode == 0 or time.monotonic() > deadline or "already holds a run" in out.stderr:
                break
            shutil.rmtree(tmp_path / "cluster", ignore_errors=True)
            time.sleep(2)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "00-ingest" in out.stdout  # the summary table
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    local = run(INGEST_ONLY, output=str(tmp_path / "local"), executor="local")
    assert _bytes(str(tmp_path / "cluster")) == _bytes(local.output_dir)


@pytest.mark.slow
def test_quickstart_killed_in_a_later_stage_resumes_to_the_same_bytes(tmp_path, quickstart_ray):
    """kill -9 while a stage after ingest is working (a global stage's prepare or its shards)."""
    reference = quickstart_ray
    out = tmp_path / "killed"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    cmd = [sys.executable, "-m", "dataprep", "run", str(QUICKSTART), "--output", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    target = out / reference.stages[2].manifest["stage"]["dir"]
    while (
        time.monotonic() < deadline
        and proc.poll() is None
        and not any((target / sub).is_dir() and any((target / sub).iterdir()) for sub in ("_work", "_progress"))
    ):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (target / "manifest.json").exists(), "the kill must land before the stage finished"
    ray_temp = Path(json.loads((out / ".lock").read_text())["ray_temp"])
    subprocess.run(
        cmd + ["--resume"], env=env, check=True, timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert not ray_temp.exists(), "resume cleans up after the dead run"
    assert _bytes(str(out)) == _bytes(reference.output_dir)
    assert _shard_hashes(str(out)) == _shard_hashes(reference.output_dir)
    assert verify_run(str(out)) == []


def test_resume_after_a_kill_before_any_stage_started(tmp_path, ray_session):
    """Killed while Ray was starting: only a dead run's lock and run.json exist; resume runs it all."""
    out = tmp_path / "r"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".lock").write_text(
        json.dumps({"host": socket.gethostname(), "pid": dead.pid, "tag": "x", "ray_temp": None})
    )
    res = run(INGEST_ONLY, output=str(out), resume=True)
    assert not res.stages[0].reused and verify_run(res.output_dir) == []
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not a run")
    with pytest.raises(FileExistsError, match="not a dataprep run to resume"):
        run(INGEST_ONLY, output=str(tmp_path / "other"), resume=True)


def _quality_then_dedup(keep: list[str]) -> dict:
    """Ingest, quality without language ID (so no ``lang_score`` column), dedup ranking by ``keep``."""
    stages = INGEST_ONLY["stages"] + [
        {"stage": "quality", "rule_sets": ["gopher_repetition"], "language": None},
        {"stage": "dedup", "keep": keep},
    ]
    return dict(INGEST_ONLY, stages=stages)


def test_a_column_no_stage_before_produces_fails_before_any_work(tmp_path):
    """``keep: [lang_score]`` needs language ID upstream: one line naming stage, column and producers."""
    out = tmp_path / "r"
    with pytest.raises(PipelineError) as err:
        run(_quality_then_dedup(["-lang_score", "length"]), output=str(out), executor="local")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("stage 3 (dedup) reads column 'lang_score', which no stage before it produces (")
    assert "00-ingest produces id, text, source, domain, url, meta; 01-quality produces q_chars," in msg
    assert not out.exists(), "nothing is written before the check"
    # A signal quality writes whatever its config passes the check.
    pipe = load_pipeline(_quality_then_dedup(["q_words"]))
    check_columns(pipe.stages, [pipe.build(p) for p in pipe.stages])


def test_a_pipeline_from_a_pool_reads_the_pools_columns(tmp_path):
    """A pipeline starting from an earlier run's stage may read what that stage's shards hold, no more."""
    first = run(INGEST_ONLY, output=str(tmp_path / "first"), executor="local")
    root = Storage(first.output_dir)
    pool = [Shard(root, e["path"], e["rows"], e["sha256"]) for e in first.stages[0].manifest["outputs"]]
    dedup = load_pipeline(_quality_then_dedup(["q_words"])).stages[2]
    pipe = Pipeline("from-pool", 7, str(tmp_path), [StagePlan(0, "dedup", dedup.config, dedup.cls)])
    with pytest.raises(
        PipelineError, match=r"^stage 1 \(dedup\) reads column 'q_words', .* \(pool produces id, text,"
    ):
        run_pipeline(pipe, str(tmp_path / "second"), executor="local", pool=pool, verbose=False)
    assert not (tmp_path / "second").exists()
