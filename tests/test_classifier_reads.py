"""The classifier's training files are read through the storage layer, like ingest inputs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataprep.quality.classifier import read_texts


def test_training_texts_from_zstd_jsonl_and_parquet(tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / "corpus/web/dolma-tests/cc_en_head-0174.jsonl.gz"
    texts = [json.loads(line)["text"] for line in gzip.open(source, "rt")][:50]
    with pa.CompressedOutputStream(str(tmp_path / "pos.jsonl.zst"), "zstd") as out:
        out.write(gzip.open(source).read())
    assert read_texts(tmp_path / "pos.jsonl.zst")[:50] == texts
    pq.write_table(pa.table({"body": texts}), tmp_path / "neg.parquet")
    assert read_texts(tmp_path / "neg.parquet", "body") == texts
    with pytest.raises(ValueError, match=r"neg.parquet:1: no field 'text'"):
        read_texts(tmp_path / "neg.parquet")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"text": "ok"}) + "\n{broken\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: malformed_json"):
        read_texts(tmp_path / "bad.jsonl")
