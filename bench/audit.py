"""Audit benchmark: every benchmark under ../shared/data/benchmarks at once vs a real corpus
with planted items; ours (``dataprep audit``: a pipeline run, ingest then the decontaminate
stage, on Ray) vs datatrove 0.10.1's n-gram decontamination.

Corpus: Python docs, Gutenberg books cut in 40,000-character pieces and TheAlgorithms code
(../shared/data/corpus), plus copies of some of those documents with benchmark items planted
(tests/decontam_plants.py: verbatim, case/punctuation/whitespace changed, half an item),
written as 8 Parquet files. Both tools check the same texts against the same items (each
item's fields joined, as its "label") with 13-grams.

Rates are MB of UTF-8 corpus text per CPU second of the tasks doing the matching (the
decontaminate stage's scan and per-shard tasks, from its manifest's stats; datatrove's
single process), so they hold on a shared machine; wall time is reported too but is noisy.
Index building is timed separately (it is paid once per benchmark set, not per corpus MB).
The whole run's CPU (ingest, writing shards, every process of its local Ray) is sampled
from /proc for the processes carrying the run's tag.

    python bench/audit.py            # prints JSON; figures go to docs/BENCHMARKS.md by hand
    python bench/audit.py --copies 9 # the real documents 9 times (219 MB, 1% of documents
                                     # planted): fixed per-worker costs weigh less; no peer run
    python bench/audit.py --no-peer  # ours only
"""

from __future__ import annotations

import sys

# ``python bench/audit.py`` puts bench/ first on sys.path, where bench/tokenize.py would
# shadow the standard library's ``tokenize`` (used by inspect, hence by Ray).
if sys.path and sys.path[0] == __import__("os").path.dirname(__import__("os").path.abspath(__file__)):
    sys.path.pop(0)

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
PEER_PYTHON = REPO / ".bench" / "datatrove-venv" / "bin" / "python"
FILES = 8
PER_KIND = 100  # planted documents of each kind
NGRAM = 13


def build_corpus(folder: Path, copies: int = 1) -> tuple[list[str], list[dict], list, int]:
    """Real documents (``copies`` times) + planted copies, as Parquet files of ~4 MB.

    Returns texts, plants, sets, index bytes. Repeated documents are still real text, but
    their chance overlaps with benchmarks repeat too (more clean documents flagged).
    """
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(REPO / "tests"))
    from decontam_plants import plant, real_documents

    from dataprep.benchmarks import load_benchmarks
    from dataprep.decontam.index import build_index

    docs = real_documents(SHARED, 10_000)
    for f in sorted((SHARED / "corpus/code").glob("*.jsonl.gz")):
        docs += [json.loads(line)["text"] for line in gzip.open(f, "rt")]
    sets = load_benchmarks([str(SHARED / "benchmarks")])
    index, _ = build_index(sets, NGRAM, 8)
    planted, plants = plant(docs, sets, (index.item_keys > 0).tolist(), PER_KIND)
    texts = docs * copies + planted
    ids = [f"real{i}" for i in range(len(docs) * copies)] + [f"plant{i}" for i in range(len(planted))]
    files = FILES * copies
    step = -(-len(texts) // files)
    for k in range(files):
        pq.write_table(
            pa.table({"id": ids[k * step : (k + 1) * step], "text": texts[k * step : (k + 1) * step]}),
            folder / f"part-{k}.parquet",
        )
    records = [{"doc": f"plant{p.doc}", "item": p.item, "kind": p.kind} for p in plants]
    return texts, records, sets, index.nbytes


def ours(folder: Path, work: Path) -> dict:
    """``dataprep audit`` in this process (the driver) on a local Ray of 2 CPUs; its figures."""
    from dataprep.api import audit

    out = work / "ours"
    sampler = TaggedCPU(out / ".lock")
    t0, cpu0 = time.monotonic(), time.process_time()
    result = audit([str(folder)], [str(SHARED / "benchmarks")], str(out), ngram=NGRAM, num_cpus=2)
    driver_cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    sampler.stop()
    ingest, stage = (o.manifest for o in result.stages)
    stats = stage["stats"]
    return {
        "report": json.loads(Path(result.stages[1].dir, "contamination.json").read_text()),
        "worker_cpu_s": stats["scan_cpu_seconds"] + stats["process_cpu_seconds"],
        "scan_cpu_s": stats["scan_cpu_seconds"],
        "index_get_cpu_s": stats["index_get_cpu_seconds"],
        "process_cpu_s": stats["process_cpu_seconds"],
        "driver_cpu_s": driver_cpu,
        "ray_processes_cpu_s": sampler.cpu,
        "wall_s": wall,
        "ingest_wall_s": ingest["timing"]["wall_seconds"],
        "decontaminate_wall_s": stage["timing"]["wall_seconds"],
        "shards": len(stage["outputs"]),
        "worker_peak_rss": sampler.peak_rss,
        "driver_peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


class TaggedCPU:
    """CPU seconds and peak RSS of the processes carrying a run's tag (its local Ray's), sampled
    from /proc every 0.2 s: getrusage misses Ray's re-parented processes. The tag is read from
    the run's lock file once it exists; the driver itself is counted apart (process_time)."""

    def __init__(self, lock: Path) -> None:
        self.lock, self.cpu, self.peak_rss = lock, 0.0, 0
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from dataprep.engine.executor import RUN_TAG

        tick = os.sysconf("SC_CLK_TCK")
        needle = None
        while not self._stop.wait(0.2):
            if needle is None:
                try:
                    needle = f"{RUN_TAG}={json.loads(self.lock.read_text())['tag']}".encode()
                except (OSError, ValueError, KeyError):
                    continue
            for proc in Path("/proc").iterdir():
                try:
                    if not proc.name.isdigit() or needle not in (proc / "environ").read_bytes().split(b"\0"):
                        continue
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    self._seen[int(proc.name)] = (int(fields[11]) + int(fields[12])) / tick
                    hwm = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("VmHWM"))
                    self.peak_rss = max(self.peak_rss, int(hwm.split()[1]) * 1024)
                except (OSError, StopIteration, IndexError):
                    continue
            self.cpu = sum(self._seen.values())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def peer(corpus: Path, items: Path, out: Path) -> dict:
    python = os.environ.get("DATATROVE_PYTHON", str(PEER_PYTHON))
    if not Path(python).exists():
        raise SystemExit(f"datatrove venv missing: run `bash bench/setup_datatrove.sh` ({python})")
    done = subprocess.run(
        [python, __file__, "--peer", str(corpus), str(items), str(out)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_peer(corpus: str, items: str, out: str) -> None:
    """In datatrove's venv: its index hashing (NGramsDecontIndexer.compute_hashes logic) and
    NGramsDecontFilter over the same texts. The indexer's ``run`` needs lighteval and the HF
    hub, so the index files are written here with the indexer's own hashing functions."""
    import numpy as np
    import pyarrow.parquet as pq
    from datatrove.data import Document
    from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter
    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.text import ngrams, simplify_text
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    config = NGramsDecontConfig(n_grams=NGRAM)
    tokenizer = load_word_tokenizer("en")
    hash_func = create_hash_func(config.hash_config)
    t0 = time.process_time()
    by_task: dict[str, set] = {}
    for line in open(items):
        rec = json.loads(line)
        tokens = tokenizer.word_tokenize(simplify_text(rec["text"], config.norm_config))
        by_task.setdefault(rec["task"], set()).update(hash_func(" ".join(g)) for g in ngrams(tokens, NGRAM))
    os.makedirs(out, exist_ok=True)
    for task, hashes in by_task.items():
        np.array(sorted(hashes), dtype=config.hash_config.np_descr).tofile(os.path.join(out, f"{task}.index.hashes"))
    index_cpu = time.process_time() - t0
    filt = NGramsDecontFilter(out, config=config)
    t0 = time.process_time()
    filt.load_index_hashes()
    load_cpu = time.process_time() - t0
    flagged, size, t0 = [], 0, time.process_time()
    for f in sorted(Path(corpus).glob("*.parquet")):
        table = pq.read_table(f)
        for doc_id, text in zip(table.column("id").to_pylist(), table.column("text").to_pylist()):
            size += len(text.encode())
            keep = filt.filter(Document(text=text, id=doc_id))
            if keep is not True:
                flagged.append(doc_id)
    cpu = time.process_time() - t0
    print(
        json.dumps(
            {
                "index_cpu_s": index_cpu,
                "load_cpu_s": load_cpu,
                "filter_cpu_s": cpu,
                "bytes": size,
                "flagged": flagged,
                "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def _bench_ids(folder: Path) -> dict[tuple[str, int], str]:
    """The bench's own document ids by (file, 1-based row): what the report's file and row name."""
    import pyarrow.parquet as pq

    return {
        (f.name, row): doc_id
        for f in sorted(folder.glob("*.parquet"))
        for row, doc_id in enumerate(pq.read_table(f, columns=["id"]).column("id").to_pylist(), start=1)
    }


def _words(text: str) -> str:
    """Normalized words joined by spaces: the matched span must appear inside the item's."""
    import polars as pl

    from dataprep.decontam.ngrams import split_words

    return " " + " ".join(split_words(pl.Series([text]))[0].to_list()) + " "


def main(copies: int) -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        corpus.mkdir()
        texts, plants, sets, index_bytes = build_corpus(corpus, copies)
        items = work / "items.jsonl"
        with open(items, "w") as f:
            for b in sets:
                for it in b.items:
                    f.write(json.dumps({"task": f"{b.name}__{b.split}", "text": "\n".join(it.fields)}) + "\n")
        mb = sum(len(t.encode()) for t in texts) / 1e6
        r = ours(corpus, work)
        report = r["report"]
        ids = _bench_ids(corpus)
        for m in report["matches"]:  # the report names documents by the id rule; the bench by its own ids
            m["doc_id"] = ids[m["file"], m["row"]]
        found = {(m["doc_id"], m["benchmark"], m["split"], m["item_id"]) for m in report["matches"]}
        names = [(b.name, b.split, it.item_id) for b in sets for it in b.items]
        recall = {}
        for kind in ("verbatim", "normalized", "partial"):
            ps = [p for p in plants if p["kind"] == kind]
            recall[kind] = sum((p["doc"], *names[p["item"]]) in found for p in ps) / len(ps)
        clean = [m for m in report["matches"] if m["doc_id"].startswith("real")]
        fields = {(b.name, b.split, it.item_id): it.fields for b in sets for it in b.items}
        real_overlap = sum(
            _words(m["text"]) in _words(" ".join(fields[m["benchmark"], m["split"], m["item_id"]])) for m in clean
        )
        ours_rate = mb / r["worker_cpu_s"]
        steady_rate = mb / (r["worker_cpu_s"] - r["index_get_cpu_s"])
        out = {
            "machine": f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "corpus": {"documents": len(texts), "mb": round(mb, 1), "files": FILES * copies, "copies": copies},
            "benchmarks": {
                "sets": len(sets),
                "items": len(names),
                "indexed_items": sum(b["indexed_items"] for b in report["benchmarks"]),
                "index_mb": round(index_bytes / 1e6),
            },
            "ours": {
                "mb_per_cpu_s": round(ours_rate, 1),
                "mb_per_cpu_s_without_index_load": round(steady_rate, 1),
                "worker_cpu_s": round(r["worker_cpu_s"], 1),
                "worker_scan_cpu_s": round(r["scan_cpu_s"], 1),
                "worker_index_get_cpu_s": round(r["index_get_cpu_s"], 2),
                "worker_per_shard_cpu_s": round(r["process_cpu_s"], 1),
                "driver_cpu_s_incl_index": round(r["driver_cpu_s"], 1),
                "ray_processes_cpu_s_incl_ingest": round(r["ray_processes_cpu_s"], 1),
                "wall_s": round(r["wall_s"], 1),
                "ingest_wall_s": round(r["ingest_wall_s"], 1),
                "decontaminate_wall_s": round(r["decontaminate_wall_s"], 1),
                "shards": r["shards"],
                "ray_process_peak_rss_mb": round(r["worker_peak_rss"] / 1e6),
                "driver_peak_rss_mb": round(r["driver_peak_rss"] / 1e6),
                "recall": recall,
                "clean_documents_flagged": len({m["doc_id"] for m in clean}),
                "clean_matches": len(clean),
                "clean_matches_verified_as_item_text": real_overlap,
                "clean_matched_items": sorted({f"{m['benchmark']}/{m['item_id']}" for m in clean}),
                "common_ngrams": len(report["common_ngrams"]),
            },
        }
        if copies == 1 and "--no-peer" not in sys.argv:
            out.update(_peer_figures(peer(corpus, items, work / "dt-index"), plants, ours_rate, steady_rate))
        print(json.dumps(out, indent=1))


def _peer_figures(dt: dict, plants: list[dict], ours_rate: float, steady_rate: float) -> dict:
    """datatrove's side of the comparison, and our per-core rates as multiples of its rate."""
    dt_flagged = set(dt["flagged"])
    dt_recall = {
        k: sum(p["doc"] in dt_flagged for p in plants if p["kind"] == k) / PER_KIND
        for k in ("verbatim", "normalized", "partial")
    }
    dt_rate = dt["bytes"] / 1e6 / dt["filter_cpu_s"]
    return {
        "datatrove": {
            "mb_per_cpu_s": round(dt_rate, 2),
            "filter_cpu_s": round(dt["filter_cpu_s"], 1),
            "index_cpu_s": round(dt["index_cpu_s"], 1),
            "index_load_cpu_s": round(dt["load_cpu_s"], 1),
            "peak_rss_mb": round(dt["peak_rss"] / 1e6),
            "recall_documents": dt_recall,
            "clean_documents_flagged": sum(d.startswith("real") for d in dt_flagged),
        },
        "ratio_per_core": round(ours_rate / dt_rate, 1),
        "ratio_per_core_without_index_load": round(steady_rate / dt_rate, 1),
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        run_peer(*sys.argv[2:5])
    else:
        main(int(sys.argv[sys.argv.index("--copies") + 1]) if "--copies" in sys.argv else 1)
