"""The dedup stage end to end on real text with planted copies: decisions, stats, determinism."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

from dataprep.api import read_stage, run
from dataprep.config import PipelineError, load_pipeline


@pytest.fixture(scope="module")
def inputs(shared_data, tmp_path_factory) -> dict[str, Path]:
    """Two JSONL files of real Python docs pages; file b holds planted copies of pages in a."""
    pages = []
    with gzip.open(shared_data / "corpus" / "techdocs" / "python3.11-doc_rst_sources.jsonl.gz", "rt") as f:
        for line in f:
            text = json.loads(line)["text"]
            if 300 <= len(text.split()) <= 3000:
                pages.append(text)
            if len(pages) == 24:
                break
    rng = random.Random(1)
    near = " ".join(w if rng.random() > 0.01 else "x" for w in pages[1].split())  # J ~ 0.95, shorter
    far = " ".join(w if rng.random() > 0.3 else "x" for w in pages[2].split())  # J < 0.2
    planted = [pages[0].upper(), near, far] + pages[12:]
    folder = tmp_path_factory.mktemp("dedup-in")
    files = {}
    for name, texts in (("a", pages[:12]), ("b", planted)):
        files[name] = folder / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return files


def pipeline(files: list[Path], **dedup) -> dict:
    ingest = [{"path": str(f), "source": f.stem, "domain": "docs" if f.stem == "a" else "copies"} for f in files]
    return {
        "name": "dedup-test",
        "seed": 3,
        "stages": [
            {"stage": "ingest", "shard_rows": 5, "inputs": ingest},
            {"stage": "dedup", "partitions": 3, **dedup},
        ],
    }


def rows_by_id(stage_dir: str, rejected: bool = False) -> pa.Table:
    table = read_stage(stage_dir, rejected=rejected)
    return table.sort_by("id")


@pytest.mark.slow
def test_dedup_removes_planted_copies_identically_for_any_worker_count_and_input_order(ray_session, inputs, tmp_path):
    one = run(pipeline([inputs["a"], inputs["b"]]), output=str(tmp_path / "one"), num_cpus=1).stages[1]
    two = run(pipeline([inputs["a"], inputs["b"]]), output=str(tmp_path / "two"), num_cpus=2).stages[1]
    swapped = run(pipeline([inputs["b"], inputs["a"]]), output=str(tmp_path / "swap"), num_cpus=2).stages[1]

    rejected = rows_by_id(one.dir, rejected=True)
    decided = {r["id"]: (r["reason"], r["dup_of"]) for r in rejected.select(["id", "reason", "dup_of"]).to_pylist()}
    # the uppercase copy ties on length, so the smaller id stays; the near copy is shorter
    assert decided == {"b/b.jsonl:1": ("exact_dup", "a/a.jsonl:1"), "b/b.jsonl:2": ("near_dup", "a/a.jsonl:2")}
    stats = one.manifest["stats"]
    assert stats["clusters"] == 2 and stats["cluster_sizes"] == {"2": 2}
    assert stats["removed_fraction_by_domain"] == {"copies": round(2 / 15, 6), "docs": 0.0}
    assert (stats["bands"], stats["rows"]) == (18, 7) and stats["candidate_probability_at_threshold"] > 0.98
    assert stats["predicted_recall"]["0.82"] >= 0.95 and stats["predicted_recall"]["0.70"] <= 0.01

    # byte-identical shards whatever the worker count
    assert [o["sha256"] for o in one.manifest["outputs"]] == [o["sha256"] for o in two.manifest["outputs"]]
    assert [o["sha256"] for o in one.manifest["rejected"]] == [o["sha256"] for o in two.manifest["rejected"]]
    # one partition: phase 1 and the exact checks run on groups of two shards (6 shards, at most
    # 4 groups per partition), and the shards are byte-identical still
    grouped = run(pipeline([inputs["a"], inputs["b"]], partitions=1), output=str(tmp_path / "grouped")).stages[1]
    assert len(one.manifest["outputs"]) == 6
    assert [o["sha256"] for o in grouped.manifest["outputs"]] == [o["sha256"] for o in one.manifest["outputs"]]
    assert [o["sha256"] for o in grouped.manifest["rejected"]] == [o["sha256"] for o in one.manifest["rejected"]]
    # the same rows and decisions when the inputs are listed the other way round
    assert rows_by_id(swapped.dir).equals(rows_by_id(one.dir))
    assert rows_by_id(swapped.dir, rejected=True).equals(rejected)
    assert swapped.manifest["stats"] == stats == two.manifest["stats"]


@pytest.mark.slow
def test_keep_rule_exact_jaccard_and_sweep(inputs, tmp_path, capsys):
    stage = run(
        pipeline([inputs["a"], inputs["b"]], keep=["-length"], verify="jaccard"),
        output=str(tmp_path / "r"),
        executor="local",  # decisions only: any worker count gives these bytes (the test above)
    ).stages[1]
    rejected = rows_by_id(stage.dir, rejected=True)
    # shortest first now: the near copy stays and the original goes
    assert {(r["id"], r["reason"], r["dup_of"]) for r in rejected.select(["id", "reason", "dup_of"]).to_pylist()} == {
        ("a/a.jsonl:2", "near_dup", "b/b.jsonl:2"),
        ("b/b.jsonl:1", "exact_dup", "a/a.jsonl:1"),
    }
    assert stage.manifest["stats"]["verified_pairs"] == 1  # the near copy; the far one fails exact Jaccard

    from dataprep.cli import main

    assert main(["dedup-sweep", stage.dir, "--threshold", "0.5", "0.8", "--bands-rows", "9x13", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_setting = {(r["bands"], r["rows"], r["threshold"]): r for r in report["settings"]}
    at_default = by_setting[(stage.manifest["stats"]["bands"], stage.manifest["stats"]["rows"], 0.8)]
    assert at_default["removed"] == stage.manifest["counts"]["rejected"] == 2
    # distinct pairs, however many partitions (3 here) and bands found them
    assert at_default["candidate_pairs"] == stage.manifest["stats"]["candidate_pairs"]
    assert all(r["removed"] >= 1 for r in report["settings"])  # the exact copy at every setting


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"bands": 10}, "give both bands and rows"),
        ({"bands": 20, "rows": 10}, "exceeds num_perm"),
        ({"treshold": 0.7}, "treshold"),
        ({"threshold": 1.5}, "threshold"),
    ],
)
def test_bad_dedup_config_is_reported_before_running(inputs, bad, message) -> None:
    with pytest.raises(PipelineError, match=message):
        load_pipeline(pipeline([inputs["a"]], **bad))


@pytest.mark.slow
def test_unverified_candidates_are_all_edges(inputs, tmp_path):
    stage = run(
        pipeline([inputs["a"], inputs["b"]], verify="none"), output=str(tmp_path / "r"), executor="local"
    ).stages[1]
    assert stage.manifest["counts"]["by_reason"] == {"exact_dup": 1, "near_dup": 1}
    assert "verified_pairs" not in stage.manifest["stats"] and stage.manifest["stats"]["candidate_pairs"] == 1
