"""Dedup benchmark: planted near-duplicates in real text, our stage vs datatrove's MinHash.

    python bench/dedup.py                    # 1x corpus + 4x memory run, writes a report
    python bench/dedup.py --scales 1 --copies 400   # quicker

The corpus is real text from ``../shared/data/corpus`` (Python docs, Gutenberg books, news)
cut into ~3 KB passages, plus edited copies of some passages at a known word-5-gram
Jaccard similarity (substituted, deleted and inserted words until the exact Jaccard of the
normalized texts hits a target drawn per bucket). Both systems run on the same JSONL files
in the same run; we report recall per Jaccard bucket, false merges below J = 0.6,
precision, CPU seconds per core (this process and all its child processes, so Ray workers
count), and peak memory (VmHWM) of the largest worker at 1x and 4x the corpus.

The peer runs in its own venv (``bash bench/setup_datatrove.sh``): this file re-runs
itself there with ``--peer`` and imports only datatrove in that mode.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "data" / "corpus"
BUCKETS = [(0.3, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.85), (0.85, 0.9), (0.9, 0.95), (0.95, 1.0001)]
PASSAGE = 3000  # characters per passage, about
FILES = 8  # JSONL files of the corpus (datatrove reads them in one task, ingest shards them)


# --------------------------------------------------------------------------- corpus


def passages(text: str) -> list[str]:
    """Paragraph-aligned pieces of about PASSAGE characters (min 500)."""
    out, cur = [], ""
    for para in re.split(r"\n\s*\n", text):
        cur = f"{cur}\n\n{para}" if cur else para
        if len(cur) >= PASSAGE:
            out.append(cur)
            cur = ""
    if len(cur) >= 500:
        out.append(cur)
    return out


def base_documents() -> list[str]:
    """Real passages: Python docs, Gutenberg books, Lee news background."""
    docs: list[str] = []
    with gzip.open(CORPUS / "techdocs" / "python3.11-doc_rst_sources.jsonl.gz", "rt") as f:
        for line in f:
            docs.extend(passages(json.loads(line)["text"]))
    for book in sorted((CORPUS / "books" / "gitenberg").glob("pg*.txt.gz")):
        with gzip.open(book, "rt", errors="replace") as f:
            docs.extend(passages(f.read()))
    with gzip.open(CORPUS / "news" / "lee_background.cor.gz", "rt") as f:
        docs.extend(line.strip() for line in f if len(line) > 500)
    return docs


def shingle_set(text: str) -> set[tuple[str, ...]]:
    """Word 5-gram set of the stage's default normalization (the ground-truth Jaccard)."""
    import polars as pl

    from dataprep.dedup.normalize import Normalization, normalize

    words = normalize(pl.Series([text]), Normalization())[0].split()
    return {tuple(words[i : i + 5]) for i in range(max(1, len(words) - 4))} if words else set()


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def edit(words: list[str], rate: float, vocab: list[str], rng: random.Random) -> list[str]:
    """Substitute, delete or insert a word at each position with probability ``rate``."""
    out = []
    for w in words:
        if rng.random() >= rate:
            out.append(w)
            continue
        op = rng.random()
        if op < 0.5:
            out.append(rng.choice(vocab))
        elif op < 0.75:
            out.extend((w, rng.choice(vocab)))
    return out


def planted_copy(text: str, target: float, vocab: list[str], rng: random.Random) -> tuple[str, float]:
    """An edited copy whose exact Jaccard with ``text`` is close to ``target`` (bisection on the edit rate)."""
    original, words = shingle_set(text), text.split()
    lo, hi, best = 0.0, 1.0, (text, 1.0)
    for _ in range(10):
        rate = (lo + hi) / 2
        seed = rng.random()
        copy = " ".join(edit(words, rate, vocab, random.Random(seed)))
        j = jaccard(original, shingle_set(copy))
        if abs(j - target) < abs(best[1] - target):
            best = (copy, j)
        lo, hi = (rate, hi) if j > target else (lo, rate)
        if abs(j - target) < 0.01:
            break
    return best


def build_corpus(out: Path, scale: int, copies: int, seed: int) -> dict:
    """Write ``out/docs-NN.jsonl.gz`` and ``out/truth.json`` (planted pairs with their Jaccard).

    Scale k > 1 adds k-1 heavily edited versions of every document (half the words
    replaced: new, distinct documents of the same lengths and vocabulary), so the corpus
    grows k-fold while the planted pairs stay the same.
    """
    rng = random.Random(seed)
    base = base_documents()
    vocab = sorted({w for d in base[:500] for w in d.split()})
    docs = [{"id": f"b{i}", "text": t} for i, t in enumerate(base)]
    pairs = []
    for n, idx in enumerate(rng.sample(range(len(base)), copies)):
        low, high = BUCKETS[n % len(BUCKETS)]
        target = rng.uniform(low, min(high, 1.0))
        text, j = (base[idx].upper(), 1.0) if target > 0.995 else planted_copy(base[idx], target, vocab, rng)
        docs.append({"id": f"c{n}", "text": text})
        pairs.append({"a": f"b{idx}", "b": f"c{n}", "jaccard": j})
    for k in range(1, scale):
        docs.extend(
            {"id": f"s{k}-{d['id']}", "text": " ".join(edit(d["text"].split(), 0.5, vocab, rng))}
            for d in docs[: len(base) + copies]
        )
    rng.shuffle(docs)
    out.mkdir(parents=True, exist_ok=True)
    for f in range(FILES):
        with gzip.open(out / f"docs-{f:02d}.jsonl.gz", "wt") as fh:
            for d in docs[f::FILES]:
                fh.write(json.dumps(d) + "\n")
    truth = {"pairs": pairs, "docs": len(docs), "bytes": sum(len(d["text"].encode()) for d in docs)}
    (out / "truth.json").write_text(json.dumps(truth))
    return truth


def load_texts(corpus: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(corpus.glob("docs-*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            for line in f:
                d = json.loads(line)
                texts[d["id"]] = d["text"]
    return texts


# --------------------------------------------------------------------------- process accounting


def _tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return out


def peak_rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def is_ray_worker(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/cmdline").read().startswith("ray::")  # Ray retitles its workers
    except OSError:
        return False


# --------------------------------------------------------------------------- our stage


def run_ours(corpus: Path, out: Path, num_cpus: int, dedup: dict) -> dict:
    """Ingest (not timed), then the dedup stage alone via --resume; CPU of the whole process tree."""
    import logging

    import ray

    from dataprep.api import read_stage, run
    from dataprep.engine.executor import WORKER_ENV

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    tmp = tempfile.mkdtemp(prefix="dedup-bench-ray-")
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=tmp,
        runtime_env={"env_vars": WORKER_ENV},
    )
    try:
        ingest = {
            "stage": "ingest",
            "shard_rows": 2000,
            "inputs": [{"path": str(corpus / "docs-*.jsonl.gz"), "source": "bench", "domain": "mixed"}],
        }
        run({"name": "dedup-bench", "seed": 1, "stages": [ingest]}, output=str(out), num_cpus=num_cpus, report=False)
        before = cpu_seconds(_tree(os.getpid()))
        t0 = time.monotonic()
        result = run(
            {"name": "dedup-bench", "seed": 1, "stages": [ingest, {"stage": "dedup", **dedup}]},
            output=str(out),
            num_cpus=num_cpus,
            resume=True,
            report=False,  # the HTML report is not what is measured
        )
        wall = time.monotonic() - t0
        pids = _tree(os.getpid())
        after = cpu_seconds(pids)
        workers = [p for p in pids if is_ray_worker(p)]
        stage = result.stages[-1]
        kept = read_stage(stage.dir, columns=["meta"])
        rej = read_stage(stage.dir, columns=["meta", "reason", "dup_of"], rejected=True)
        ingested = read_stage(result.stages[0].dir, columns=["id", "meta"])
        peak_worker = max((peak_rss_mb(p) for p in workers), default=0.0)  # before shutdown ends them
    finally:
        ray.shutdown()
    pipeline_to_orig = dict(
        zip(ingested["id"].to_pylist(), (json.loads(m)["orig_id"] for m in ingested["meta"].to_pylist()))
    )
    rep = {json.loads(m)["orig_id"]: json.loads(m)["orig_id"] for m in kept["meta"].to_pylist()}
    for m, dup in zip(rej["meta"].to_pylist(), rej["dup_of"].to_pylist()):
        rep[json.loads(m)["orig_id"]] = pipeline_to_orig[dup]
    return {
        "cpu_seconds": sum(after.get(p, 0) - before.get(p, 0) for p in pids),
        "wall_seconds": wall,
        "peak_worker_mb": peak_worker,
        "peak_driver_mb": peak_rss_mb(os.getpid()),
        "stats": stage.manifest["stats"],
        "rep": rep,
    }


def our_signature_rate(texts: list[str]) -> dict:
    """Text -> exact digest + MinHash signature in this process (1 core), default config."""
    import polars as pl

    from dataprep.dedup.settings import DedupConfig
    from dataprep.dedup.signatures import sketch

    series = pl.Series(texts)
    t0 = time.process_time()
    sketch(series, DedupConfig())
    cpu = time.process_time() - t0
    return {"cpu_seconds": cpu, "mb_per_s": sum(len(t.encode()) for t in texts) / 1e6 / cpu}


# --------------------------------------------------------------------------- the peer

PEER_PYTHON = REPO / ".bench" / "datatrove-venv" / "bin" / "python"


def run_peer(corpus: Path, work: Path) -> dict:
    python = os.environ.get("DATATROVE_PYTHON", str(PEER_PYTHON))
    if not Path(python).exists():
        raise SystemExit(f"datatrove venv missing: run `bash bench/setup_datatrove.sh` ({python})")
    done = subprocess.run(
        [python, __file__, "--peer", str(corpus), str(work)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def peer_main(corpus: str, work: str) -> None:
    """In datatrove's venv: the 4-stage MinHash dedup (its defaults: 5-grams, 14 x 8, xxhash 64)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    cfg = MinhashConfig()
    w = Path(work)
    reader = lambda: JsonlReader(corpus, glob_pattern="docs-*.jsonl.gz")  # noqa: E731
    stages = {
        "signatures": [reader(), MinhashDedupSignature(output_folder=str(w / "sigs"), config=cfg)],
        "buckets": [MinhashDedupBuckets(input_folder=str(w / "sigs"), output_folder=str(w / "buckets"), config=cfg)],
        "cluster": [
            MinhashDedupCluster(
                input_folder=str(w / "buckets"), output_folder=str(w / "remove"), config=cfg, save_cluster_id=True
            )
        ],
        "filter": [
            reader(),
            MinhashDedupFilter(
                input_folder=str(w / "remove"), load_cluster_ids=True, exclusion_writer=JsonlWriter(str(w / "removed"))
            ),
            JsonlWriter(str(w / "kept")),
        ],
    }
    cpu = {}
    for name, steps in stages.items():
        tasks = cfg.num_buckets if name == "buckets" else 1
        t0 = time.process_time()
        LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=1, logging_dir=str(w / "logs" / name)).run()
        cpu[name] = time.process_time() - t0
    clusters = {}
    for sub in ("kept", "removed"):
        for path in sorted((w / sub).glob("*.jsonl.gz")):
            with gzip.open(path, "rt") as f:
                for line in f:
                    d = json.loads(line)
                    cid = d.get("metadata", {}).get("minhash_cluster_id")
                    clusters[d["id"]] = [sub == "removed", cid]
    print(json.dumps({"cpu": cpu, "docs": clusters}))


# --------------------------------------------------------------------------- quality of the result


def score(
    pairs: list[dict], same: callable, removals: list[tuple[str, str]], sets: callable, threshold: float = 0.8
) -> dict:
    """Recall per bucket, false merges below 0.6, and precision of removals; recall at
    ``threshold`` + 0.02 and merges below ``threshold`` - 0.1 (issue 15's targets).

    ``same(a, b)``: did the system put a and b in one cluster. ``removals``: (removed, kept)
    pairs; precision counts those whose exact Jaccard is at least 0.7 (threshold - 0.1).
    """
    per_bucket = {}
    for low, high in BUCKETS:
        inside = [p for p in pairs if low <= p["jaccard"] < high]
        hits = sum(same(p["a"], p["b"]) for p in inside)
        per_bucket[f"{low:.2f}-{min(high, 1.0):.2f}"] = {
            "pairs": len(inside),
            "recall": round(hits / max(1, len(inside)), 4),
        }
    hi = [p for p in pairs if p["jaccard"] >= 0.85]
    lo = [p for p in pairs if p["jaccard"] < 0.6]
    above = [p for p in pairs if p["jaccard"] >= threshold + 0.02]
    below = [p for p in pairs if p["jaccard"] < threshold - 0.1]
    good = sum(jaccard(sets(r), sets(k)) >= 0.7 for r, k in removals)
    return {
        "per_bucket": per_bucket,
        "recall_j_ge_0.85": round(sum(same(p["a"], p["b"]) for p in hi) / max(1, len(hi)), 4),
        "merged_j_lt_0.6": round(sum(same(p["a"], p["b"]) for p in lo) / max(1, len(lo)), 4),
        f"recall_j_ge_{threshold + 0.02:.2f}": round(sum(same(p["a"], p["b"]) for p in above) / max(1, len(above)), 4),
        f"merged_j_lt_{threshold - 0.1:.2f}": round(sum(same(p["a"], p["b"]) for p in below) / max(1, len(below)), 4),
        "removed": len(removals),
        "precision": round(good / max(1, len(removals)), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer", nargs=2, metavar=("CORPUS", "WORK"), help=argparse.SUPPRESS)
    ap.add_argument("--scales", default="1,4", help="corpus sizes to run ours at (the peer runs at the first)")
    ap.add_argument("--copies", type=int, default=2000, help="planted copies")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--work", default=None, help="scratch folder (default: a temp dir)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--dedup", default="{}", help='dedup stage config as JSON, e.g. \'{"verify": "jaccard"}\'')
    ap.add_argument("--no-peer", action="store_true", help="run ours only")
    args = ap.parse_args()
    # One thread per process, as in the stage's Ray workers, so CPU seconds are per core.
    os.environ.update({"POLARS_MAX_THREADS": "1", "RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    if args.peer:
        peer_main(*args.peer)
        return
    sys.path.insert(0, str(REPO))
    work = Path(args.work or tempfile.mkdtemp(prefix="dedup-bench-"))
    report: dict = {
        "machine": f"{platform.node()} {os.cpu_count()} cores, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_avg_at_start": os.getloadavg()[0],
        "scales": {},
    }
    memo: dict[str, set] = {}
    for n, scale in enumerate(int(s) for s in args.scales.split(",")):
        corpus = work / f"corpus-{scale}x"
        truth = build_corpus(corpus, scale, args.copies, seed=7)
        texts = load_texts(corpus)
        sets = lambda i: memo.setdefault(i, shingle_set(texts[i]))  # noqa: E731
        ours = run_ours(corpus, work / f"run-{scale}x", args.num_cpus, json.loads(args.dedup))
        rep = ours.pop("rep")
        entry = {"docs": truth["docs"], "mb": round(truth["bytes"] / 1e6, 2), "ours": ours}
        entry["ours"]["mb_per_cpu_s"] = round(truth["bytes"] / 1e6 / ours["cpu_seconds"], 3)
        entry["ours"]["quality"] = score(
            truth["pairs"],
            lambda a, b: rep[a] == rep[b],
            [(d, k) for d, k in rep.items() if d != k],
            sets,
            json.loads(args.dedup).get("threshold", 0.8),
        )
        if n == 0 and not args.no_peer:
            entry["ours"]["signatures"] = our_signature_rate(list(texts.values()))
            peer = run_peer(corpus, work / "peer")
            docs = peer["docs"]
            cluster_of = {i: c for i, (_, c) in docs.items() if c is not None and c >= 0}  # -1: no cluster
            kept_of = {c: i for i, (removed, c) in docs.items() if not removed and i in cluster_of}
            peer_cpu = sum(peer["cpu"].values())
            entry["datatrove"] = {
                "cpu_seconds": peer["cpu"],
                "mb_per_cpu_s": round(truth["bytes"] / 1e6 / peer_cpu, 3),
                "signature_mb_per_cpu_s": round(truth["bytes"] / 1e6 / peer["cpu"]["signatures"], 3),
                "quality": score(
                    truth["pairs"],
                    lambda a, b: a in cluster_of and cluster_of.get(a) == cluster_of.get(b),
                    [(i, kept_of[c]) for i, (removed, c) in docs.items() if removed and c in kept_of],
                    sets,
                ),
            }
            entry["ratios"] = {
                "signatures_per_core": round(
                    entry["ours"]["signatures"]["mb_per_s"] / entry["datatrove"]["signature_mb_per_cpu_s"], 1
                ),
                "whole_stage_per_core": round(entry["ours"]["mb_per_cpu_s"] / entry["datatrove"]["mb_per_cpu_s"], 1),
            }
        report["scales"][f"{scale}x"] = entry
        print(json.dumps({f"{scale}x": entry}, indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
