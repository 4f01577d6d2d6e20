"""The decontaminate stage: find benchmark items in documents; annotate, drop or redact them.

A global stage, because GPT-3's rule ignores n-grams common in ordinary text (seen in more
than ``max_doc_freq`` corpus documents), which only a whole-corpus pass can count.
``prepare`` builds the index, shares it with every task (``Executor.broadcast``: one copy
in the object store, not a load from the work dir per task), scans every shard once in
parallel (hits go to the work dir, document counts come back) and records the common
n-grams; ``process`` then needs no second scan: it reads its shard's hits, drops common
keys, locates spans in the few flagged documents and applies the mode. ``finalize`` writes
the contamination report (``contamination.json`` / ``.md``) into the stage dir:
``dataprep audit`` is an ingest of the given files followed by this stage, so its report
is this one.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from dataprep.benchmarks import BenchmarkSet, GenericSpec, load_benchmarks
from dataprep.core.contract import InputPath, ShardRef, Shared, StageConfig, WorkDir
from dataprep.decontam.index import NgramIndex
from dataprep.decontam.match import Hits, ItemMatch, drop_keys, item_matches, merge_ranges
from dataprep.decontam.prepare import BENCHMARKS, ITEMS, index_benchmarks, read_common, record_common, scan_documents
from dataprep.decontam.redact import redact
from dataprep.decontam.report import build_report, file_totals, match_rows, origins, render_markdown, to_json
from dataprep.stages.base import FinalizeContext, PrepareContext, ShardContext, ShardResult, Stage, reject

BENCHMARKS_COL, ITEMS_COL, OVERLAP_COL = "decontam_benchmarks", "decontam_items", "decontam_overlap"
FRACTION_COL, REMOVED_COL = "decontam_fraction", "decontam_removed_chars"
CONTAMINATED = "contaminated"
CORPUS, SCAN_CPU = "corpus.json", "scan_cpu.json"
REPORT = "contamination"  # the report's name in the stage dir: .json (manifests/audit.schema.json) and .md


class BenchmarkSource(StageConfig):
    """A benchmark file or folder; text fields (and id field) only for sets no family knows."""

    path: InputPath
    text_fields: list[str] | None = None
    id_field: str | None = None
    name: str | None = None
    split: str = "eval"

    def generic(self) -> GenericSpec | None:
        if self.text_fields is None:
            return None
        return GenericSpec(tuple(self.text_fields), self.id_field, self.name, self.split)


class DecontaminateConfig(StageConfig):
    """Which benchmarks, how documents are matched against them, and what happens to matches."""

    benchmarks: list[BenchmarkSource | InputPath] = Field(min_length=1)
    ngram: int = Field(13, ge=8, le=50, description="words per n-gram")
    min_item_words: int = Field(8, ge=1, description="fields/items shorter than ngram but this long are matched whole")
    max_doc_freq: int = Field(
        10, ge=0, description="n-grams in more corpus documents than this are common text, ignored"
    )
    min_overlap: float = Field(0.0, ge=0, le=1, description="share of an item's n-grams a document must hold to count")
    mode: Literal["annotate", "drop", "redact"] = "annotate"
    redact_context: int = Field(200, ge=0, description="characters cut on each side of a match")
    min_piece_chars: int = Field(200, ge=0, description="redacted pieces shorter than this are dropped")
    max_splits: int = Field(10, ge=0, description="documents cut more often than this are dropped")

    @model_validator(mode="after")
    def _short_items_fit(self) -> DecontaminateConfig:
        if self.min_item_words > self.ngram:
            raise ValueError(f"min_item_words ({self.min_item_words}) cannot exceed ngram ({self.ngram})")
        return self


class DecontaminateStage(Stage):
    name = "decontaminate"
    kind = "global"
    config_model = DecontaminateConfig
    reads = ("id", "text")
    writes = (BENCHMARKS_COL, ITEMS_COL, OVERLAP_COL, FRACTION_COL, REMOVED_COL)
    config: DecontaminateConfig

    def _sets(self) -> list[BenchmarkSet]:
        sets: dict[str, BenchmarkSet] = {}
        for src in self.config.benchmarks:
            spec = src if isinstance(src, BenchmarkSource) else BenchmarkSource(path=src)
            for b in load_benchmarks([self.run.resolve(spec.path)], spec.generic()):
                if b.key in sets and sets[b.key].files != b.files:
                    raise ValueError(
                        f"benchmark {b.key} is given twice ({sets[b.key].files[0]} and {b.files[0]}); "
                        "give each set once, or name a generic one differently"
                    )
                sets[b.key] = b
        return [sets[k] for k in sorted(sets)]

    def prepare(self, ctx: PrepareContext) -> None:
        """Index the benchmarks, scan every shard once, record the common n-grams."""
        cfg, work = self.config, ctx.work
        sets = self._sets()
        index = index_benchmarks(sets, cfg.ngram, cfg.min_item_words, work, self.run.base_dir)
        shared = ctx.executor.broadcast(index)

        def scan_shard(item: tuple[int, ShardRef, Shared[NgramIndex]]) -> dict[str, Any]:
            start = time.process_time()
            i, shard, index = item
            got = index.get()  # on Ray, the arrays are mapped from the object store, not copied
            index_cpu = time.process_time() - start
            table = shard.read(["id", "text"])
            hits, counts = scan_documents(table.column("text").to_pylist(), got)
            work.write_table(_hits_name(i), hits.to_table())
            files = file_totals(origins(table.column("id").to_pylist(), shard.path)[0], table.column("text"))
            return {"counts": counts, "files": files, "cpu": time.process_time() - start, "index_cpu": index_cpu}

        done = ctx.executor.map(scan_shard, [(i, s, shared) for i, s in enumerate(ctx.inputs)])
        record_common([d["counts"] for d in done], cfg.max_doc_freq, sets, index, work)
        files: dict[str, list[int]] = {}
        for d in done:
            for name, totals in d["files"].items():
                files[name] = [a + b for a, b in zip(files.get(name, [0, 0, 0]), totals)]
        work.write_json(
            CORPUS,
            {
                "files": [{"path": n, "documents": d, "characters": c, "bytes": b} for n, (d, c, b) in files.items()],
                "documents": sum(t[0] for t in files.values()),
                "characters": sum(t[1] for t in files.values()),
            },
        )
        work.write_json(
            SCAN_CPU, {"scan": sum(d["cpu"] for d in done), "index_get": sum(d["index_cpu"] for d in done)}
        )

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        start = time.process_time()
        cfg = self.config
        items = ctx.work.read_table(ITEMS)
        hits = drop_keys(Hits.from_table(ctx.work.read_table(_hits_name(ctx.index))), read_common(ctx.work)[0])
        texts = {i: table.column("text")[i].as_py() for i in np.unique(hits.text).tolist()}
        matches = item_matches(hits, texts, items.column("ngrams").to_numpy(), cfg.min_overlap)
        ids = table.column("id").to_pylist() if matches else []
        ctx.work.write_table(_matches_name(ctx.index), match_rows(matches, texts, ids, *origins(ids, ctx.input.path)))
        by_text: dict[int, list[ItemMatch]] = defaultdict(list)
        for m in matches:
            by_text[m.text].append(m)
        result = self._apply(table, by_text, texts, items)
        result.stats["process_cpu_seconds"] = time.process_time() - start  # per-task CPU, for bench/audit.py
        return result

    def _apply(
        self, table: pa.Table, by_text: dict[int, list[ItemMatch]], texts: dict[int, str], items: pa.Table
    ) -> ShardResult:
        """The mode's outcome: annotation columns everywhere, then drop or redact matched rows."""
        cfg, n = self.config, table.num_rows
        names = [f"{b}/{s}" for b, s in zip(items.column("benchmark").to_pylist(), items.column("split").to_pylist())]
        item_ids = items.column("item_id").to_pylist()
        benches: list[list[str]] = [[] for _ in range(n)]
        found: list[list[str]] = [[] for _ in range(n)]
        overlap: list[list[float]] = [[] for _ in range(n)]
        fraction, removed = np.zeros(n), np.zeros(n, np.int64)
        new_text = table.column("text").to_pylist() if cfg.mode == "redact" and by_text else None
        reasons: list[str | None] = [None] * n
        stats: dict[str, Any] = {"documents_contaminated": len(by_text), "by_benchmark": {}}
        for row, ms in by_text.items():
            benches[row] = sorted({names[m.item] for m in ms})
            found[row] = [f"{names[m.item]}/{item_ids[m.item]}" for m in ms]
            overlap[row] = [round(m.overlap, 6) for m in ms]
            spans = [s for m in ms for s in m.spans]
            covered = sum(e - s for s, e in merge_ranges(spans))
            fraction[row] = covered / max(1, len(texts[row]))
            for b in benches[row]:
                stats["by_benchmark"][b] = stats["by_benchmark"].get(b, 0) + 1
            if cfg.mode == "drop":
                reasons[row] = CONTAMINATED
            elif cfg.mode == "redact":
                r = redact(texts[row], spans, cfg.redact_context, cfg.min_piece_chars, cfg.max_splits)
                removed[row] = r.removed_chars
                if r.text is None:
                    reasons[row] = r.reason
                else:
                    new_text[row] = r.text  # type: ignore[index]
        out = table
        if new_text is not None:
            i = out.schema.get_field_index("text")  # keep the field as it came (non-nullable): one schema per stage
            out = out.set_column(i, out.schema.field(i), pa.array(new_text, pa.string()))
        out = (
            out.append_column(BENCHMARKS_COL, pa.array(benches, pa.list_(pa.string())))
            .append_column(ITEMS_COL, pa.array(found, pa.list_(pa.string())))
            .append_column(OVERLAP_COL, pa.array(overlap, pa.list_(pa.float64())))
            .append_column(FRACTION_COL, pa.array(fraction, pa.float64()))
            .append_column(REMOVED_COL, pa.array(removed, pa.int64()))
        )
        mask = [r is not None for r in reasons]
        stats["removed_chars"] = int(removed.sum())
        if not any(mask):
            return ShardResult(kept=out, stats=stats)
        result = reject(out, mask, [r or "" for r in reasons])
        result.stats = stats
        return result

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        """Write the contamination report; add its totals to the manifest's stats."""
        report = self.report(ctx.work, [n for n in ctx.work.list("matches/")])
        with ctx.artifacts.open(f"{REPORT}.json") as f:
            f.write(to_json(report).encode())
        with ctx.artifacts.open(f"{REPORT}.md") as f:
            f.write(render_markdown(report).encode())
        cpu = ctx.work.read_json(SCAN_CPU)
        return {
            "contaminated_items": report["totals"]["contaminated_items"],
            "common_ngrams_ignored": len(report["common_ngrams"]),
            "scan_cpu_seconds": cpu["scan"],
            "index_get_cpu_seconds": cpu["index_get"],
        }

    def report(self, work: WorkDir, match_parts: list[str]) -> dict[str, Any]:
        cfg = self.config
        items = work.read_table(ITEMS)
        parts = [work.read_table(p) for p in sorted(match_parts)]
        matches = pa.concat_tables(parts) if parts else match_rows([], [], [], [], [])
        corpus = work.read_json(CORPUS)
        return build_report(
            config={
                "ngram": cfg.ngram,
                "min_item_words": cfg.min_item_words,
                "max_doc_freq": cfg.max_doc_freq,
                "min_overlap": cfg.min_overlap,
                "mode": cfg.mode,
            },
            benchmarks=work.read_json(BENCHMARKS),
            items=items,
            item_ngrams=items.column("ngrams").to_pylist(),
            matches=matches,
            data=corpus,
            common=read_common(work)[1],
        )


def _hits_name(index: int) -> str:
    return f"hits/part-{index:05d}.parquet"


def _matches_name(index: int) -> str:
    return f"matches/part-{index:05d}.parquet"
