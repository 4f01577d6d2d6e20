"""Byte layout of the Megatron index (checked field by field against Megatron's documented
layout) and training of byte-level BPE tokenizers on real text."""

from __future__ import annotations

import gzip
import io
import json
import struct

import numpy as np
import pytest
from tokenizers import Tokenizer

from dataprep.cli import main
from dataprep.tokenize.megatron import read_index, write_index
from dataprep.tokenize.train import train_bpe


def test_index_bytes_follow_the_documented_layout():
    buf = io.BytesIO()
    # lengths in two pieces (shards), one of them empty: offsets run on across pieces
    write_index(buf, 3, lambda: [np.array([3]), np.array([], np.int64), np.array([0, 5])], np.dtype(np.uint16))
    data = buf.getvalue()
    assert data[:9] == b"MMIDIDX\x00\x00"
    assert struct.unpack_from("<QBQQ", data, 9) == (1, 8, 3, 4)  # version, uint16 code, sequences, doc_idx length
    body = np.frombuffer(data[34:], dtype=np.uint8)
    assert np.frombuffer(body[:12].tobytes(), "<i4").tolist() == [3, 0, 5]
    assert np.frombuffer(body[12:36].tobytes(), "<i8").tolist() == [0, 6, 6]  # byte offsets: 2 bytes per token
    assert np.frombuffer(body[36:].tobytes(), "<i8").tolist() == [0, 1, 2, 3]
    index = read_index(data)
    assert (index.dtype, index.sizes.tolist(), index.pointers.tolist()) == (np.dtype(np.uint16), [3, 0, 5], [0, 6, 6])


def test_uint32_ids_are_written_as_megatron_int32():
    buf = io.BytesIO()
    write_index(buf, 2, lambda: [np.array([2, 2])], np.dtype(np.uint32))
    index = read_index(buf.getvalue())
    assert index.dtype == np.int32 and index.pointers.tolist() == [0, 8]


def test_pieces_that_disagree_with_the_count_fail():
    with pytest.raises(ValueError, match="2 document lengths for 3 documents"):
        write_index(io.BytesIO(), 3, lambda: [np.array([1, 2])], np.dtype(np.uint16))


def test_a_file_that_is_not_an_index_is_named():
    with pytest.raises(ValueError, match="not a Megatron index"):
        read_index(b"PK\x03\x04" + bytes(40))


@pytest.fixture(scope="module")
def fortunes(shared_data) -> list[str]:
    with gzip.open(shared_data / "corpus/misc/debian_fortunes.jsonl.gz", "rt") as f:
        return [json.loads(line)["text"] for _, line in zip(range(2000), f)]


def test_bpe_training_is_deterministic_and_lossless(fortunes):
    a, b = train_bpe(fortunes, 600), train_bpe(fortunes, 600)
    assert a.to_str() == b.to_str()
    assert a.get_vocab_size() == 600 and a.token_to_id("<|endoftext|>") == 0
    sample = fortunes[7] + " — naïve café ☃ 日本"  # bytes never seen in training still round-trip
    assert a.decode(a.encode(sample).ids) == sample


def test_a_vocabulary_smaller_than_the_byte_alphabet_is_refused(fortunes):
    with pytest.raises(ValueError, match="vocab size 100 is too small.*at least 257"):
        train_bpe(fortunes, 100)


def test_train_tokenizer_command_on_a_stage(tmp_path, shared_data):
    from dataprep.api import run

    res = run(
        {
            "name": "t",
            "stages": [
                {
                    "stage": "ingest",
                    "inputs": [{"path": str(shared_data / "corpus/misc/debian_fortunes.jsonl.gz"), "domain": "misc"}],
                }
            ],
        },
        output=str(tmp_path / "r"),
        executor="local",
    )
    out = tmp_path / "tok.json"
    assert main(["train-tokenizer", res.stages[0].dir, "--vocab-size", "1000", "--output", str(out)]) == 0
    tok = Tokenizer.from_file(str(out))
    assert tok.get_vocab_size() == 1000
    assert main(["train-tokenizer", res.stages[0].dir, "--vocab-size", "1000", "--output", str(out)]) == 2  # exists
