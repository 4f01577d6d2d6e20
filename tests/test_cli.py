"""The command line as a user types it (in-process; runs on the local executor: no Ray needed)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
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


def test_help_loads_no_heavy_library():
    """``--help`` of the command and of each subcommand prints without pyarrow, polars or ray
    (pyarrow alone made ``dataprep --help`` take a second)."""
    script = """
import argparse, contextlib, io, json, sys
from dataprep.cli import build_parser, main
sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
commands = [[]] + [[name] for name in sub.choices]
for command in commands:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main([*command, "--help"])
print(json.dumps({"commands": len(commands), "heavy": sorted({"pyarrow", "polars", "ray"} & set(sys.modules))}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert found["heavy"] == [] and found["commands"] > 10


def test_a_usage_error_shows_no_credential(capsys):
    """argparse quotes the user's words; the parser redacts them (the streams are not wrapped yet)."""
    with pytest.raises(SystemExit) as exc:
        main(["verify", "runs/x", "s3://AKIAUSAGE1:usageSecret9@bucket/x?secret_key=usageSecret8"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: s3://***@bucket/x?secret_key=***" in err
    assert "usageSecret" not in err and "AKIAUSAGE1" not in err


def test_pipeline_errors_are_plain_messages(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: p\nstages:\n  - stage: ingest\n    inputs: []\n")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "stage 1 (ingest): inputs" in err and "Traceback" not in err


def test_lineage_says_which_rules_failed_and_inspect_selects_and_filters(tmp_path, capsys):
    out = tmp_path / "run"
    pipeline = {
        "name": "why",
        "stages": [
            {"stage": "ingest", "inputs": [{"path": f"{REPO}/pipelines/data/quickstart/code.jsonl.gz"}]},
            {"stage": "quality", "rule_sets": ["gopher_repetition"], "language": None},
        ],
    }
    (tmp_path / "p.json").write_text(json.dumps(pipeline))
    assert main(["run", str(tmp_path / "p.json"), "--output", str(out), "--quiet", "--executor", "local"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out / "01-quality"), "--rejected", "--columns", "id,reason,q_dup_line_*"]) == 0
    shown = capsys.readouterr().out
    first = json.loads(shown[shown.index("{") : shown.index("}") + 1])
    assert list(first) == ["id", "reason", "q_dup_line_frac", "q_dup_line_char_frac"]
    assert main(["inspect", str(out / "01-quality"), "--rejected", "--where", "q_dup_line_frac>0.3", "-n", "0"]) == 0
    some = int(capsys.readouterr().out.split()[0])
    assert main(["inspect", str(out / "01-quality"), "--rejected", "-n", "0"]) == 0
    assert 0 < some < int(capsys.readouterr().out.split()[0])

    assert main(["lineage", str(out), first["id"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    rejected = next(i for i, line in enumerate(lines) if "REJECTED" in line)
    assert f"reason={first['reason']}" in lines[rejected]
    assert lines[rejected + 1].strip().startswith(f"{first['reason']}: q_")  # the first failing rule first
    value = first["q_dup_line_frac"]
    if value > 0.3:  # every failing rule is listed, with the document's value and the threshold
        assert f"gopher_repetition.dup_line_frac: q_dup_line_frac {value:.4g} > 0.3" in [x.strip() for x in lines]
    assert all("q_" not in line for line in lines if line.strip().startswith("{"))  # signals are not dumped


def test_set_overrides_are_checked_like_yaml_and_recorded(tmp_path, capsys):
    from conftest import QUICKSTART

    out = tmp_path / "run"
    for bad, message in [
        ("dedup.thresh=0.7", "(dedup): thresh: unknown setting"),
        ("dedup.threshold=high", "(dedup): threshold: Input should be a valid number"),
        ("dedupp.threshold=0.7", "--set 'dedupp.threshold=0.7': no stage 'dedupp'; stages are 00-ingest, 01-quality"),
        ("nonsense", "--set 'nonsense': write KEY=VALUE"),
    ]:
        assert main(["run", str(QUICKSTART), "--set", bad, "--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "name: p\nstages:\n  - stage: ingest\n    inputs:\n"
        f"      - {{path: {REPO}/pipelines/data/quickstart/fortunes.jsonl.gz}}\n"
        "  - stage: quality\n    rule_sets: [c4]\n"
    )
    settings = ["quality.language.min_score=0.5", "ingest.shard_rows=7", "seed=11"]
    args = ["run", str(pipeline), "--output", str(out), "--quiet", "--executor", "local", "--no-report"]
    assert main(args + [a for s in settings for a in ("--set", s)]) == 0
    run_doc = json.loads((out / "run.json").read_text())
    assert run_doc["pipeline"]["settings"] == settings and run_doc["seed"] == 11
    quality = json.loads((out / "01-quality/manifest.json").read_text())
    assert quality["config"]["language"]["min_score"] == 0.5
    assert json.loads((out / "00-ingest/manifest.json").read_text())["config"]["shard_rows"] == 7


def test_stages_lists_every_setting_and_schema_checks_pipelines(capsys):
    import jsonschema
    import yaml

    from dataprep.stages import STAGES

    assert main(["stages"]) == 0
    listed = capsys.readouterr().out
    for name in STAGES:
        assert f"\n{name}  (" in "\n" + listed
    assert "  threshold " in listed and "language.min_score" in listed and "default 0.65" in listed

    assert main(["schema"]) == 0
    validator = jsonschema.Draft202012Validator(json.loads(capsys.readouterr().out))
    for path in sorted(REPO.glob("pipelines/**/*.yaml")):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path
    quickstart = yaml.safe_load((REPO / "pipelines/quickstart.yaml").read_text())
    quickstart["stages"][2]["treshold"] = 0.5
    assert list(validator.iter_errors(quickstart))


def test_progress_as_json_lines_and_a_summary_that_says_where_things_are(tmp_path, capsys):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "name: p\nstages:\n  - stage: ingest\n    shard_rows: 40\n    inputs:\n"
        f"      - {{path: {REPO}/pipelines/data/quickstart/fortunes.jsonl.gz}}\n"
        "  - stage: quality\n    rule_sets: [c4]\n"
    )
    out = tmp_path / "run"
    args = ["run", str(pipeline), "--output", str(out), "--log-format", "json", "--executor", "local", "--no-report"]
    assert main(args) == 0
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.err.splitlines()]
    assert [e["stage"] for e in events if e["event"] == "stage"] == ["00-ingest", "01-quality"]
    last = [e for e in events if e["event"] == "progress" and e["stage"] == "quality"][-1]
    assert last["shards_done"] == last["shards"] > 1 and last["docs"] > 0 and last["retries"] == 0
    assert {"mb_per_s", "docs_per_s", "elapsed_s", "eta_s"} <= last.keys()
    assert "rejected rows: " in captured.out and f"dataprep inspect {out}/NN-stage --rejected" in captured.out
