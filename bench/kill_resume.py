"""Acceptance loop: kill -9 a run at seeded random times, resume it each time, compare with a clean run.

The quickstart pipeline (every stage) over a larger real corpus from ../shared/data (the full
TheAlgorithms Python set, the Python 3.11 docs, all Debian fortunes, plus the quickstart's web,
science and reviews files), so that one uninterrupted run lasts well over 30 s. The killed run
is started, killed with SIGKILL after a seeded random delay, and started again with ``--resume``,
``--kills`` times (odd kills hit only the driver, so its Ray workers live on and the resume must
stop them; even kills hit the whole process group); then it is resumed to the end. Its shards,
token files and reports must equal the clean run's byte for byte, its manifests too apart from
``timing``, ``verify`` must pass, and no process of any attempt may be left.

    python bench/kill_resume.py --kills 10 --seed 0
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
QUICKSTART = REPO / "pipelines" / "quickstart.yaml"
ENV = dict(os.environ, RAY_AUTH_MODE="disabled")


def inputs(shared: Path) -> dict[str, tuple[Path, str]]:
    """domain -> (file, source): the quickstart's domains, three of them from the full shared files."""
    quick, corpus = REPO / "pipelines/data/quickstart", shared / "corpus"
    return {
        "web": (quick / "web.jsonl.gz", "cc"),
        "code": (corpus / "code/thealgorithms_python.jsonl.gz", "thealgorithms"),
        "techdocs": (corpus / "techdocs/python3.11-doc_rst_sources.jsonl.gz", "pydocs"),
        "science": (quick / "science.jsonl.gz", "s2orc"),
        "misc": (corpus / "misc/debian_fortunes.jsonl.gz", "fortunes"),
        "reviews": (quick / "reviews.jsonl.gz", "movie_reviews"),
    }


def pipeline_file(work: Path, shared: Path) -> Path:
    """The quickstart with the larger inputs; paths made absolute so the file can live anywhere."""
    doc = yaml.safe_load(QUICKSTART.read_text())
    doc["name"] = "kill-resume"
    doc["tokenizer"] = str(QUICKSTART.parent / doc["tokenizer"])
    for stage in doc["stages"]:
        if stage["stage"] == "ingest":
            stage["inputs"] = [{"path": str(p), "domain": d, "source": s} for d, (p, s) in inputs(shared).items()]
        if stage["stage"] == "decontaminate":
            stage["benchmarks"] = [str(QUICKSTART.parent / b) for b in stage["benchmarks"]]
    path = work / "kill-resume.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def stage_at(run_dir: Path) -> str:
    """Where the run was when killed: the running stage and its finished shards, or 'starting'."""
    try:
        doc = json.loads((run_dir / "run.json").read_text())
    except (FileNotFoundError, ValueError):
        return "starting"
    for stage in doc["stages"]:
        if stage["status"] == "running":
            done = len(list((run_dir / stage["dir"] / "_progress").glob("*.json")))
            return f"{stage['dir']} ({done} shards done)"
    return "starting"


def command(pipeline: Path, output: Path, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "dataprep", "run", str(pipeline), "--output", str(output), "--quiet", "--no-report"]
    return cmd + ["--resume"] if resume else cmd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="scratch folder (default: a new temp dir, removed at the end)")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder (read only)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="kill-resume-"))
    work.mkdir(parents=True, exist_ok=True)
    pipeline = pipeline_file(work, args.shared)
    ref, out = work / "reference", work / "killed"
    shutil.rmtree(out, ignore_errors=True)
    done = json.loads((ref / "run.json").read_text()) if (ref / "run.json").exists() else {}
    if done.get("status") == "complete":  # a clean run left in --work by an earlier call is reused
        clean_wall = (
            dt.datetime.fromisoformat(done["end"]) - dt.datetime.fromisoformat(done["start"])
        ).total_seconds()
    else:
        shutil.rmtree(ref, ignore_errors=True)
        t0 = time.monotonic()
        subprocess.run(command(pipeline, ref, False), env=ENV, check=True, stdout=subprocess.DEVNULL)
        clean_wall = time.monotonic() - t0
    print(f"uninterrupted run: {clean_wall:.1f} s wall", flush=True)

    rng = random.Random(args.seed)
    kills, tags = [], set()
    for k in range(1, args.kills + 1):
        delay = rng.uniform(2.0, 2 * clean_wall / args.kills)  # short enough for every kill to land mid-run
        proc = subprocess.Popen(
            command(pipeline, out, k > 1),
            env=ENV,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=delay)
            print(f"kill {k}: the run finished before {delay:.1f} s", flush=True)
            break
        except subprocess.TimeoutExpired:
            pass
        where = stage_at(out)
        (os.kill if k % 2 else os.killpg)(proc.pid, signal.SIGKILL)
        proc.wait()
        lock = json.loads((out / ".lock").read_text()) if (out / ".lock").exists() else {}
        tags.add(lock.get("tag"))
        kills.append({"kill": k, "after_s": round(delay, 1), "at": where, "group": k % 2 == 0})
        print(f"kill {k}: after {delay:.1f} s, in {where}{' (process group)' if k % 2 == 0 else ' (driver)'}")

    t0 = time.monotonic()
    subprocess.run(command(pipeline, out, True), env=ENV, check=True, stdout=subprocess.DEVNULL)
    print(f"final resume: {time.monotonic() - t0:.1f} s wall", flush=True)

    sys.path.insert(0, str(REPO / "tests"))
    from run_compare import data_files, manifests

    from dataprep.engine.executor import tagged_pids
    from dataprep.engine.verify import verify_run

    same_data = data_files(out) == data_files(ref)
    same_manifests = manifests(out) == manifests(ref)
    problems = verify_run(str(out))
    left = sorted(pid for tag in tags if tag for pid in tagged_pids(tag))
    result = {
        "kills": len(kills),
        "uninterrupted_wall_s": round(clean_wall, 1),
        "files_compared": len(data_files(ref)),
        "identical_data": same_data,
        "identical_manifests_minus_timing": same_manifests,
        "verify_problems": problems,
        "processes_left": left,
        "lock_left": (out / ".lock").exists(),
        "kill_points": kills,
    }
    print(json.dumps(result, indent=1))
    ok = same_data and same_manifests and not problems and not left and not result["lock_left"]
    print(
        f"{'PASS' if ok else 'FAIL'}: {len(kills)} kill -9 + resume, output identical: {same_data and same_manifests}"
    )
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
