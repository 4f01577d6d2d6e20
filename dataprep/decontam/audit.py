"""``dataprep audit``'s work: check any Parquet/JSONL corpus against benchmarks, on Ray.

Two parallel passes over the files, one task per file: the first finds index hits and
counts each n-gram's documents (so common n-grams can be ignored, as in the stage); the
second, only over files with hits left, re-reads them and locates each match. Every task
reports the CPU seconds its worker spent, so throughput per core can be measured honestly
on a shared machine.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dataprep.benchmarks import GenericSpec, load_benchmarks
from dataprep.core.storage import StageWorkDir, Storage, expand_inputs
from dataprep.decontam.corpus import corpus_format, read_documents
from dataprep.decontam.match import Hits, drop_keys, item_matches
from dataprep.decontam.prepare import BENCHMARKS, ITEMS, index_benchmarks, read_common, record_common, scan_documents
from dataprep.decontam.report import MATCH_SCHEMA, build_report, match_columns, render_markdown, to_json
from dataprep.engine import manifest as mf
from dataprep.engine.executor import ray_runtime


@dataclass(frozen=True)
class AuditConfig:
    ngram: int = 13
    min_item_words: int = 8
    max_doc_freq: int = 10
    min_overlap: float = 0.0
    text_field: str = "text"
    id_field: str | None = "id"

    def __post_init__(self) -> None:
        if not 8 <= self.ngram <= 50:
            raise ValueError(f"--ngram must be between 8 and 50, got {self.ngram}")
        if not 1 <= self.min_item_words <= self.ngram:
            raise ValueError(
                f"--min-item-words must be between 1 and --ngram ({self.ngram}), got {self.min_item_words}"
            )
        if not 0 <= self.min_overlap <= 1:
            raise ValueError(f"--min-overlap must be between 0 and 1, got {self.min_overlap}")


@dataclass
class AuditResult:
    report: dict[str, Any]
    json_path: str
    markdown_path: str
    worker_cpu_seconds: float  # CPU of the tasks reading and matching the corpus
    worker_index_cpu_seconds: float  # of which getting the index from Ray's object store
    driver_cpu_seconds: float  # CPU of this process (benchmark loading, index, report)
    wall_seconds: float
    worker_peak_rss: int  # bytes: the largest peak resident set of a worker that ran a task
    driver_peak_rss: int


def corpus_files(paths: list[str]) -> list[tuple[str, str]]:
    """``(path, name)`` of every Parquet/JSONL file under ``paths``; an error for other files."""
    out = []
    for pattern in paths:
        found = expand_inputs(pattern)
        if not found:
            raise FileNotFoundError(f"--data {pattern!r} matches no file")
        for full, rel in found:
            corpus_format(full)
            out.append(
                (full, os.path.join(os.path.basename(pattern.rstrip("/")), rel) if os.path.isdir(pattern) else rel)
            )
    return out


def run_audit(
    data: list[str],
    benchmarks: list[str],
    out: str,
    config: AuditConfig = AuditConfig(),
    generic: GenericSpec | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
) -> AuditResult:
    """Audit ``data`` against ``benchmarks``; write ``report.json`` and ``report.md`` into ``out``."""
    t0, cpu0 = time.monotonic(), time.process_time()
    files = corpus_files(data)
    sets = load_benchmarks(benchmarks, generic)
    storage = Storage(out)
    work = StageWorkDir(storage, "_work")
    index = index_benchmarks(sets, config.ngram, config.min_item_words, work)

    def scan_file(item: tuple[tuple[str, str], Any]) -> dict[str, Any]:
        start = time.process_time()
        (path, name), index_ref = item
        shared = ray.get(index_ref)  # the arrays are mapped from the object store, not copied or parsed
        index_cpu = time.process_time() - start
        docs = read_documents(path, name, config.text_field, config.id_field)
        hits, (keys, counts) = scan_documents(docs.texts, shared)
        return {
            "hits": hits,
            "keys": keys,
            "docs": counts,
            "documents": len(docs.texts),
            "characters": sum(map(len, docs.texts)),
            "bytes": sum(len(t.encode()) for t in docs.texts),
            "unreadable": docs.unreadable,
            "cpu": time.process_time() - start,
            "index_cpu": index_cpu,
            "rss": peak_rss(),
        }

    def locate_file(item: tuple[tuple[str, str], Hits, Any]) -> dict[str, Any]:
        start = time.process_time()
        (path, name), hits, index_ref = item
        docs = read_documents(path, name, config.text_field, config.id_field)
        matches = item_matches(hits, docs.texts, ray.get(index_ref).item_keys, config.min_overlap)
        columns = match_columns(matches, docs.texts, docs.ids, [name] * len(docs.texts), docs.rows)
        return {"columns": columns, "cpu": time.process_time() - start, "rss": peak_rss()}

    with ray_runtime(address, num_cpus) as executor:
        import ray

        # One copy for all workers: loading the index from the work dir cost each worker ~2 CPU s.
        # Hits travel through the object store too: Parquet files of them cost each worker a
        # pandas import (~0.35 CPU s; pyarrow imports it to convert numpy and to read Parquet).
        index_ref = ray.put(index)
        scanned = executor.map(scan_file, [(f, index_ref) for f in files], describe=lambda t: t[0][0])
        common = record_common([(s["keys"], s["docs"]) for s in scanned], config.max_doc_freq, sets, index, work)
        hits = [drop_keys(s["hits"], common) for s in scanned]
        left = [(f, h, index_ref) for f, h in zip(files, hits) if len(h)]
        located = executor.map(locate_file, left, describe=lambda t: t[0][0])
    matches = pa.table(
        {c: [v for r in located for v in r["columns"][c]] for c in MATCH_SCHEMA.names}, schema=MATCH_SCHEMA
    )
    items = work.read_table(ITEMS)
    data_info = {
        "files": [
            {"path": name, "documents": s["documents"], "characters": s["characters"], "bytes": s["bytes"]}
            for (_, name), s in zip(files, scanned)
        ],
        "documents": sum(s["documents"] for s in scanned),
        "characters": sum(s["characters"] for s in scanned),
        "unreadable": [u for s in scanned for u in s["unreadable"]],
    }
    report = build_report(
        config={
            "ngram": config.ngram,
            "min_item_words": config.min_item_words,
            "max_doc_freq": config.max_doc_freq,
            "min_overlap": config.min_overlap,
        },
        benchmarks=work.read_json(BENCHMARKS),
        items=items,
        item_ngrams=items.column("ngrams").to_pylist(),
        matches=matches,
        data=data_info,
        common=read_common(work)[1],
        created=mf.now(),
    )
    problems = mf.validate(report, "audit")
    if problems:
        raise RuntimeError("audit report does not match manifests/audit.schema.json: " + "; ".join(problems[:5]))
    storage.write_bytes("report.json", to_json(report).encode())
    storage.write_bytes("report.md", render_markdown(report).encode())
    return AuditResult(
        report,
        storage.full("report.json"),
        storage.full("report.md"),
        sum(s["cpu"] for s in scanned) + sum(r["cpu"] for r in located),
        sum(s["index_cpu"] for s in scanned),
        time.process_time() - cpu0,
        time.monotonic() - t0,
        max(r["rss"] for r in scanned + located),
        peak_rss(),
    )


def peak_rss() -> int:
    """Peak resident set size of this process, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
