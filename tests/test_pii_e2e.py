"""ingest -> pii on real documents with planted PII: no value found is written anywhere in the run."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pii_plants import LINE, build

from dataprep.api import read_stage, run
from dataprep.cli import main
from dataprep.engine.verify import verify_run
from dataprep.pii import build_detectors

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def planted(shared_data, tmp_path_factory):
    docs, labels = build(n_docs=300, plants_per_type=25, negatives=100, seed=33)
    folder = tmp_path_factory.mktemp("pii-input")
    with open(folder / "docs.jsonl", "w") as f:
        for text in docs:
            f.write(json.dumps({"text": text}) + "\n")
    pii = [lb for lb in labels if lb.type != LINE and not lb.type.startswith("neg:")]
    found = build_detectors().find_all(docs)
    # values the detectors miss (recall < 1, measured in test_pii.py) stay in the text; every
    # other value must be gone from every file
    missed = {lb.value for lb in pii if not any(f.start <= lb.start and lb.end <= f.end for f in found[lb.doc])}
    return folder, sorted({lb.value for lb in pii}), missed, labels


@pytest.fixture(scope="module")
def runs(ray_session, planted, tmp_path_factory):
    folder = planted[0]
    out = tmp_path_factory.mktemp("pii-runs")
    return {
        name: Path(run(_pipeline(folder, mode), output=str(out / name), num_cpus=cpus).output_dir)
        for name, mode, cpus in (("redact", "redact", 2), ("drop", "drop", 2), ("redact-1cpu", "redact", 1))
    }


def _pipeline(folder: Path, mode: str) -> Path:
    path = folder / f"pii-{mode}.yaml"
    path.write_text(
        "name: pii\nseed: 1\nstages:\n"
        "  - stage: ingest\n    shard_rows: 60\n    inputs: [{path: docs.jsonl, domain: web, source: t}]\n"
        f"  - stage: pii\n    mode: {mode}\n"
    )
    return path


def _leaks(run_dir: Path, values: list[str]) -> dict[str, list[str]]:
    """Planted values found in any file of the run: Parquet read back as values (its pages are
    compressed, so raw bytes would hide them), every other file as text."""
    leaks: dict[str, list[str]] = {}
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(p.name == "manifest.json" for p in files)
    for p in files:
        if p.suffix == ".parquet":
            content = json.dumps(pq.read_table(p).to_pylist(), ensure_ascii=False, default=str)
        else:
            content = p.read_bytes().decode("utf-8", "replace")
        hits = [v for v in values if v in content]
        if hits:
            leaks[str(p.relative_to(run_dir))] = hits
    return leaks


@pytest.mark.parametrize("mode", ["redact", "drop"])
def test_no_found_value_anywhere_in_the_run(planted, runs, mode):
    _, values, missed, _ = planted
    run_dir = runs[mode]
    ingest = _leaks(run_dir / "00-ingest", values)
    assert len({v for vs in ingest.values() for v in vs}) >= 0.98 * len(values)  # the check can see them
    assert len(missed) <= 0.02 * len(values)
    leaked = {v for k, vs in _leaks(run_dir, values).items() if not k.startswith("00-ingest") for v in vs}
    assert leaked <= missed
    assert verify_run(str(run_dir)) == []
    stats = json.loads((run_dir / "01-pii/manifest.json").read_text())["stats"]
    assert stats["documents"] == 300 and stats["documents_touched"] >= 150
    assert set(stats["spans"]) >= {"email", "ip", "phone", "card", "iban", "ssn", "national_id", "key"}
    rejected = read_stage(str(run_dir / "01-pii"), rejected=True)
    if mode == "drop":
        assert rejected.num_rows == stats["documents_touched"]
        assert set(rejected.column("reason").to_pylist()) == {"pii"}
        assert "<EMAIL>" in "".join(rejected.column("text").to_pylist())
    else:
        assert rejected.num_rows == 0


def test_same_bytes_at_one_and_two_cpus(runs):
    one, two = runs["redact-1cpu"], runs["redact"]
    shards = sorted(p.relative_to(one) for p in (one / "01-pii").glob("part-*.parquet"))
    assert len(shards) == 5
    assert all((one / s).read_bytes() == (two / s).read_bytes() for s in shards)


def test_lineage_says_what_was_redacted_not_the_values(planted, runs, capsys):
    labels = planted[3]
    doc = next(lb.doc for lb in labels if lb.type == "email")
    assert main(["lineage", str(runs["redact"]), f"t/docs.jsonl:{doc + 1}"]) == 0
    out = capsys.readouterr().out
    spans = [lb for lb in labels if lb.doc == doc and lb.type != LINE and not lb.type.startswith("neg:")]
    assert "pii_spans" in out and "email" in out
    assert not any(lb.value in out for lb in spans)
