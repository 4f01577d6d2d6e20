"""The command line as a user types it (in-process; runs on the local executor: no Ray needed)."""

from __future__ import annotations

import gzip
import json

from conftest import REPO

from dataprep.cli import main


def test_run_with_input_override_inspect_and_lineage(tmp_path, shared_data, capsys):
    src = tmp_path / "extra.jsonl"
    with gzip.open(shared_data / "corpus/web/dolma-tests/cc_en_head-0174.jsonl.gz", "rt") as f:
        lines = f.read().splitlines()[:5]
    src.write_text("\n".join(lines + ['{"text": ""}']) + "\n")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "name: p\nstages:\n  - stage: ingest\n    inputs:\n"
        f"      - {{path: {REPO}/pipelines/data/quickstart/web.jsonl.gz, source: cc, domain: web}}\n"
    )
    out = tmp_path / "run"
    assert (
        main(["run", str(pipeline), "--input", str(src), "--output", str(out), "--quiet", "--executor", "local"]) == 0
    )
    summary = capsys.readouterr().out
    assert "00-ingest" in summary and "6" in summary.split("00-ingest")[1]
    manifest = json.loads((out / "00-ingest/manifest.json").read_text())
    assert manifest["counts"]["out"] == 5 and manifest["counts"]["by_reason"] == {"empty_text": 1}
    assert manifest["inputs"][0]["path"].endswith("extra.jsonl")

    assert main(["inspect", str(out / "00-ingest"), "-n", "2"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("5 rows; columns: id, text, source, domain, url, meta") and '"cc/extra.jsonl:1"' in shown

    assert main(["lineage", str(out), "cc/extra.jsonl:6"]) == 0
    assert "REJECTED  cc/extra.jsonl:6  reason=empty_text" in capsys.readouterr().out
    assert main(["lineage", str(out), "cc/nothing:1"]) == 1

    assert main(["run", str(pipeline), "--output", str(out)]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err


def test_pipeline_errors_are_plain_messages(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: p\nstages:\n  - stage: ingest\n    inputs: []\n")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "stage 1 (ingest): inputs" in err and "Traceback" not in err
