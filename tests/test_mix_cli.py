"""``dataprep mix``: several mixtures from one finished stage, each a verifiable run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO

from dataprep.api import run
from dataprep.cli import main
from dataprep.engine.verify import verify_run

DATA = REPO / "pipelines/data/quickstart"
MIXTURES = """\
seed: 5
mixes:
  code-heavy: {weights: {code: 0.6, techdocs: 0.2, misc: 0.2}, budget_tokens: 60000, max_epochs: 2}
  by-docs: {weights: {code: 1, techdocs: 1, misc: 1}, budget_documents: 300, max_epochs: 1.5, seed: 9}
  by-source: {by: source, temperature: 2.0, budget_documents: 200}
"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory, ray_session) -> str:
    out = tmp_path_factory.mktemp("pool") / "run"
    res = run(
        {
            "name": "pool",
            "stages": [
                {
                    "stage": "ingest",
                    "shard_rows": 100,
                    "inputs": [
                        {"path": str(DATA / "code.jsonl.gz"), "domain": "code"},
                        {"path": str(DATA / "docs.jsonl.gz"), "domain": "techdocs"},
                        {"path": str(DATA / "fortunes.jsonl.gz"), "domain": "misc"},
                    ],
                }
            ],
        },
        output=str(out),
        num_cpus=2,
    )
    return res.stages[0].dir


def test_each_mixture_is_its_own_verified_run(tmp_path, pool):
    mixtures = tmp_path / "mixes.yaml"
    mixtures.write_text(MIXTURES)
    before = sorted(p.stat().st_mtime_ns for p in Path(pool).rglob("*"))
    assert main(["mix", pool, "--mixtures", str(mixtures), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert sorted(p.stat().st_mtime_ns for p in Path(pool).rglob("*")) == before  # the pool is only read
    reports = {}
    for name in ("code-heavy", "by-docs", "by-source"):
        run_dir = tmp_path / "out" / name
        assert verify_run(str(run_dir)) == []
        assert json.loads((run_dir / "pool.json").read_text())["pool"] == pool
        reports[name] = json.loads((run_dir / "00-mix/manifest.json").read_text())["stats"]["mix"]
    code_heavy = reports["code-heavy"]["domains"]
    assert abs(code_heavy["code"]["achieved_weight"] - 0.6) < 0.005
    by_docs = reports["by-docs"]
    assert by_docs["units"] == "documents" and by_docs["seed"] == 9 and by_docs["achieved_total"] == 300
    # techdocs has 63 documents: capped at 1.5 epochs (94), the others share the rest
    assert by_docs["domains"]["techdocs"]["achieved"] == 94
    by_source = reports["by-source"]["domains"]
    assert set(by_source) == {"code", "docs", "fortunes"}  # default source: the input file's name
    sizes = {s: v["available"] ** 0.5 for s, v in by_source.items()}  # p ∝ size^(1/2)
    assert all(v["weight"] == pytest.approx(sizes[s] / sum(sizes.values())) for s, v in by_source.items())


def test_a_bad_mixture_is_refused_before_any_is_written(tmp_path, pool, capsys):
    mixtures = tmp_path / "mixes.yaml"
    mixtures.write_text(MIXTURES + "  broken: {weights: {code: 1}, temperature: 2}\n")
    assert main(["mix", pool, "--mixtures", str(mixtures), "--output", str(tmp_path / "out")]) == 2
    assert "mixture 'broken'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
