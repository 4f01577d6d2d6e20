"""Ingest: formats, field mapping, bad records accounted for with file, line and reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataprep.api import read_stage, run
from dataprep.config import PipelineError, load_pipeline
from dataprep.urls import later_copies


def _real_docs(shared_data: Path, n: int) -> list[dict]:
    with gzip.open(shared_data / "corpus/web/dolma-tests/cc_en_head-0091.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f][:n]


def _ingest(path: str, **extra) -> dict:
    return {"name": "t", "stages": [{"stage": "ingest", "inputs": [{"path": path, **extra}], "shard_rows": 4}]}


def test_bad_lines_are_rejected_with_line_and_reason(tmp_path, shared_data):
    docs = _real_docs(shared_data, 6)
    lines = [json.dumps(d).encode() for d in docs[:3]]
    lines += [
        b'{"text": "unterminated',  # line 4: malformed JSON
        b'{"text": "caf\xe9 latte"}',  # line 5: Latin-1 byte, not UTF-8
        b'{"text": ""}',  # line 6: empty
        b'{"text": 42}',  # line 7: not a string
        b'["a", "list"]',  # line 8: not an object
        b'{"body": "no text field"}',  # line 9: missing text
        b'{"text": "   \\n  "}',  # line 10: only whitespace
    ]
    lines += [json.dumps(d).encode() for d in docs[3:]]  # lines 11-13: good again
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    res = run(_ingest(str(src), source="t"), output=str(tmp_path / "out"), executor="local")
    m = res.stages[0].manifest
    assert m["counts"] == {
        "in": 13,
        "out": 6,
        "rejected": 7,
        "added": 0,
        "by_reason": {
            "empty_text": 2,
            "invalid_utf8": 1,
            "malformed_json": 2,
            "missing_text": 1,
            "non_string_text": 1,
        },
    }
    rej = read_stage(res.stages[0].dir, rejected=True).to_pylist()
    by_line = {json.loads(r["meta"])["row"]: r["reason"] for r in rej}
    assert by_line == {
        4: "malformed_json",
        5: "invalid_utf8",
        6: "empty_text",
        7: "non_string_text",
        8: "malformed_json",
        9: "missing_text",
        10: "empty_text",
    }
    assert all(json.loads(r["meta"])["file"] == "mixed.jsonl" and r["stage"] == "ingest" for r in rej)
    kept = read_stage(res.stages[0].dir)
    assert kept.column("text").to_pylist() == [d["text"] for d in docs]
    assert kept.column("id").to_pylist()[3] == "t/mixed.jsonl:11"
    assert json.loads(kept.column("meta")[0].as_py())["orig_id"] == docs[0]["id"]


def test_resharding_by_rows_and_bytes(tmp_path, shared_data):
    docs = _real_docs(shared_data, 10)
    src = tmp_path / "docs.jsonl.gz"
    with gzip.open(src, "wt") as f:
        f.writelines(json.dumps(d) + "\n" for d in docs)
    res = run(_ingest(str(src)), output=str(tmp_path / "rows"), executor="local")
    assert [o["rows"] for o in res.stages[0].manifest["outputs"]] == [4, 4, 2]
    limit = 3 * max(len(d["text"].encode()) for d in docs)
    cfg = _ingest(str(src))
    cfg["stages"][0].update(shard_rows=1000, shard_bytes=limit)
    res = run(cfg, output=str(tmp_path / "bytes"), executor="local")
    for o in res.stages[0].manifest["outputs"]:
        t = read_stage(res.stages[0].dir).slice(0, 0)  # schema only
        assert o["rows"] >= 1 and "text" in t.column_names
    sizes = [
        sum(len(x.encode()) for x in pq.read_table(Path(res.output_dir) / o["path"]).column("text").to_pylist())
        for o in res.stages[0].manifest["outputs"]
    ]
    assert all(s <= limit for s in sizes) and sum(o["rows"] for o in res.stages[0].manifest["outputs"]) == 10


def test_parquet_text_folder_and_field_mapping(tmp_path, shared_data):
    docs = _real_docs(shared_data, 3)
    pq.write_table(
        pa.table({"body": [d["text"] for d in docs], "link": [d["id"] for d in docs], "kind": ["a", "b", "a"]}),
        tmp_path / "in.parquet",
    )
    folder = tmp_path / "texts" / "sub"
    folder.mkdir(parents=True)
    for i, d in enumerate(docs):
        (folder / f"doc{i}.txt").write_text(d["text"])
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    cfg = {
        "name": "t",
        "stages": [
            {
                "stage": "ingest",
                "inputs": [
                    {
                        "path": str(tmp_path / "in.parquet"),
                        "source": "pq",
                        "fields": {"text": "body", "url": "link", "domain": "kind"},
                    },
                    {"path": str(tmp_path / "texts"), "domain": "notes"},
                ],
            }
        ],
    }
    res = run(cfg, output=str(tmp_path / "out"), executor="local")
    kept = read_stage(res.stages[0].dir).to_pylist()
    assert [k["domain"] for k in kept] == ["a", "b", "a", "notes", "notes", "notes"]
    assert kept[0]["url"] == docs[0]["id"] and kept[0]["id"] == "pq/in.parquet:1"
    assert kept[3]["id"] == "texts/sub/doc0.txt:1"
    rej = read_stage(res.stages[0].dir, rejected=True).to_pylist()
    assert [(r["id"], r["reason"]) for r in rej] == [("texts/sub/latin1.txt:1", "invalid_utf8")]


def test_config_errors_are_reported_up_front(tmp_path):
    with pytest.raises(PipelineError) as err:
        load_pipeline(
            {"name": "t", "stages": [{"stage": "ingest", "inputs": [{"path": "nope/*.jsonl"}], "shard_rowz": 3}]},
            base_dir=str(tmp_path),
        )
    msg = str(err.value)
    assert "stage 1 (ingest): inputs.0.path" in msg and "does not exist" in msg
    assert "shard_rowz: unknown setting" in msg
    with pytest.raises(PipelineError, match="unknown stage 'qualty'"):
        load_pipeline({"name": "t", "stages": [{"stage": "qualty"}]})
    (tmp_path / "a.jsonl").write_text("{}\n")
    with pytest.raises(PipelineError, match="unknown input format 'csvx'"):
        load_pipeline(
            {"name": "t", "stages": [{"stage": "ingest", "inputs": [{"path": "a.jsonl", "format": "csvx"}]}]},
            base_dir=str(tmp_path),
        )


def test_url_blocklist_and_run_wide_url_dedup(tmp_path, shared_data):
    docs = _real_docs(shared_data, 8)
    urls = [d["id"] for d in docs]  # CCNet ids are the page URLs
    a = [{"text": d["text"], "url": u} for d, u in zip(docs[:5], urls[:5])]
    variant = urls[1].replace("http://", "HTTP://").split("#")[0] + "#section"  # same page, other spelling
    b = [
        {"text": docs[5]["text"], "url": variant},
        {"text": docs[6]["text"], "url": urls[6]},
        {"text": docs[7]["text"], "url": urls[3]},
        {"text": docs[0]["text"], "url": "https://ads.tracker.example/x"},
    ]
    for name, rows in (("a.jsonl", a), ("b.jsonl", b)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "block.txt").write_text("# test list\ntracker.example\n")
    cfg = {
        "name": "t",
        "stages": [
            {
                "stage": "ingest",
                "shard_rows": 3,
                "dedup_urls": True,
                "url_dedup_rows": 2,
                "url_blocklist": str(tmp_path / "block.txt"),
                "inputs": [{"path": str(tmp_path / "*.jsonl"), "source": "s"}],
            }
        ],
    }
    res = run(cfg, output=str(tmp_path / "out"), executor="local")
    rej = {r["id"]: r["reason"] for r in read_stage(res.stages[0].dir, rejected=True).to_pylist()}
    assert rej == {"s/b.jsonl:1": "duplicate_url", "s/b.jsonl:3": "duplicate_url", "s/b.jsonl:4": "blocked_url"}
    kept = read_stage(res.stages[0].dir).column("id").to_pylist()
    assert kept == [f"s/a.jsonl:{i}" for i in range(1, 6)] + ["s/b.jsonl:2"]
    assert [o["rows"] for o in res.stages[0].manifest["outputs"]] == [3, 3]


def test_read_grouping_never_changes_output_bytes(tmp_path):
    """One read task per file, or files grouped into fewer tasks: the same shards, byte for byte."""
    base = {
        "name": "t",
        "stages": [
            {
                "stage": "ingest",
                "shard_rows": 150,
                "inputs": [{"path": str(Path(__file__).parent.parent / "pipelines/data/quickstart/*.jsonl.gz")}],
            }
        ],
    }
    many, one = dict(base), dict(base)
    many["stages"] = [dict(base["stages"][0], unit_bytes=1)]
    one["stages"] = [dict(base["stages"][0], unit_bytes=1 << 30)]
    a = run(many, output=str(tmp_path / "many"), executor="local").stages[0].manifest
    b = run(one, output=str(tmp_path / "one"), executor="local").stages[0].manifest
    assert len(a["outputs"]) > 1

    def units(name: str) -> int:
        return len(list((tmp_path / name / "00-ingest/_work/units").glob("*.json")))

    assert units("many") == 6 > units("one"), "the two runs must group the files differently"
    assert [o["sha256"] for o in a["outputs"] + a["rejected"]] == [o["sha256"] for o in b["outputs"] + b["rejected"]]


@pytest.mark.parametrize("max_keys", [1, 7, 10_000])
def test_later_copies_keep_the_first_copy_in_run_order(max_keys):
    """Hash-partitioned passes (``max_keys`` bounds memory) find exactly the repeats a single pass does."""
    rng = np.random.default_rng(5)
    parts = {0: rng.integers(0, 40, 30), 2: rng.integers(0, 40, 25), 3: rng.integers(0, 40, 5)}
    columns = {p: pa.array(k.astype(np.uint64), mask=rng.random(len(k)) < 0.2) for p, k in parts.items()}
    seen, expected = set(), {}
    for p, column in columns.items():  # the plain definition: one pass in run order
        for row, key in enumerate(column.to_pylist()):
            if key is not None and key in seen:
                expected.setdefault(p, []).append(row)
            seen.add(key)
    found = later_copies(lambda: iter(columns.items()), sum(len(k) for k in parts.values()), max_keys)
    assert {p: rows.tolist() for p, rows in found.items()} == expected and expected
