"""line_dedup on the quickstart's real text against a plain in-memory dictionary count."""

from __future__ import annotations

import pytest
from conftest import QUICKSTART
from span_reference import dictionary_removals

from dataprep.api import read_stage, run


@pytest.mark.parametrize(("unit", "min_docs", "keep"), [("line", 2, 1), ("paragraph", 2, 1), ("line", 3, 0)])
def test_removed_units_equal_a_dictionary_count_on_the_quickstart(tmp_path, unit, min_docs, keep):
    cfg = {
        "name": "lines",
        "seed": 1,
        "stages": [
            {"stage": "ingest", "shard_rows": 300, "inputs": [{"path": str(p)} for p in _quickstart_inputs()]},
            {"stage": "line_dedup", "unit": unit, "min_docs": min_docs, "keep": keep, "partition_mb": 1},
        ],
    }
    res = run(cfg, output=str(tmp_path / "out"), executor="local")
    rows = read_stage(res.stages[0].dir, ["id", "text"]).to_pylist()
    expected, repeated_keys = dictionary_removals(rows, unit, min_docs, keep)

    found = set()
    for rejected in (False, True):
        for row in read_stage(res.stages[1].dir, ["id", "line_spans"], rejected=rejected).to_pylist():
            found |= {(row["id"], s["start"], s["end"]) for s in row["line_spans"]}
    stats = res.stages[1].manifest["stats"]
    assert len(expected) > 100 and found == expected
    assert (stats["repeated_keys"], stats["removed_units"]) == (repeated_keys, len(expected))
    assert stats["partitions"] > 1
    counts = res.stages[1].manifest["counts"]
    assert counts["in"] == counts["out"] + counts["rejected"]


def test_kept_text_is_the_input_minus_its_removed_spans(tmp_path):
    cfg = {
        "name": "lines",
        "seed": 1,
        "stages": [
            {"stage": "ingest", "inputs": [{"path": str(p)} for p in _quickstart_inputs()]},
            {"stage": "line_dedup", "min_chars": 0},
        ],
    }
    res = run(cfg, output=str(tmp_path / "out"), executor="local")
    before = {r["id"]: r["text"] for r in read_stage(res.stages[0].dir, ["id", "text"]).to_pylist()}
    changed = 0
    for row in read_stage(res.stages[1].dir, ["id", "text", "line_spans", "line_removed_chars"]).to_pylist():
        text, pos, pieces = before[row["id"]], 0, []
        for s in row["line_spans"]:
            pieces.append(text[pos : s["start"]])
            pos = s["end"]
            assert row["id"] not in s["also_in"] and s["also_in"]
        assert row["text"] == "".join(pieces) + text[pos:]
        assert row["line_removed_chars"] == len(text) - len(row["text"])
        changed += bool(row["line_spans"])
    assert changed > 50


def _quickstart_inputs():
    return sorted((QUICKSTART.parent / "data" / "quickstart").glob("*.jsonl.gz"))
