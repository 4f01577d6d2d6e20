"""``dataprep audit`` on ONE big uncompressed JSONL file: before and after split reads (issue 12).

Builds one JSON Lines file of about --mb MB (real documents: Python docs, TheAlgorithms code,
Debian fortunes, repeated with distinct ids), then runs ``python -m dataprep audit`` on it
against the quickstart benchmarks with ``--num-cpus 2``, once with the code at --before (a
``git archive`` of that commit on PYTHONPATH) and once with this checkout. Reports wall and
CPU seconds of each whole process tree (psutil, as ``bench/ingest.py``) and the read tasks.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from ingest import SHARED, SOURCES, timed  # bench/ingest.py: the corpus sources and the process-tree timer

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".bench" / "split_read"


def build_file(mb: int) -> tuple[Path, int]:
    """One ``.jsonl`` of about ``mb`` MB of file bytes; returns (path, documents)."""
    path = WORK / f"big-{mb}mb.jsonl"
    meta = path.with_suffix(".json")
    if meta.exists():
        return path, json.loads(meta.read_text())["docs"]
    WORK.mkdir(parents=True, exist_ok=True)
    texts = []
    for rel in SOURCES:
        with gzip.open(SHARED / rel, "rt", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    n = size = 0
    with path.open("w", encoding="utf-8") as out:
        while size < mb * 1_000_000:
            for text in texts:
                size += out.write(json.dumps({"id": f"d{n}", "text": text}) + "\n")
                n += 1
                if size >= mb * 1_000_000:
                    break
    meta.write_text(json.dumps({"docs": n}))
    return path, n


def code_at(rev: str) -> Path:
    """The ``dataprep`` package as of ``rev`` (with the folders it links to), for PYTHONPATH."""
    dest = WORK / f"code-{rev}"
    if not dest.exists():
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "dataprep", "manifests", "filters"],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=300)
    ap.add_argument("--before", required=True, help="commit before split reads")
    ap.add_argument("--repeat", type=int, default=1, help="before/after pairs, alternating (the machine is shared)")
    args = ap.parse_args()
    data, docs = build_file(args.mb)
    print(f"{data.name}: {data.stat().st_size / 1e6:.0f} MB, {docs:,} documents; {platform.platform()}")
    for label, code in [("before", code_at(args.before)), ("after", REPO)] * args.repeat:
        out = WORK / f"audit-{label}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "dataprep", "audit", "--data", str(data), "--out", str(out)]
        cmd += ["--benchmarks", str(REPO / "pipelines/data/benchmarks"), "--num-cpus", "2", "--quiet"]
        os.environ["PYTHONPATH"] = str(code)
        wall, cpu = timed(cmd)
        units = sorted((out / "00-ingest/_work/units").glob("unit-*.json"))
        stages = [json.loads((out / d / "manifest.json").read_text()) for d in ("00-ingest", "01-decontaminate")]
        walls = ", ".join(f"{m['stage']['name']} {m['timing']['wall_seconds']:.1f} s" for m in stages)
        start = datetime.fromisoformat(stages[0]["timing"]["start"]).timestamp()
        read = max(u.stat().st_mtime for u in units) - start  # the ingest's split and read passes
        print(f"{label}: wall {wall:.1f} s ({walls}; ingest read {read:.1f} s in {len(units)} tasks), ", end="")
        print(f"CPU {cpu:.1f} s, documents {stages[0]['counts']['out']:,}, ", end="")
        print(f"first shards {[o['sha256'][:8] for o in stages[0]['outputs'][:3]]}", flush=True)


if __name__ == "__main__":
    main()
