"""A big file is read by several tasks in exact pieces (JSON Lines by lines, Parquet by row groups):
shards byte-identical to a whole-file read, resume by piece, damage accounted as for a whole file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO

from dataprep.api import audit_pipeline, run
from dataprep.readers import base as readers_base
from dataprep.readers.base import get_reader, split_file

CODE = "corpus/code/thealgorithms_python.jsonl.gz"  # 1,413 records, 4.2 MB of JSON Lines
PIECE = 256 << 10  # read unit of the split runs: a 4 MB file becomes ~16 pieces


def _jsonl(shared_data: Path, path: Path) -> bytes:
    """Real records with what a cut must keep whole and numbered: bad and blank lines, a line
    longer than a piece, CRLF endings, and a last line without its newline."""
    with gzip.open(shared_data / CODE) as f:
        lines = f.read().splitlines()
    long = json.dumps({"text": " ".join(json.loads(line)["text"] for line in lines[:300])}).encode()
    assert len(long) > 2 * PIECE
    lines[10:10] = [b'{"text": "unterminated', b"", b"   ", b'{"text": "caf\xe9"}', b'["a list"]']
    lines[700:700] = [long, long]
    lines[900] += b"\r"
    data = b"\n".join(lines)
    path.write_bytes(data)
    return data


def _ingest(tmp_path: Path, name: str, files: list[Path], unit_bytes: int, **run_args) -> dict:
    stage = {"stage": "ingest", "inputs": [{"path": str(f)} for f in files], "shard_rows": 300}
    pipeline = {"name": "split", "stages": [dict(stage, unit_bytes=unit_bytes)]}
    result = run(pipeline, output=str(tmp_path / name), executor="local", report=False, **run_args)
    return result.stages[0].manifest


def _shards(m: dict) -> list[str]:
    return [o["sha256"] for o in m["outputs"] + m["rejected"]]


def _units(tmp_path: Path, name: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / name / "00-ingest/_work/units").glob("*.json"))]


@pytest.mark.parametrize("chunk", [8 << 20, 4099])  # the whole file in one read, and cuts across reads
def test_jsonl_pieces_start_at_lines_with_exact_line_numbers(tmp_path, shared_data, monkeypatch, chunk):
    monkeypatch.setattr(readers_base, "_CUT_CHUNK", chunk)
    data = _jsonl(shared_data, tmp_path / "code.jsonl")
    pieces = split_file(get_reader("jsonl"), str(tmp_path / "code.jsonl"), PIECE)
    assert pieces and len(pieces) > 8
    assert [p.start for p in pieces[1:]] == [p.stop for p in pieces[:-1]] and pieces[-1].stop == len(data)
    for p in pieces:
        assert p.start == 0 or data[p.start - 1 : p.start] == b"\n"
        assert p.first_row == data[: p.start].count(b"\n")
        assert p.size == p.stop - p.start
    # each cut is asked for ``PIECE`` bytes after the last one, and moves on to the next line start
    asked = [a.start + PIECE for a in pieces[:-1]]
    assert all(b.start >= t for t, b in zip(asked, pieces[1:]))
    assert sum(b.start > t for t, b in zip(asked, pieces[1:])) > 5, "most cuts must fall inside a line"
    assert max(p.size for p in pieces) > 2 * PIECE, "the long lines stay whole"
    assert split_file(get_reader("jsonl"), str(tmp_path / "code.jsonl"), 1 << 30) is None  # one piece: whole


def test_a_split_jsonl_read_gives_the_whole_file_read_byte_for_byte(tmp_path, shared_data):
    _jsonl(shared_data, tmp_path / "code.jsonl")
    small = tmp_path / "small.jsonl"  # a file under the unit, read whole next to the pieces
    small.write_bytes(gzip.decompress((REPO / "pipelines/data/quickstart/web.jsonl.gz").read_bytes()))
    files = [tmp_path / "code.jsonl", small]
    whole = _ingest(tmp_path, "whole", files, 1 << 30)
    split = _ingest(tmp_path, "split", files, PIECE)
    units = _units(tmp_path, "split")
    assert len(units) > 8 and sum("piece" in f for u in units for f in u["files"]) == len(units) - 1
    assert split["counts"] == whole["counts"] and whole["counts"]["by_reason"]["malformed_json"] == 2
    assert _shards(split) == _shards(whole)
    assert split["inputs"] == whole["inputs"]  # the same hash and rows per file


def _parquet(shared_data: Path, path: Path, checksums: bool = True) -> bytes:
    with gzip.open(shared_data / CODE) as f:
        table = pa.Table.from_pylist([json.loads(line) for line in f])
    pq.write_table(table, path, row_group_size=100, compression="snappy", write_page_checksum=checksums)
    return path.read_bytes()


def test_a_split_parquet_read_gives_the_whole_file_read_byte_for_byte(tmp_path, shared_data):
    _parquet(shared_data, tmp_path / "code.parquet")
    pieces = split_file(get_reader("parquet"), str(tmp_path / "code.parquet"), PIECE)
    assert pieces and len(pieces) > 4 and all(p.first_row == 100 * p.start for p in pieces)
    whole = _ingest(tmp_path, "whole", [tmp_path / "code.parquet"], 1 << 30)
    split = _ingest(tmp_path, "split", [tmp_path / "code.parquet"], PIECE)
    assert len(_units(tmp_path, "split")) == len(pieces)
    assert _shards(split) == _shards(whole) and split["inputs"] == whole["inputs"]


def test_a_corrupt_page_in_a_split_parquet_file_is_one_row_as_in_a_whole_read(tmp_path, shared_data):
    """The damaged file is read again as one piece, so its one damage row names every lost group."""
    path = tmp_path / "crc.parquet"
    data = bytearray(_parquet(shared_data, path))
    pf = pq.ParquetFile(path)
    for group in (3, 11):
        col = pf.metadata.row_group(group).column(pf.schema_arrow.get_field_index("text"))
        data[(col.dictionary_page_offset or col.data_page_offset) + col.total_compressed_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    footless = tmp_path / "footless.parquet"  # no footer, so no pieces: read whole, one row says so
    footless.write_bytes(bytes(data[: -(int.from_bytes(data[-8:-4], "little") + 8)]))
    assert split_file(get_reader("parquet"), str(footless), PIECE) is None
    whole = _ingest(tmp_path, "whole", [path, footless], 1 << 30)
    split = _ingest(tmp_path, "split", [path, footless], PIECE)
    assert whole["counts"]["by_reason"]["unreadable_file"] == 2 and whole["stats"]["damaged_files"] == 2
    assert _shards(split) == _shards(whole) and split["counts"] == whole["counts"]
    rejected = pq.read_table(tmp_path / "split/00-ingest/rejected").to_pylist()
    (damage,) = [r for r in rejected if r["reason"] == "unreadable_file" and "/crc.parquet:" in r["id"]]
    assert "2 of 15 row groups unreadable: row group 3 (rows 301-400 lost" in damage["text"]
    assert damage["id"].endswith(":1414")  # after the file's last row, as a whole read numbers it


def test_a_resumed_split_read_reads_only_the_missing_pieces(tmp_path, shared_data):
    _jsonl(shared_data, tmp_path / "code.jsonl")
    first = _ingest(tmp_path, "run", [tmp_path / "code.jsonl"], PIECE)
    work = tmp_path / "run/00-ingest"
    units = sorted((work / "_work/units").glob("unit-*.json"))
    stamps = {u: u.stat().st_mtime_ns for u in units}
    (work / "manifest.json").unlink()  # as if killed while reading: one piece never landed
    for rec in (work / "_progress").glob("*.json"):
        rec.unlink()
    units[3].unlink()
    units[3].with_suffix(".parquet").unlink()
    run_doc = json.loads((tmp_path / "run/run.json").read_text())
    (tmp_path / "run/run.json").write_text(json.dumps(dict(run_doc, status="running")))
    again = _ingest(tmp_path, "run", [tmp_path / "code.jsonl"], PIECE, resume=True)
    assert _shards(again) == _shards(first)
    assert {u: u.stat().st_mtime_ns for u in units if u != units[3]} == {u: stamps[u] for u in units if u != units[3]}
    assert units[3].exists()
    # A different piece size cuts other ranges: the unit keys say so and every piece is read again.
    resized = _ingest(tmp_path, "run", [tmp_path / "code.jsonl"], PIECE * 2, resume=True)
    assert _shards(resized) == _shards(first)


@pytest.mark.slow
def test_an_audit_of_one_big_file_reads_it_in_parallel_pieces(tmp_path, shared_data, ray_session):
    """``dataprep audit`` on one file over the read unit: several read tasks, the report unchanged."""
    _jsonl(shared_data, tmp_path / "code.jsonl")
    benchmarks = [str(REPO / "pipelines/data/benchmarks")]
    pipeline = audit_pipeline([str(tmp_path / "code.jsonl")], benchmarks, None, "id", None, None, {}, {})
    shards = {}
    for name, unit_bytes in (("whole", 1 << 30), ("split", PIECE)):
        pipeline["stages"][0]["unit_bytes"] = unit_bytes
        result = run(pipeline, output=str(tmp_path / name), report=False, verbose=False)
        shards[name] = [_shards(s.manifest) for s in result.stages]
        assert result.stages[0].manifest["counts"]["in"] == 1413 + 3 + 2  # 3 bad lines, 2 long (blank ones: no row)
    assert len(_units(tmp_path, "whole")) == 1 and len(_units(tmp_path, "split")) > 8
    assert shards["split"] == shards["whole"]
