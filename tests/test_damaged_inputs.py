"""Damaged and oversized inputs (issue 11, items 2 and 10): a truncated compressed file, a
Parquet file without its footer or with a corrupt page keeps its readable records, the damage
is one rejected row saying where, and the run goes on; a document over ``max_doc_bytes`` is
rejected as ``too_large``. Damaged files are made here from real files of the shared data."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO

from dataprep.api import run
from dataprep.cli import main
from dataprep.engine.verify import verify_run

CODE = "corpus/code/thealgorithms_python.jsonl.gz"  # 1,413 records, 4.2 MB of JSON Lines
INTACT = REPO / "pipelines/data/quickstart/fortunes.jsonl.gz"


def _records(shared_data: Path) -> list[bytes]:
    with gzip.open(shared_data / CODE) as f:
        return f.read().splitlines()


def _ingest(tmp_path: Path, files: list[Path], **settings) -> tuple[dict, list[dict], list[dict]]:
    """An ingest of ``files`` on the local executor: the manifest, the kept and the rejected rows."""
    pipeline = {
        "name": "damaged",
        "stages": [{"stage": "ingest", "inputs": [{"path": str(f)} for f in files], **settings}],
    }
    result = run(pipeline, output=str(tmp_path / "run"), executor="local", report=False, verbose=True)
    stage = Path(result.stages[0].dir)
    kept = pq.read_table(sorted(stage.glob("part-*.parquet"))).to_pylist()
    rejected_dir = stage / "rejected"
    rejected = pq.read_table(rejected_dir).to_pylist() if rejected_dir.exists() else []
    return result.stages[0].manifest, kept, rejected


def _rows_of(rows: list[dict], file: str) -> dict[int, dict]:
    """The rows of one input file by their row number in it (ids are ``source/file:row``)."""
    return {int(r["id"].rsplit(":", 1)[1]): r for r in rows if f"/{file}:" in r["id"]}


@pytest.mark.parametrize("codec,ext", [("gzip", "gz"), ("zstd", "zst"), ("bz2", "bz2")])
def test_a_truncated_compressed_file_keeps_its_records_and_the_run_goes_on(tmp_path, shared_data, codec, ext, capsys):
    lines = _records(shared_data)
    whole = tmp_path / f"whole.jsonl.{ext}"
    with pa.CompressedOutputStream(str(whole), codec) as out:
        out.write(b"\n".join(lines) + b"\n")
    data = whole.read_bytes()
    cut = tmp_path / f"code.jsonl.{ext}"
    cut.write_bytes(data[: len(data) * 6 // 10])
    manifest, kept, rejected = _ingest(tmp_path, [cut, INTACT])

    damage = [r for r in rejected if r["reason"] == "truncated_file"]
    assert len(damage) == 1  # the damage is one row, whatever was lost
    meta = json.loads(damage[0]["meta"])
    assert meta["file"] == cut.name and "ends early" in meta["error"] and "at byte" in meta["error"]
    assert manifest["stats"]["damaged_files"] == 1
    assert "00-ingest: 1 of 2 input files damaged" in capsys.readouterr().err

    # Every record read is the file's own (no text from past the break), in order up to the damage row.
    read = {**_rows_of(kept, cut.name), **_rows_of([r for r in rejected if r is not damage[0]], cut.name)}
    assert sorted(read) == list(range(1, meta["row"]))
    for row, doc in _rows_of(kept, cut.name).items():
        assert doc["text"] == json.loads(lines[row - 1])["text"]
    # Nearly all the complete records the bytes hold are kept: only the decoder's last chunk is lost.
    if codec == "gzip":
        complete = zlib.decompressobj(31).decompress(cut.read_bytes()).count(b"\n")
        assert len(read) >= complete - 100, (len(read), complete)
    # The intact file is whole, and rows add up.
    assert len(_rows_of(kept, INTACT.name)) + len(_rows_of(rejected, INTACT.name)) == sum(
        1 for line in gzip.open(INTACT) if line.strip()
    )
    c = manifest["counts"]
    assert c["in"] == c["out"] + c["rejected"]


def _parquet(shared_data: Path, path: Path, checksums: bool) -> pa.Table:
    table = pa.Table.from_pylist([json.loads(line) for line in _records(shared_data)])
    pq.write_table(table, path, row_group_size=200, compression="snappy", write_page_checksum=checksums)
    return table


def _text_chunk(path: Path, group: int) -> tuple[int, int]:
    """Start and size of the ``text`` column chunk of a row group."""
    pf = pq.ParquetFile(path)
    col = pf.metadata.row_group(group).column(pf.schema_arrow.get_field_index("text"))
    return col.dictionary_page_offset or col.data_page_offset, col.total_compressed_size


def test_parquet_without_footer_and_with_corrupt_pages(tmp_path, shared_data):
    # A file cut before its footer: nothing can be read, one row says so.
    whole = tmp_path / "whole.parquet"
    table = _parquet(shared_data, whole, checksums=False)
    data = whole.read_bytes()
    footer = int.from_bytes(data[-8:-4], "little") + 8
    footless = tmp_path / "footless.parquet"
    footless.write_bytes(data[:-footer])
    # A flipped byte inside a page whose writer stored CRCs: caught by the checksum.
    crc = tmp_path / "crc.parquet"
    _parquet(shared_data, crc, checksums=True)
    start, size = _text_chunk(crc, 3)
    damaged = bytearray(crc.read_bytes())
    damaged[start + size // 2] ^= 0xFF
    crc.write_bytes(damaged)
    # Corrupt snappy data without checksums: the first flip near a page's start that snappy refuses.
    snappy = tmp_path / "snappy.parquet"
    start, _ = _text_chunk(whole, 5)
    for k in range(64):
        damaged = bytearray(data)
        damaged[start + k] ^= 0xFF
        try:
            pq.ParquetFile(pa.BufferReader(bytes(damaged))).read_row_group(5)
        except OSError as exc:
            if "snappy" in str(exc).lower():
                break
    else:
        pytest.fail("no flip near the page start broke snappy")
    snappy.write_bytes(damaged)

    manifest, kept, rejected = _ingest(tmp_path, [footless, crc, snappy])
    damage = {json.loads(r["meta"])["file"]: r for r in rejected if r["reason"] == "unreadable_file"}
    assert sorted(damage) == ["crc.parquet", "footless.parquet", "snappy.parquet"]
    assert manifest["stats"]["damaged_files"] == 3 and manifest["counts"]["by_reason"]["unreadable_file"] == 3
    assert "not a readable Parquet file" in damage["footless.parquet"]["text"]
    assert "row group 3 (rows 601-800 lost: " in damage["crc.parquet"]["text"]
    assert "CRC" in damage["crc.parquet"]["text"]
    assert "row group 5 (rows 1,001-1,200 lost: " in damage["snappy.parquet"]["text"]
    assert "snappy" in damage["snappy.parquet"]["text"].lower()
    texts = table.column("text").to_pylist()
    for name, lost in (("crc.parquet", range(601, 801)), ("snappy.parquet", range(1001, 1201))):
        ok = _rows_of(kept, name)
        others = _rows_of([r for r in rejected if r is not damage[name]], name)
        assert sorted({**ok, **others}) == [r for r in range(1, table.num_rows + 1) if r not in lost]
        assert all(doc["text"] == texts[row - 1] for row, doc in ok.items())
    assert not _rows_of(kept, "footless.parquet")
    assert verify_run(str(tmp_path / "run")) == []  # a run with damaged inputs is a sound run


def test_a_run_whose_every_input_is_damaged_fails_in_one_line(tmp_path, shared_data, capsys):
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes((shared_data / CODE).read_bytes()[:200])  # not even one record's worth
    pq.write_table(pa.table({"text": ["a document"] * 10}), tmp_path / "whole.parquet")
    footless = tmp_path / "footless.parquet"
    footless.write_bytes((tmp_path / "whole.parquet").read_bytes()[:-30])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        f"name: p\nstages:\n  - stage: ingest\n    inputs:\n      - {{path: {gz}}}\n      - {{path: {footless}}}\n"
    )
    code = main(["run", str(pipeline), "--output", str(tmp_path / "run"), "--quiet", "--executor", "local"])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    first = err.strip().splitlines()[0]
    assert "00-ingest: every input file is damaged and none gave a document" in first
    assert str(gz) in first and "truncated file" in first and "(and 1 more)" in first


def _big_text(shared_data: Path, size: int) -> str:
    """Real prose repeated to ``size`` UTF-8 bytes exactly (ASCII-only fill at the end)."""
    docs = [json.loads(line)["text"] for line in _records(shared_data)[:200]]
    text = "\n\n".join(docs)
    text = (text * (size // len(text.encode()) + 1)).encode()[:size].decode("utf-8", "ignore")
    return text + "x" * (size - len(text.encode()))


def test_documents_over_max_doc_bytes_are_rejected_as_too_large(tmp_path, shared_data):
    limit = 1 << 20
    at_limit = _big_text(shared_data, limit)
    over = at_limit + "y"
    # Fewer characters than the limit, more UTF-8 bytes (Cyrillic: 2 bytes a letter).
    cyrillic = "Бъ" * (limit // 3)
    assert len(cyrillic) < limit < len(cyrillic.encode())
    src = tmp_path / "big.jsonl"
    src.write_text("\n".join(json.dumps({"text": t}) for t in (at_limit, over, cyrillic, "short")) + "\n")
    manifest, kept, rejected = _ingest(tmp_path, [src], max_doc_bytes=limit)
    assert manifest["config"]["max_doc_bytes"] == limit  # the bound is recorded
    assert [len(d["text"].encode()) for d in kept] == [limit, 5]
    assert [(r["id"], r["reason"]) for r in rejected] == [
        ("big/big.jsonl:2", "too_large"),
        ("big/big.jsonl:3", "too_large"),
    ]
    assert all(len(r["text"]) == 2000 for r in rejected)  # the rejected row keeps the head only
    assert "max_doc_bytes (1,048,576)" in json.loads(rejected[0]["meta"])["error"]
    # The default is a sane bound, and it is in the manifest of every run.
    manifest, _, _ = _ingest(tmp_path / "default", [INTACT])
    assert manifest["config"]["max_doc_bytes"] == 10 << 20


def test_a_truncated_dump_keeps_its_pages(tmp_path, shared_data):
    """The same rule for every reader: here lxml parses a MediaWiki dump whose bz2 stream ends early."""
    from dataprep.core.storage import open_input
    from dataprep.readers.base import get_reader, read_records

    data = (
        shared_data / "corpus/wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    ).read_bytes()
    cut = tmp_path / "enwiki.xml.bz2"
    cut.write_bytes(data[: len(data) // 2])
    with open_input(str(cut)) as stream:
        records = list(read_records(get_reader("mediawiki"), stream, str(cut), {}))
    *pages, damage = records
    assert len(pages) > 50 and all(r.error != "truncated_file" for r in pages)
    assert [r.row for r in pages] == list(range(1, len(pages) + 1))
    assert (damage.row, damage.error) == (len(pages) + 1, "truncated_file")
    assert "at byte" in damage.detail and f"records up to row {len(pages)} are kept" in damage.detail
