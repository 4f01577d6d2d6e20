"""Ingest throughput: dataprep's ingest stage vs datatrove's JsonlReader -> ParquetWriter.

    python bench/ingest.py [--mb 200] [--workers 2]

Builds a JSONL.gz corpus of real text from ../shared/data (Python docs, code, abstracts,
fortunes, repeated with distinct ids up to --mb of text), then runs, on the same files in
the same run, (1) ``dataprep run`` of an ingest-only pipeline and (2) datatrove 0.10.1 reading
the same files and writing Parquet, both with --workers processes. Reports wall seconds,
documents and MB per second, and CPU seconds of each whole process tree (sampled with
psutil every 0.1 s, so short-lived processes are slightly under-counted on both sides).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
WORK = REPO / ".bench" / "ingest"
SOURCES = (
    "corpus/techdocs/python3.11-doc_rst_sources.jsonl.gz",
    "corpus/code/thealgorithms_python.jsonl.gz",
    "corpus/misc/debian_fortunes.jsonl.gz",
)

PEER = """
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import ParquetWriter
src, out, tasks, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
LocalPipelineExecutor(pipeline=[JsonlReader(src, glob_pattern="*.jsonl.gz"),
                                ParquetWriter(out, compression="zstd")],
                      tasks=tasks, workers=workers, logging_dir=out + "/_logs").run()
"""


def build_corpus(mb: int, files: int) -> tuple[Path, int, int]:
    """``files`` JSONL.gz files holding about ``mb`` MB of real text; returns (dir, docs, bytes)."""
    src = WORK / f"in-{mb}mb"
    meta = src / "_corpus.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        return src, m["docs"], m["bytes"]
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    docs = []
    for rel in SOURCES:
        with gzip.open(SHARED / rel, "rt", encoding="utf-8") as f:
            docs += [json.loads(line)["text"] for line in f]
    target, total, n = mb * 1_000_000, 0, 0
    outs = [gzip.open(src / f"part-{i:03d}.jsonl.gz", "wt", encoding="utf-8", compresslevel=1) for i in range(files)]
    while total < target:
        for text in docs:
            outs[n % files].write(json.dumps({"id": f"d{n}", "text": text}) + "\n")
            total += len(text.encode())
            n += 1
            if total >= target:
                break
    for f in outs:
        f.close()
    meta.write_text(json.dumps({"docs": n, "bytes": total}))
    return src, n, total


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``cmd`` and every process it starts."""
    t0 = time.monotonic()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        try:
            procs = [proc] + proc.children(recursive=True)
        except psutil.NoSuchProcess:
            procs = []
        for p in procs:
            try:
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        time.sleep(0.1)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return wall, sum(cpu.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--files", type=int, default=16)
    args = ap.parse_args()
    src, docs, nbytes = build_corpus(args.mb, args.files)
    peer_py = (
        subprocess.run(["bash", str(REPO / "bench/setup_datatrove.sh")], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    results = {}
    out = WORK / "out"
    shutil.rmtree(out, ignore_errors=True)
    pipeline = WORK / "ingest.yaml"
    pipeline.write_text(
        json.dumps(
            {
                "name": "bench-ingest",
                "stages": [
                    {
                        "stage": "ingest",
                        "shard_rows": 20000,
                        "inputs": [{"path": str(src / "*.jsonl.gz"), "source": "b"}],
                    }
                ],
            }
        )
    )
    results["dataprep"] = timed(
        [
            sys.executable,
            "-m",
            "dataprep",
            "run",
            str(pipeline),
            "--output",
            str(out / "dataprep"),
            "--num-cpus",
            str(args.workers),
            "--quiet",
        ]
    )
    results["datatrove"] = timed(
        [peer_py, "-c", PEER, str(src), str(out / "datatrove"), str(args.files), str(args.workers)]
    )
    print(
        f"corpus: {docs:,} docs, {nbytes / 1e6:.0f} MB of text in {args.files} JSONL.gz files; "
        f"{args.workers} workers; {platform.node()} {psutil.cpu_count()} cores"
    )
    print(f"{'':<10} {'wall s':>8} {'cpu s':>8} {'docs/s':>10} {'MB/s':>7} {'MB/cpu-s':>9}")
    for name, (wall, cpu) in results.items():
        print(
            f"{name:<10} {wall:>8.1f} {cpu:>8.1f} {docs / wall:>10,.0f} "
            f"{nbytes / 1e6 / wall:>7.1f} {nbytes / 1e6 / cpu:>9.2f}"
        )
    (dw, dc), (pw, pc) = results["dataprep"], results["datatrove"]
    print(f"dataprep / datatrove: {pw / dw:.2f}x wall throughput, {pc / dc:.2f}x per CPU second")


if __name__ == "__main__":
    main()
