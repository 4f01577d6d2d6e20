"""Delta storage against full copies (issue 17): stored bytes, whole-run CPU, identical tables.

The six-stage pipeline (ingest, quality, dedup, decontaminate, mix, tokenize: the quickstart
without pii) runs twice on the same corpus in one process with one Ray: ``storage: full``
and ``storage: delta``. The corpus is bench/scale.py's k-x quickstart corpus (k-1 ciphered
copies of the quickstart's documents and their planted near-duplicates), ``budget_tokens``
scaled by k. Reported per mode:

* stored bytes of every stage directory, without ``_work/`` and without the token files (the
  tokenize stage, written in full in both modes), and their ratio to the ingest stage's shard
  bytes (its ``part-*.parquet``);
* CPU seconds of the whole process tree (driver, Ray services, workers; bench/scale.py's sampler);

and checks, stage by stage and shard by shard (kept and rejected), that the delta run's
materialized tables equal the full run's as Arrow tables, and that ``export_stage`` of the
delta run gives the full run's Parquet files byte for byte.

    python bench/storage.py --scale 100 --out /tmp/storage.json   # ~300 MB of text
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from scale import base_corpus, machine, quickstart_pipeline, scaled, start, write_corpus  # noqa: E402 - bench scripts

SHARD_ROWS = 5000


def six_stages(folder: Path, k: int) -> dict:
    spec = quickstart_pipeline(folder, k)
    spec["stages"] = [s for s in spec["stages"] if s["stage"] != "pii"]
    spec["stages"][0]["shard_rows"] = SHARD_ROWS
    return spec


def stored_bytes(run: Path) -> dict[str, int]:
    """Bytes of each stage directory as stored, without ``_work/``."""
    out = {}
    for stage in sorted(p for p in run.iterdir() if p.is_dir() and p.name[:2].isdigit()):
        files = [p for p in stage.rglob("*") if p.is_file() and "_work" not in p.relative_to(stage).parts]
        out[stage.name] = sum(p.stat().st_size for p in files)
    return out


def compare(delta_run: Path, full_run: Path, work: Path) -> dict[str, int]:
    """Shards compared per stage; raises on the first difference."""
    from dataprep.api import export_stage
    from dataprep.core.storage import Storage

    a, b = Storage(str(delta_run)), Storage(str(full_run))
    checked = {}
    for stage in sorted(p.name for p in full_run.iterdir() if p.is_dir() and p.name[:2].isdigit()):
        ma, mb = a.read_json(f"{stage}/manifest.json"), b.read_json(f"{stage}/manifest.json")
        entries = list(zip(ma["outputs"] + ma["rejected"], mb["outputs"] + mb["rejected"], strict=True))
        for ea, eb in entries:
            ta, tb = a.read_parquet(ea["path"]), b.read_parquet(eb["path"])
            if not (ta.equals(tb) and ta.schema.equals(tb.schema)):
                raise AssertionError(f"{stage}: {ea['path']} materializes differently from the full copy")
        export = work / f"export-{stage}"
        export_stage(str(delta_run / stage), str(export))
        for _, eb in entries:
            rel = eb["path"].split("/", 1)[1]
            if _sha(export / rel) != eb["sha256"]:
                raise AssertionError(f"{stage}: exported {rel} differs from the full copy's bytes")
        shutil.rmtree(export)
        checked[stage] = len(entries)
    return checked


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=100, help="copies of the quickstart corpus (100: ~300 MB)")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--out", help="JSON results file")
    args = ap.parse_args()

    import ray

    from dataprep.api import run

    work, sampler = start("dp-storage-", args.num_cpus)
    domains = scaled(base_corpus(), args.scale)
    size = write_corpus(domains, work / "corpus")
    report: dict = {
        **machine(),
        "documents": sum(map(len, domains.values())),
        "text_mb": round(size / 1e6, 1),
        "modes": {},
    }
    print(f"# {report['documents']} documents, {report['text_mb']} MB of text", flush=True)
    for mode in ("full", "delta"):
        spec = {**six_stages(work / "corpus", args.scale), "storage": mode}
        cpu0, _ = sampler.window()
        t0 = time.monotonic()
        run(spec, output=str(work / mode), verbose=False, report=False, base_dir=str(REPO / "pipelines"))
        cpu1, peak = sampler.window()
        stored = stored_bytes(work / mode)
        ingest = sum(p.stat().st_size for p in (work / mode).glob("00-ingest/part-*.parquet"))
        kept = {k: v for k, v in stored.items() if not k.endswith("-tokenize")}
        report["modes"][mode] = {
            "cpu_s": round(sum(cpu1.values()) - sum(cpu0.values()), 1),
            "wall_s": round(time.monotonic() - t0, 1),
            "driver_peak_mb": round(peak["driver"] / 2**20),
            "worker_peak_mb": round(peak["worker"] / 2**20),
            "stored_bytes": stored,
            "ingest_shard_bytes": ingest,
            "stored_without_tokens": sum(kept.values()),
            "ratio_to_ingest": round(sum(kept.values()) / ingest, 3),
        }
        print(json.dumps({mode: report["modes"][mode]}), flush=True)
    report["shards_identical"] = compare(work / "delta", work / "full", work)
    sampler.running = False
    ray.shutdown()
    report["load_average_end"] = os.getloadavg()[0]
    print(json.dumps({"shards_identical": report["shards_identical"]}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
