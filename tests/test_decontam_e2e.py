"""The decontaminate stage in a pipeline and ``dataprep audit``, on Ray, with planted items."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from decontam_plants import real_documents

from dataprep.api import audit, read_stage, run
from dataprep.benchmarks import load_benchmarks
from dataprep.cli import main
from dataprep.engine.executor import tagged_pids
from dataprep.engine.manifest import validate
from dataprep.engine.verify import verify_run

pytestmark = pytest.mark.slow

PLANTED = (3, 11, 17, 25)  # documents that get a benchmark item


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data: Path) -> tuple[Path, list[str], list[str]]:
    """30 real documents (JSONL); four hold a GSM8K or HumanEval item in their middle."""
    bench = shared_data / "benchmarks"
    items = [
        i for b in load_benchmarks([str(bench / "gsm8k/test.jsonl"), str(bench / "humaneval")]) for i in b.items[:2]
    ]
    docs = [d[:6000] for d in real_documents(shared_data, 30)]
    planted_text = []
    for doc_index, item in zip(PLANTED, items):
        text = "\n".join(item.fields)
        docs[doc_index] = docs[doc_index][:3000] + "\n" + text + "\n" + docs[doc_index][3000:]
        planted_text.append(text)
    folder = tmp_path_factory.mktemp("decontam")
    path = folder / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": f"doc{i}", "text": t}) + "\n" for i, t in enumerate(docs)))
    return path, docs, planted_text


def _pipeline(corpus_path: Path, shared_data: Path, mode: str) -> dict:
    bench = shared_data / "benchmarks"
    return {
        "name": f"dc-{mode}",
        "seed": 7,
        "stages": [
            {
                "stage": "ingest",
                "shard_rows": 8,
                "inputs": [{"path": str(corpus_path), "domain": "web", "source": "t"}],
            },
            {
                "stage": "decontaminate",
                "mode": mode,
                "benchmarks": [str(bench / "gsm8k/test.jsonl"), {"path": str(bench / "humaneval")}],
            },
        ],
    }


def test_annotate_flags_exactly_the_planted_documents(ray_session, corpus, shared_data: Path, tmp_path: Path) -> None:
    path, _, _ = corpus
    result = run(_pipeline(path, shared_data, "annotate"), output=str(tmp_path / "run"))
    table = read_stage(result.stages[1].dir)
    flagged = [
        json.loads(m).get("orig_id")
        for m, b in zip(table.column("meta").to_pylist(), table.column("decontam_benchmarks").to_pylist())
        if b
    ]
    assert sorted(flagged) == sorted(f"doc{i}" for i in PLANTED)
    row = table.column("decontam_items").to_pylist()
    assert any(any(i.startswith("humaneval/test/HumanEval/") for i in r) for r in row)
    stage_dir = Path(result.stages[1].dir)
    report = json.loads((stage_dir / "contamination.json").read_text())
    assert validate(report, "audit") == []
    assert report["totals"]["contaminated_documents"] == len(PLANTED)
    assert "HumanEval/0" in (stage_dir / "contamination.md").read_text()


def test_drop_and_redact(ray_session, corpus, shared_data: Path, tmp_path: Path) -> None:
    path, docs, planted_text = corpus
    dropped = run(_pipeline(path, shared_data, "drop"), output=str(tmp_path / "drop"))
    rejected = read_stage(dropped.stages[1].dir, rejected=True)
    assert set(rejected.column("reason").to_pylist()) == {"contaminated"} and rejected.num_rows == len(PLANTED)
    assert read_stage(dropped.stages[1].dir).num_rows == len(docs) - len(PLANTED)

    redacted = run(_pipeline(path, shared_data, "redact"), output=str(tmp_path / "redact"))
    kept = read_stage(redacted.stages[1].dir)
    texts = kept.column("text").to_pylist()
    assert kept.num_rows == len(docs)  # 6,000-character documents: long pieces survive on both sides
    for text in planted_text:
        first_line = text.split("\n")[0][:60]
        assert not any(first_line in t for t in texts)
    assert sum(kept.column("decontam_removed_chars").to_pylist()) > sum(len(t) for t in planted_text)


def test_output_does_not_depend_on_worker_count(ray_session, corpus, shared_data: Path, tmp_path: Path) -> None:
    path, _, _ = corpus
    hashes = []
    for cpus in (1, 2):
        result = run(_pipeline(path, shared_data, "redact"), output=str(tmp_path / f"w{cpus}"), num_cpus=cpus)
        m = result.stages[1].manifest
        hashes.append(([o["sha256"] for o in m["outputs"]], [a["sha256"] for a in m["artifacts"]]))
    assert hashes[0] == hashes[1]


def test_audit_cli_on_jsonl_and_parquet(ray_session, corpus, shared_data: Path, tmp_path: Path, capsys) -> None:
    path, docs, _ = corpus
    pq.write_table(pa.table({"text": docs[:20]}), tmp_path / "part.parquet")  # no id column: ids are file:row
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{broken\n{"body": "no text field"}\n')
    out = tmp_path / "audit"
    code = main(
        [
            "audit",
            "--data",
            str(path),
            str(tmp_path / "part.parquet"),
            str(bad),
            "--benchmarks",
            str(shared_data / "benchmarks/gsm8k"),
            str(shared_data / "benchmarks/humaneval"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads((out / "01-decontaminate/contamination.json").read_text())
    assert validate(report, "audit") == []
    found = {(m["file"], m["row"]) for m in report["matches"]}
    expected = {("docs.jsonl", i + 1) for i in PLANTED} | {("part.parquet", i + 1) for i in PLANTED if i < 20}
    assert found == expected
    first = next(m for m in report["matches"] if m["file"] == "part.parquet")
    assert first["doc_id"] == f"part/part.parquet:{first['row']}"  # the id rule: <source>/<file>:<row>
    assert docs[first["row"] - 1][first["start"] : first["end"]] == first["text"]
    assert [(f["path"], f["documents"]) for f in report["data"]["files"]] == [
        ("docs.jsonl", len(docs)),
        ("part.parquet", 20),
        ("bad.jsonl", 1),
    ]
    unreadable = read_stage(str(out / "00-ingest"), rejected=True)
    assert [(json.loads(m)["file"], json.loads(m)["row"]) for m in unreadable.column("meta").to_pylist()] == [
        ("bad.jsonl", 2),
        ("bad.jsonl", 3),
    ]
    printed = capsys.readouterr().out
    assert "2 rows not checked (malformed_json 1, missing_text 1)" in printed and "contamination.md" in printed
    assert {f["sha256"] for b in report["benchmarks"] for f in b["files"]}
    assert verify_run(str(out)) == []  # an audit is a run: its report is hashed into the stage manifest


def test_audit_killed_and_resumed_gives_the_same_report(ray_session, shared_data: Path, tmp_path: Path) -> None:
    """kill -9 of the audit's driver alone (its Ray is left running) mid-stage, then --resume."""
    bench = shared_data / "benchmarks"
    items = [i for b in load_benchmarks([str(bench / "gsm8k/test.jsonl")]) for i in b.items[:3]]
    docs = [d[:3000] for d in real_documents(shared_data, 400)]
    for k, item in zip((5, 150, 390), items):
        docs[k] += "\n" + "\n".join(item.fields)
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    args = [str(data), "--benchmarks", str(bench / "gsm8k"), str(bench / "humaneval"), "--shard-rows", "10"]
    reference = audit(  # in process: the bytes Ray gives (test_engine: the local executor)
        [str(data)],
        [str(bench / "gsm8k"), str(bench / "humaneval")],
        str(tmp_path / "ref"),
        shard_rows=10,
        executor="local",
    )
    out = tmp_path / "killed"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    cmd = [sys.executable, "-m", "dataprep", "audit", "--data", *args, "--out", str(out), "--quiet", "--num-cpus", "1"]
    with open(tmp_path / "stderr", "w") as err:
        proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=err)
    progress = out / "01-decontaminate" / "_progress"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and len(list(progress.glob("*.json"))) < 3:
        time.sleep(0.02)
    assert proc.poll() is None, f"the audit ended before the kill: {(tmp_path / 'stderr').read_text()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "01-decontaminate" / "manifest.json").exists(), "the kill must land mid-stage"
    tag = json.loads((out / ".lock").read_text())["tag"]
    subprocess.run(
        cmd + ["--resume"], env=env, check=True, timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert tagged_pids(tag) == [], "the resumed run stops what is left of the killed one"
    for name in ("contamination.json", "contamination.md"):
        assert (out / "01-decontaminate" / name).read_bytes() == Path(reference.stages[1].dir, name).read_bytes()
    report = json.loads((out / "01-decontaminate/contamination.json").read_text())
    assert {m["row"] for m in report["matches"]} >= {6, 151, 391}
    assert verify_run(str(out)) == []
