"""Delta storage (issue 17): a stage stores kept rows and what it changed, and reads back full tables.

The format is checked on real text (the quickstart's web sample) through ``Storage``; the
quickstart runs in both modes on the in-process executor and every stage's materialized
tables, exports and interop with polars, duckdb and HF ``datasets`` are compared. Kill -9 and
resume, one versus two workers and the two-node cluster on S3 run in delta mode too (the
default): tests/test_engine.py, tests/test_signals.py, tests/test_cluster.py.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataprep.api import export_stage, read_stage, run, verify_run
from dataprep.core import delta
from dataprep.core.schema import normalize_table
from dataprep.core.storage import Storage

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "pipelines" / "quickstart.yaml"
WEB = REPO / "pipelines" / "data" / "quickstart" / "web.jsonl.gz"


def _web() -> pa.Table:
    with gzip.open(WEB, "rt") as f:
        texts = [json.loads(line)["text"] for line in f]
    n = len(texts)
    score = [float(len(t) % 7) - 3.0 for t in texts]
    score[1], score[2] = -0.0, float("nan")
    return normalize_table(
        pa.table(
            {
                "id": [f"web/{i}" for i in range(n)],
                "text": texts,
                "domain": ["web"] * n,
                "score": pa.array(score, pa.float64()).to_pylist()[:3] + [None] + score[4:],
                "tags": [[t[:3]] if i % 3 else [] for i, t in enumerate(texts)],
            }
        )
    )


def _write_delta(storage: Storage, rel: str, base_rel: str, base: pa.Table, out: pa.Table, rows: list[int]) -> None:
    out = normalize_table(out)
    stored, patched = delta.encode(base, out, pa.array(rows))
    spec = delta.DeltaSpec(base_rel, storage.sha256(base_rel), storage.size(base_rel), out.schema, patched)
    storage.write_parquet(rel, stored, metadata=spec.to_metadata())


def test_a_delta_reads_back_as_the_table_it_stands_for(tmp_path):
    """Kept rows (some twice), a few texts changed, a float set to -0.0, a new column, an id
    changed on the repeats: read whole or by columns, it equals the table written in full."""
    storage = Storage(str(tmp_path))
    base = _web()
    storage.write_parquet("base.parquet", base)
    rows = [0, 2, 5, 7, 11, 2, 5]
    out = base.take(rows)
    text = out.column("text").to_pylist()
    text[1] = text[1].replace("e", "<E>")
    ids = out.column("id").to_pylist()
    ids[5:] = [f"{i}#r2" for i in ids[5:]]
    score = out.column("score").to_pylist()
    score[0] = -0.0 if score[0] == 0.0 else 0.0
    out = pa.table(
        {
            "id": ids,
            "text": text,
            "domain": out.column("domain"),
            "score": pa.array(score, pa.float64()),
            "tags": out.column("tags"),
            "n_chars": [len(t) for t in text],
        }
    )
    _write_delta(storage, "d.parquet", "base.parquet", base, out, rows)
    stored = pq.read_schema(tmp_path / "d.parquet").names
    assert "domain" not in stored and "tags" not in stored  # unchanged: taken from the base
    assert {"_patch_text", "_patch_id"} <= set(stored)  # changed on a few rows: patched, not stored whole
    expected = normalize_table(out)
    assert _bits(storage.read_parquet("d.parquet")) == _bits(expected)
    for cols in (["text"], ["n_chars", "id"], ["score", "tags"], []):
        assert _bits(storage.read_parquet("d.parquet", cols)) == _bits(expected.select(cols))
    footer = storage.footer("d.parquet")
    assert footer.schema == expected.schema and footer.rows == 7
    # The same writer on the materialized table gives the bytes a full copy has.
    a, b = (
        storage.write_parquet("full.parquet", out),
        storage.write_parquet("m.parquet", storage.read_parquet("d.parquet")),
    )
    assert a.sha256 == b.sha256


def test_a_delta_over_a_delta_reads_through_the_chain(tmp_path):
    storage = Storage(str(tmp_path))
    base = _web()
    storage.write_parquet("a.parquet", base)
    first = base.take(list(range(0, base.num_rows, 2)))
    _write_delta(storage, "b.parquet", "a.parquet", base, first, list(range(0, base.num_rows, 2)))
    second = first.take([1, 4, 9]).append_column("flag", pa.array([True, False, True]))
    _write_delta(storage, "c.parquet", "b.parquet", storage.read_parquet("b.parquet"), second, [1, 4, 9])
    assert _bits(storage.read_parquet("c.parquet")) == _bits(normalize_table(second))
    assert _bits(storage.read_parquet("c.parquet", ["text", "flag"])) == _bits(
        normalize_table(second).select(["text", "flag"])
    )


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> tuple[Path, Path]:
    """The quickstart stored as deltas (the default) and as full copies, in this process."""
    root = tmp_path_factory.mktemp("modes")
    delta_run = run(str(QUICKSTART), output=str(root / "delta"), executor="local", verbose=False)
    full_run = run(
        str(QUICKSTART), output=str(root / "full"), executor="local", verbose=False, settings=["storage=full"]
    )
    return Path(delta_run.output_dir), Path(full_run.output_dir)


def _stages(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.is_dir() and p.name[:2].isdigit())


def test_every_stage_materializes_as_its_full_copy_and_exports_its_bytes(both, tmp_path):
    delta_run, full_run = both
    modes = {}
    for stage in _stages(full_run):
        manifest = json.loads((delta_run / stage / "manifest.json").read_text())
        modes[stage] = manifest["stage"]["storage"]
        for rejected in (False, True):
            a = read_stage(str(delta_run / stage), rejected=rejected)
            b = read_stage(str(full_run / stage), rejected=rejected)
            assert _bits(a) == _bits(b), (stage, rejected)
        export_stage(str(delta_run / stage), str(tmp_path / stage))
        for f in sorted((full_run / stage).glob("**/part-*.parquet")):
            rel = f.relative_to(full_run / stage)
            if rel.parts[0] not in ("_work", "_progress"):
                assert _sha(tmp_path / stage / rel) == _sha(f), (stage, rel)
    # Source and last stage in full; every stage between stores deltas.
    assert modes == {s: ("full" if s in ("00-ingest", "06-tokenize") else "delta") for s in modes}
    assert verify_run(str(delta_run)) == []


def test_deltas_store_far_less_than_full_copies(both):
    delta_run, full_run = both

    def stored(run_dir: Path, stage: str) -> int:
        return sum(p.stat().st_size for p in (run_dir / stage).glob("**/part-*.parquet") if "_work" not in p.parts)

    for stage in ("01-quality", "03-dedup", "04-decontaminate", "05-mix"):
        assert stored(delta_run, stage) < 0.35 * stored(full_run, stage), stage
    # pii stores again only the texts it redacted.
    assert stored(delta_run, "02-pii") < 0.5 * stored(full_run, "02-pii")


def test_final_and_exported_stages_are_plain_parquet_for_polars_duckdb_and_datasets(both, tmp_path):
    import datasets
    import duckdb
    import polars as pl

    delta_run, _ = both
    export_stage(str(delta_run / "03-dedup"), str(tmp_path / "dedup"), rejected=False)
    for folder, rows in ((delta_run / "06-tokenize", 711), (tmp_path / "dedup", 596)):
        files = sorted(str(p) for p in folder.glob("part-*.parquet"))
        assert pl.read_parquet(files).height == rows
        assert duckdb.sql(f"select count(*) from read_parquet({files!r})").fetchall() == [(rows,)]
        ds = datasets.Dataset.from_parquet(files, cache_dir=str(tmp_path / "hf-cache"))
        assert ds.num_rows == rows and "id" in ds.column_names
    dedup = pl.read_parquet(sorted(str(p) for p in (tmp_path / "dedup").glob("part-*.parquet")))
    assert dedup["text"].to_list() == read_stage(str(delta_run / "03-dedup"), ["text"]).column("text").to_pylist()


def test_verify_names_a_delta_whose_base_changed(both, tmp_path):
    delta_run, _ = both
    copy = tmp_path / "run"
    shutil.copytree(delta_run, copy)
    shard = copy / "01-quality" / "part-00001.parquet"
    table = pq.read_table(shard)
    pq.write_table(table.slice(0, table.num_rows - 1), shard)  # a base rewritten under its deltas
    problems = verify_run(str(copy))
    assert any(
        p.startswith("02-pii/part-00001.parquet: is a delta over 01-quality/part-00001.parquet, which changed")
        for p in problems
    ), problems


def test_storage_is_chosen_per_run_and_per_stage(tmp_path):
    spec = {
        "name": "modes",
        "storage": "delta",
        "stages": [
            {"stage": "ingest", "inputs": [{"path": str(WEB), "domain": "web", "source": "cc"}]},
            {"stage": "quality", "rule_sets": ["gopher_repetition"], "materialize": True},
            {"stage": "dedup"},
            {"stage": "decontaminate", "benchmarks": [str(REPO / "pipelines/data/benchmarks")]},
        ],
    }
    res = run(spec, output=str(tmp_path / "r"), executor="local", verbose=False)
    assert [s.manifest["stage"]["storage"] for s in res.stages] == ["full", "full", "delta", "full"]
    dedup = res.stages[2].manifest["outputs"][0]
    assert dedup["base"]["path"] == res.stages[1].manifest["outputs"][0]["path"]
    with pytest.raises(ValueError, match="materialize: true or false"):
        run(
            {**spec, "stages": [spec["stages"][0], {"stage": "dedup", "materialize": "yes"}]},
            output=str(tmp_path / "x"),
        )


def _bits(table: pa.Table) -> bytes:
    """The table as Arrow IPC bytes: equal only if bit for bit equal (NaN, -0.0 and nulls included)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sink.getvalue().to_pybytes()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
