"""``dataprep mix``: several mixtures from one finished stage, each a verifiable, resumable run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from dataprep.api import run, write_mixtures
from dataprep.cli import main
from dataprep.engine.executor import stop_tagged, tagged_pids
from dataprep.engine.verify import verify_run

DATA = REPO / "pipelines/data/quickstart"
MIXTURES = """\
seed: 5
mixes:
  code-heavy: {weights: {code: 0.6, techdocs: 0.2, misc: 0.2}, budget_tokens: 60000, max_epochs: 2}
  by-docs: {weights: {code: 1, techdocs: 1, misc: 1}, budget_documents: 300, max_epochs: 1.5, seed: 9}
  by-source: {by: source, temperature: 2.0, budget_documents: 200}
"""


NAMES = ("code-heavy", "by-docs", "by-source")


def _pool(out: Path, shard_rows: int, executor: str = "ray") -> str:
    inputs = [
        {"path": str(DATA / "code.jsonl.gz"), "domain": "code"},
        {"path": str(DATA / "docs.jsonl.gz"), "domain": "techdocs"},
        {"path": str(DATA / "fortunes.jsonl.gz"), "domain": "misc"},
    ]
    pipeline = {"name": "pool", "stages": [{"stage": "ingest", "shard_rows": shard_rows, "inputs": inputs}]}
    return run(pipeline, output=str(out), num_cpus=2, executor=executor).stages[0].dir


@pytest.fixture(scope="module")
def pool(tmp_path_factory, ray_session) -> str:
    return _pool(tmp_path_factory.mktemp("pool") / "run", 100)


def _bytes(root: Path) -> dict[str, bytes]:
    """Every shard of every mixture (kept and rejected), by path under the mixtures folder."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet")) if "_work" not in p.parts
    }


def test_each_mixture_is_its_own_verified_run(tmp_path, pool):
    mixtures = tmp_path / "mixes.yaml"
    mixtures.write_text(MIXTURES)
    before = sorted(p.stat().st_mtime_ns for p in Path(pool).rglob("*"))
    assert main(["mix", pool, "--mixtures", str(mixtures), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert sorted(p.stat().st_mtime_ns for p in Path(pool).rglob("*")) == before  # the pool is only read
    reports = {}
    for name in NAMES:
        run_dir = tmp_path / "out" / name
        assert verify_run(str(run_dir)) == []
        assert json.loads((run_dir / "pool.json").read_text())["pool"] == pool
        reports[name] = json.loads((run_dir / "00-mix/manifest.json").read_text())["stats"]["mix"]
    code_heavy = reports["code-heavy"]["domains"]
    assert abs(code_heavy["code"]["achieved_weight"] - 0.6) < 0.005
    by_docs = reports["by-docs"]
    assert by_docs["units"] == "documents" and by_docs["seed"] == 9 and by_docs["achieved_total"] == 300
    # techdocs has 63 documents: capped at 1.5 epochs (94), the others share the rest
    assert by_docs["domains"]["techdocs"]["achieved"] == 94
    by_source = reports["by-source"]["domains"]
    assert set(by_source) == {"code", "docs", "fortunes"}  # default source: the input file's name
    sizes = {s: v["available"] ** 0.5 for s, v in by_source.items()}  # p ∝ size^(1/2)
    assert all(v["weight"] == pytest.approx(sizes[s] / sum(sizes.values())) for s, v in by_source.items())


def test_a_bad_mixture_is_refused_before_any_is_written(tmp_path, pool, capsys):
    mixtures = tmp_path / "mixes.yaml"
    mixtures.write_text(MIXTURES + "  broken: {weights: {code: 1}, temperature: 2}\n")
    assert main(["mix", pool, "--mixtures", str(mixtures), "--output", str(tmp_path / "out")]) == 2
    assert "mixture 'broken'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_failing_mixture_leaves_the_others_complete_and_resume_finishes(tmp_path, pool, capsys):
    """A budget the pool cannot meet is only found in the mix stage's prepare, after the file validated."""
    mixtures, out = tmp_path / "mixes.yaml", tmp_path / "out"
    mixtures.write_text(MIXTURES.replace("budget_documents: 300", "budget_documents: 30000"))
    assert main(["mix", pool, "--mixtures", str(mixtures), "--output", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "by-docs: failed: InfeasibleMix: mix stage: a budget of 30000 documents" in err and "--resume" in err
    assert json.loads((out / "by-docs/run.json").read_text())["status"] == "failed"
    assert json.loads((out / "by-docs/pool.json").read_text())["pool"] == pool
    assert verify_run(str(out / "code-heavy")) == [] and verify_run(str(out / "by-source")) == []
    done = {n: (out / n / "00-mix/manifest.json").stat().st_mtime_ns for n in ("code-heavy", "by-source")}

    assert main(["mix", pool, "--mixtures", str(mixtures), "--output", str(out), "--quiet"]) == 2
    assert "pass --resume" in capsys.readouterr().err

    mixtures.write_text(MIXTURES)  # the budget fixed: the finished mixtures are kept, the failed one is run
    assert main(["mix", pool, "--mixtures", str(mixtures), "--output", str(out), "--quiet", "--resume"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("(kept from the earlier run)") == 2 and "by-docs/00-mix: 300 documents" in printed
    assert {n: (out / n / "00-mix/manifest.json").stat().st_mtime_ns for n in done} == done
    assert all(verify_run(str(out / n)) == [] for n in NAMES)
    fresh = write_mixtures(pool, str(mixtures), str(tmp_path / "fresh"))
    assert all(r.error is None for r in fresh)
    assert _bytes(out) == _bytes(tmp_path / "fresh")


@pytest.mark.slow
def test_killed_mix_resumes_to_the_same_bytes_and_stops_the_dead_runs_ray(tmp_path, ray_session):
    """kill -9 of ``dataprep mix`` in its second mixture; ``--resume`` stops its Ray and finishes."""
    # in process: Ray's part here is the killed run's; pool and reference are the bytes Ray gives
    pool = _pool(tmp_path / "pool", 20, executor="local")  # 28 shards a mixture: a window to land the kill in
    mixtures = tmp_path / "mixes.yaml"
    mixtures.write_text(MIXTURES)
    reference = write_mixtures(pool, str(mixtures), str(tmp_path / "ref"), executor="local")
    assert all(r.error is None for r in reference)
    out = tmp_path / "killed"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    cmd = [sys.executable, "-m", "dataprep", "mix", pool, "--mixtures", str(mixtures), "--output", str(out), "--quiet"]
    quiet = {"env": env, "start_new_session": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen(cmd, **quiet)
    tag = None
    try:
        progress = out / "by-docs/00-mix/_progress"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and not any(progress.glob("*.json")):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # the driver only: its Ray's processes live on
        proc.wait()
        lock = json.loads((out / ".lock").read_text())
        tag = lock["tag"]
        assert (out / "code-heavy/00-mix/manifest.json").exists(), "the first mixture was complete"
        assert not (out / "by-docs/00-mix/manifest.json").exists(), "the kill must land in the second mixture"
        assert not (out / "by-source/run.json").exists()
        assert tagged_pids(tag), "the dead run left tagged Ray processes (else this test checks nothing)"
        subprocess.run(
            cmd + ["--resume"], check=True, timeout=600, **{k: quiet[k] for k in ("env", "stdout", "stderr")}
        )
        assert tagged_pids(tag) == [], "resume stops what is left of the dead run's Ray"
        assert not Path(lock["ray_temp"]).exists() and not (out / ".lock").exists()
        assert _bytes(out) == _bytes(tmp_path / "ref")
        assert all(verify_run(str(out / n)) == [] for n in NAMES)
    finally:  # whatever failed above, leave no process behind
        if tag:
            stop_tagged(tag)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
