"""What a report shows, read from a finished run: run.json, stage manifests, artifacts and shards.

Everything is read through ``Storage``, so a run on object storage reports like a local one.
Shards are read one at a time and folded into counts (histograms over bins fixed before the
first shard), so memory does not grow with the run. Aggregates are plain dicts with sorted
keys: the same run always gives the same figures, which keeps the report byte-reproducible.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.core.storage import Storage

RUN_JSON = "run.json"
MANIFEST = "manifest.json"
UNKNOWN = "(unknown)"
SIGNAL_BINS = 40
# Document lengths (tokens or bytes) span 1 to 10^8: ten log bins per decade, fixed so several runs share them.
LENGTH_EDGES = np.concatenate([[0.0], np.logspace(0, 8, 81)])
# A signal whose values reach past this is a count (characters, words): binned on log1p.
LOG_SIGNAL_ABOVE = 100.0


@dataclass(frozen=True)
class Bins:
    """Histogram edges of one signal, shared by every run of a report."""

    edges: np.ndarray
    log: bool

    def count(self, values: np.ndarray) -> np.ndarray:
        values = values[~np.isnan(values)]
        clipped = np.clip(values, self.edges[0], self.edges[-1])
        return np.histogram(clipped, self.edges)[0]


@dataclass
class Stage:
    """One finished stage: its manifest, and documents/bytes kept and rejected by (domain, source)."""

    manifest: dict[str, Any]
    kept: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    rejected: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    @property
    def name(self) -> str:
        return self.manifest["stage"]["name"]

    @property
    def dir(self) -> str:
        return self.manifest["stage"]["dir"]

    @property
    def stats(self) -> dict[str, Any]:
        return self.manifest.get("stats") or {}

    def totals(self, which: str, by: str) -> dict[str, list[int]]:
        """``{domain or source: [documents, bytes]}`` of the kept or rejected rows."""
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for (domain, source), (docs, size) in getattr(self, which).items():
            key = domain if by == "domain" else source
            out[key][0] += docs
            out[key][1] += size
        return dict(sorted(out.items()))


@dataclass
class RunData:
    """Everything a report draws for one run."""

    label: str  # the run directory's name
    storage: Storage
    run: dict[str, Any]
    stages: list[Stage]
    rules: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # signal -> kept/rejected counts
    langs: dict[str, list[int]] = field(default_factory=dict)  # language -> [kept, rejected]
    tokens_by_domain: dict[str, int] = field(default_factory=dict)
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(len(LENGTH_EDGES) - 1, dtype=np.int64))
    length_unit: str = "bytes"
    contamination: dict[str, Any] | None = None
    contamination_dir: str | None = None

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    @property
    def quality(self) -> Stage | None:
        return next((s for s in self.stages if "signal_quantiles" in s.stats), None)


def open_run(path: str) -> RunData:
    """A run's run.json and the manifests of its finished stages (no shard read yet)."""
    storage = Storage(path)
    if not storage.exists(RUN_JSON):
        raise FileNotFoundError(f"{storage.display}: no {RUN_JSON} (not a run directory)")
    run = storage.read_json(RUN_JSON)
    stages = [
        Stage(storage.read_json(f"{s['dir']}/{MANIFEST}"))
        for s in run.get("stages", [])
        if storage.exists(f"{s['dir']}/{MANIFEST}")
    ]
    return RunData(storage.display.rstrip("/").rsplit("/", 1)[-1], storage, run, stages)


def signal_bins(runs: list[RunData]) -> dict[str, Bins]:
    """Edges per quality signal over the range every run's manifest quantiles span (p0 to p100)."""
    ranges: dict[str, list[float]] = {}
    for run in runs:
        quality = run.quality
        for name, q in (quality.stats["signal_quantiles"] if quality else {}).items():
            lo, hi = q.get("p0"), q.get("p100")
            if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
                continue
            old = ranges.get(name, [lo, hi])
            ranges[name] = [min(old[0], lo), max(old[1], hi)]
    bins = {}
    for name, (lo, hi) in sorted(ranges.items()):
        log = lo >= 0 and hi > LOG_SIGNAL_ABOVE
        if hi <= lo:
            hi = lo + 1.0
        edges = np.expm1(np.linspace(np.log1p(lo), np.log1p(hi), SIGNAL_BINS + 1)) if log else None
        bins[name] = Bins(edges if log else np.linspace(lo, hi, SIGNAL_BINS + 1), log)
    return bins


def collect(run: RunData, bins: dict[str, Bins]) -> RunData:
    """Read the run's shards once and fill in every aggregate of ``run``."""
    for stage in run.stages:
        tokens = "n_tokens" in stage.manifest["stage"].get("writes", [])
        for which in ("kept", "rejected"):
            entries = stage.manifest["outputs" if which == "kept" else "rejected"]
            for entry in entries:
                if tokens and which == "kept":
                    table = _token_rows(run, stage, entry["path"])
                else:
                    table = _read(run, stage, entry["path"], [*bins, "lang"] if stage is run.quality else [])
                _fold(getattr(stage, which), table)
                if stage is run.quality:
                    _fold_signals(run, table, bins, which)
                if tokens and which == "kept":
                    _fold_tokens(run, table)
    if not any("n_tokens" in s.manifest["stage"].get("writes", []) for s in run.stages) and run.stages:
        _lengths_from_bytes(run, run.stages[-1])
    run.langs = dict(sorted(run.langs.items()))
    run.signals = dict(sorted(run.signals.items()))
    run.tokens_by_domain = dict(sorted(run.tokens_by_domain.items()))
    _rules(run)
    _contamination(run)
    return run


def _read(run: RunData, stage: Stage, path: str, extra: list[str]) -> pl.DataFrame:
    """A shard's domain, source, text bytes and ``extra`` columns (those the shard has)."""
    have = _columns(run, stage)
    return _with_bytes(run.storage.read_parquet(path, [c for c in ("domain", "source", "text", *extra) if c in have]))


def _with_bytes(table: pa.Table) -> pl.DataFrame:
    """The table without its text, plus the text's UTF-8 bytes per row (texts are not kept in memory)."""
    size = pc.binary_length(table["text"].cast(pa.large_binary())).cast(pa.int64())
    return pl.from_arrow(table.drop_columns(["text"]).append_column("bytes", size))


def _columns(run: RunData, stage: Stage) -> set[str]:
    """Columns a stage's shards hold: the core ones plus every column any stage so far wrote."""
    cols = {"id", "text", "source", "domain", "url", "meta"}
    for s in run.stages[: run.stages.index(stage) + 1]:
        cols |= set(s.manifest["stage"].get("writes", []))
    return cols


def _token_rows(run: RunData, stage: Stage, path: str) -> pl.DataFrame:
    """A token shard's ``n_tokens`` joined by id to its input shard (same file name) for domain, source, bytes.

    Token shards hold only id and token ids, so the document's labels come from the shard it was made from.
    """
    tokens = pl.from_arrow(run.storage.read_parquet(path, ["id", "n_tokens"]))
    name = path.rsplit("/", 1)[-1]
    source = next((e["path"] for e in stage.manifest.get("inputs", []) if e["path"].rsplit("/", 1)[-1] == name), None)
    if source is None or not run.storage.exists(source):
        return tokens.with_columns(
            pl.lit(UNKNOWN).alias("domain"), pl.lit(UNKNOWN).alias("source"), pl.lit(0).alias("bytes")
        )
    labels = _with_bytes(run.storage.read_parquet(source, ["id", "domain", "source", "text"]))
    return tokens.join(labels, on="id", how="left", maintain_order="left").with_columns(
        pl.col("domain", "source").fill_null(UNKNOWN), pl.col("bytes").fill_null(0)
    )


def _fold(acc: dict[tuple[str, str], list[int]], frame: pl.DataFrame) -> None:
    grouped = frame.group_by("domain", "source").agg(pl.len().alias("docs"), pl.col("bytes").sum())
    for domain, source, docs, size in grouped.iter_rows():
        acc[(domain, source)][0] += int(docs)
        acc[(domain, source)][1] += int(size)


def _fold_signals(run: RunData, frame: pl.DataFrame, bins: dict[str, Bins], which: str) -> None:
    for name, b in bins.items():
        if name in frame.columns:
            counts = run.signals.setdefault(name, {w: np.zeros(SIGNAL_BINS, np.int64) for w in ("kept", "rejected")})
            counts[which] += b.count(frame.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy())
    if "lang" in frame.columns:
        for lang, n in frame.get_column("lang").fill_null(UNKNOWN).value_counts().iter_rows():
            run.langs.setdefault(lang, [0, 0])[0 if which == "kept" else 1] += int(n)


def _fold_tokens(run: RunData, frame: pl.DataFrame) -> None:
    run.length_unit = "tokens"
    for domain, n in frame.group_by("domain").agg(pl.col("n_tokens").sum()).iter_rows():
        run.tokens_by_domain[domain] = run.tokens_by_domain.get(domain, 0) + int(n)
    run.lengths += np.histogram(frame.get_column("n_tokens").to_numpy(), LENGTH_EDGES)[0]


def _lengths_from_bytes(run: RunData, last: Stage) -> None:
    """Without a tokenize stage, document lengths are the UTF-8 bytes of the last stage's documents."""
    for entry in last.manifest["outputs"]:
        sizes = _with_bytes(run.storage.read_parquet(entry["path"], ["text"])).get_column("bytes")
        run.lengths += np.histogram(sizes.to_numpy(), LENGTH_EDGES)[0]


def _rules(run: RunData) -> None:
    """The quality stage's effective rules (its ``rules.json`` artifact), with the share each removed."""
    quality = run.quality
    if quality is None:
        return
    path = next((a["path"] for a in quality.manifest.get("artifacts", []) if a["path"].endswith("/rules.json")), None)
    rules = run.storage.read_json(path) if path else []
    docs = quality.stats.get("docs") or quality.manifest["counts"]["in"] or 1
    failed = quality.stats.get("rules_failed", {})
    removed = quality.manifest["counts"]["by_reason"]
    run.rules = [
        {**r, "fail_share": failed.get(r["name"], 0) / docs, "removed_share": removed.get(r["name"], 0) / docs}
        for r in rules
    ]


def _contamination(run: RunData) -> None:
    """The first stage with a ``contamination.json`` artifact (the decontaminate stage's report)."""
    for stage in run.stages:
        path = next(
            (a["path"] for a in stage.manifest.get("artifacts", []) if a["path"].endswith("/contamination.json")), None
        )
        if path:
            run.contamination = run.storage.read_json(path)
            run.contamination_dir = stage.dir
            return
