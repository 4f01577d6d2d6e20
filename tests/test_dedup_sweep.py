"""dedup-sweep from stored signatures, partition by partition; and what a dedup pass leaves in _work."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from pathlib import Path

import pytest
from dedup_corpus import pages

from dataprep.api import run
from dataprep.cli import main
from dataprep.dedup.lsh import Banding
from dataprep.dedup.sweep import Setting, open_stage, sweep
from dataprep.engine.executor import LocalExecutor


def _pipeline(folder: Path, shared_data: Path, **dedup) -> dict:
    """Two JSONL files of real pages; b holds an exact, a near and a far copy of pages in a."""
    texts = pages(shared_data)
    rng = random.Random(1)
    near = " ".join(w if rng.random() > 0.01 else "x" for w in texts[1].split())
    far = " ".join(w if rng.random() > 0.3 else "x" for w in texts[2].split())
    inputs = []
    for name, docs in (("a", texts[:12]), ("b", [texts[0].upper(), near, far, *texts[12:]])):
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
        inputs.append({"path": str(path), "source": name, "domain": name})
    return {
        "name": "sweep-test",
        "seed": 3,
        "stages": [{"stage": "ingest", "shard_rows": 5, "inputs": inputs}, {"stage": "dedup", **dedup}],
    }


@pytest.mark.slow
def test_sweep_over_many_partitions_equals_one_and_the_stage(shared_data, tmp_path):
    cfg = _pipeline(tmp_path, shared_data, partitions=1, keep_signatures=True)
    stage = run(cfg, output=str(tmp_path / "r"), executor="local").stages[1]
    stored = open_stage(stage.dir)
    settings = [Setting(Banding(18, 7), 0.8), Setting(Banding(9, 13), 0.8), Setting(Banding(20, 5), 0.5)]
    one = sweep(stored, settings, LocalExecutor())
    many = sweep(stored, settings, LocalExecutor(), memory_per_task=20_000)  # ~6 KB a document: 8 partitions
    assert stored.config.partition_count(stored.documents) == 1
    assert stored.config.model_copy(update={"partitions": None, "memory_per_task": 20_000}).partition_count(27) >= 8
    assert many == one
    sketched = dataclasses.replace(stored, work=None, parts=0)  # as if not kept: sketched again from the inputs
    assert sweep(sketched, settings, LocalExecutor(), memory_per_task=20_000) == one
    assert one[0]["removed"] == stage.manifest["counts"]["rejected"] == 2
    assert one[0]["candidate_pairs"] == stage.manifest["stats"]["candidate_pairs"]
    assert not (Path(stage.dir) / "_work" / "sweep").exists()  # its scratch is gone


@pytest.mark.slow
def test_a_pass_leaves_only_stats_decisions_and_signatures_if_kept(shared_data, tmp_path, capsys):
    """By default a pass leaves its stats and per-shard decisions only; dedup-sweep then sketches
    the inputs again and reports what it reports from kept signatures."""
    kept = run(
        _pipeline(tmp_path, shared_data, partitions=3, keep_signatures=True),
        output=str(tmp_path / "k"),
        executor="local",
    ).stages[1]
    left = {p.relative_to(Path(kept.dir) / "_work").parts[1:2] for p in _files(kept.dir)}
    assert left == {("sigs",), ("shard_decisions",), ("stats.json",), ()}  # and current.json, _prepared.json
    dropped = run(_pipeline(tmp_path, shared_data, partitions=3), output=str(tmp_path / "d"), executor="local")
    dropped = dropped.stages[1]
    assert dropped.manifest["counts"] == kept.manifest["counts"]
    decisions = {f"{i:05d}" for i in range(len(dropped.manifest["outputs"]))}
    assert {p.name for p in _files(dropped.dir)} == {"stats.json", "current.json", "_prepared.json", *decisions}
    capsys.readouterr()
    assert main(["dedup-sweep", kept.dir, "--threshold", "0.6", "0.8"]) == 0
    from_kept = capsys.readouterr().out
    assert main(["dedup-sweep", dropped.dir, "--threshold", "0.6", "0.8"]) == 0
    assert capsys.readouterr().out == from_kept.replace(kept.dir, dropped.dir)
    shutil.rmtree(Path(dropped.dir).parent / "00-ingest")
    assert main(["dedup-sweep", dropped.dir]) != 0
    err = capsys.readouterr().err.strip()
    assert "00-ingest/part-00000.parquet is gone" in err and "keep_signatures: true" in err
    assert len(err.splitlines()) == 1


def _files(stage_dir: str) -> list[Path]:
    return [p for p in (Path(stage_dir) / "_work").rglob("*") if p.is_file()]


class _Killed(BaseException):
    """The process dying mid-map (a BaseException: no task-failure handling catches it)."""


@pytest.mark.slow
def test_a_pass_killed_in_any_phase_resumes_to_the_same_bytes(shared_data, tmp_path, monkeypatch):
    """Killed at each map of the dedup stage (a phase, a component round, the shards), then resumed:
    the deleted scratch of finished phases is never needed again."""
    cfg = _pipeline(tmp_path, shared_data, partitions=2)
    ref = run(cfg, output=str(tmp_path / "ref"), executor="local").stages[1]
    calls: list[int] = []
    real_map = LocalExecutor.map

    def counting(self, fn, items, **kw):
        calls.append(1)
        return real_map(self, fn, items, **kw)

    monkeypatch.setattr(LocalExecutor, "map", counting)
    run(cfg, output=str(tmp_path / "count"), executor="local")
    total = len(calls)
    for kill_at in range(2, total + 1, 3):  # the ingest's maps come first; every third later map
        calls.clear()

        def dying(self, fn, items, kill_at=kill_at, **kw):
            calls.append(1)
            if len(calls) == kill_at:
                raise _Killed
            return real_map(self, fn, items, **kw)

        out = str(tmp_path / f"k{kill_at}")
        monkeypatch.setattr(LocalExecutor, "map", dying)
        with pytest.raises(_Killed):
            run(cfg, output=out, executor="local")
        monkeypatch.setattr(LocalExecutor, "map", real_map)
        got = run(cfg, output=out, executor="local", resume=True, force_unlock=True).stages[1]
        for key in ("outputs", "rejected", "counts", "stats"):
            assert got.manifest[key] == ref.manifest[key], (kill_at, key)


@pytest.mark.slow
def test_a_finished_stage_processed_again_on_resume_removes_the_same_rows(shared_data, tmp_path):
    """Resumed with a stage after it, dedup is no longer the last stage and its shards become
    deltas: they are processed again without a new pass, from the decisions the pass kept."""
    cfg = _pipeline(tmp_path, shared_data, partitions=2)
    out = str(tmp_path / "r")
    alone = run(cfg, output=out, executor="local").stages[1]
    cfg["tokenizer"] = str(Path(__file__).parents[1] / "pipelines" / "tokenizers" / "quickstart-bpe4k.json")
    cfg["stages"].append({"stage": "tokenize"})
    again = run(cfg, output=out, executor="local", resume=True).stages[1]
    assert again.manifest["stage"]["storage"] == "delta" and alone.manifest["stage"]["storage"] == "full"
    assert again.manifest["counts"] == alone.manifest["counts"] and again.manifest["counts"]["rejected"] == 2
