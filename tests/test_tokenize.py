"""The tokenize stage end to end: ids equal ``Tokenizer.encode``, and the Megatron and flat
exports read back (with readers written from the formats' documentation) to the same tokens."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from dataprep.api import read_stage, run
from dataprep.tokenize.flat import read_flat
from dataprep.tokenize.megatron import read_documents, read_index

GPT_NEO = "tokenizers/dolma-test-tokenizers/gpt-neo-test-tokenizer.json"


def _pipeline(shared: Path, tokenize: dict) -> dict:
    """734 real JavaScript source files, tokenized."""
    return {
        "name": "tokenize-test",
        "seed": 3,
        "stages": [
            {
                "stage": "ingest",
                "shard_rows": 250,
                "inputs": [{"path": str(shared / "corpus/code/thealgorithms_javascript.jsonl.gz"), "domain": "code"}],
            },
            {"stage": "tokenize", **tokenize},
        ],
    }


@pytest.fixture(scope="module")
def neo_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("tok") / "run"
    return run(_pipeline(shared_data, {"tokenizer": str(shared_data / GPT_NEO)}), output=str(out), executor="local")


def _check_exports(stage_dir: str, texts: dict[str, str], tok: Tokenizer, bos: int | None, eos: int) -> None:
    """Every export gives, per document and in output order, encode(text) framed by BOS/EOS."""
    out = read_stage(stage_dir, columns=["id", "input_ids", "n_tokens"])
    ids = out.column("id").to_pylist()
    expected = [
        ([bos] if bos is not None else []) + tok.encode(texts[i], add_special_tokens=False).ids + [eos] for i in ids
    ]
    assert out.column("input_ids").to_pylist() == expected
    assert out.column("n_tokens").to_pylist() == [len(e) for e in expected]

    index = read_index(Path(stage_dir, "tokens.idx").read_bytes())
    docs = read_documents(index, str(Path(stage_dir, "tokens.bin")))
    assert len(docs) == len(ids) and index.doc_idx[0] == 0
    assert all(d.tolist() == e for d, e in zip(docs, expected))

    flat = read_flat(str(Path(stage_dir, "tokens.bin")), str(Path(stage_dir, "tokens.docs.parquet")))
    assert flat.index.column("id").to_pylist() == ids
    assert len(flat.tokens) == sum(map(len, expected))
    for i in (0, len(ids) // 2, len(ids) - 1):
        assert flat.document(i).tolist() == expected[i]
        start = flat.index.column("start")[i].as_py()
        assert flat.document_at(start) == ids[i] and flat.document_at(start + len(expected[i]) - 1) == ids[i]


@pytest.mark.slow
def test_ids_equal_encode_and_exports_read_back(neo_run, shared_data):
    tok = Tokenizer.from_file(str(shared_data / GPT_NEO))
    ingest, stage = neo_run.stages[0], neo_run.stages[1]
    texts = dict(zip(*read_stage(ingest.dir, columns=["id", "text"]).to_pydict().values()))
    out = read_stage(stage.dir, columns=["input_ids"])
    assert out.schema.field("input_ids").type.value_type == "uint16"  # 50,280 ids fit
    assert read_index(Path(stage.dir, "tokens.idx").read_bytes()).dtype == np.uint16
    stats = stage.manifest["stats"]
    assert stats["eos_id"] == tok.token_to_id("<|endoftext|>") and stats["export"]["documents"] == len(texts)
    assert {Path(a["path"]).name for a in stage.manifest["artifacts"]} == {
        "tokens.bin",
        "tokens.idx",
        "tokens.docs.parquet",
    }
    _check_exports(stage.dir, texts, tok, None, stats["eos_id"])


def test_empty_documents_are_rejected_not_tokenized(shared_data):
    """The shard work alone (no engine): an empty text would become a lone EOS in training data."""
    from dataprep.core.contract import RunInfo
    from dataprep.stages.base import ShardContext
    from dataprep.stages.tokenize import TokenizeConfig, TokenizeStage

    with gzip.open(shared_data / "corpus/code/thealgorithms_python.jsonl.gz", "rt") as f:
        texts = [t for t in (json.loads(line)["text"] for line in f) if t][:60]
    texts[5] = ""
    run_info = RunInfo(seed=0, base_dir=str(shared_data))
    stage = TokenizeStage(TokenizeConfig(tokenizer=GPT_NEO), run_info)
    table = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    result = stage.process(table, ShardContext(0, None, run_info, None))  # type: ignore[arg-type]  # unused by process
    assert result.rejected.column("id").to_pylist() == ["d5"]
    assert result.rejected.column("reason").to_pylist() == ["empty_text"]
    tok = Tokenizer.from_file(str(shared_data / GPT_NEO))
    kept = [t for t in texts if t]
    assert result.kept.column("input_ids").to_pylist() == [tok.encode(t).ids + [stage.eos_id] for t in kept]
    assert result.stats == {
        "tokens": sum(result.kept.column("n_tokens").to_pylist()),
        "documents": len(kept),
        "documents_reused_ids": 0,
    }


def _carried_case(
    shared_data: Path, carried_by: str, edit: bool = False
) -> tuple[dict, list[list[int]], int, Tokenizer, list[str]]:
    """Tokenize real code whose rows carry ids (as mix emits them) made by ``carried_by``;
    with ``edit``, one text changes after they were made (e.g. a redaction stage in between)."""
    from dataprep.core.contract import RunInfo
    from dataprep.stages.base import ShardContext
    from dataprep.stages.tokenize import TokenizeConfig, TokenizeStage
    from dataprep.tokenize.reuse import encode_with_identity

    with gzip.open(shared_data / "corpus/code/thealgorithms_python.jsonl.gz", "rt") as f:
        texts = [t for t in (json.loads(line)["text"] for line in f) if t][:40]
    carried = encode_with_identity(texts, carried_by)
    if edit:
        assert "def " in texts[7]
        texts[7] = texts[7].replace("def ", "fed ")
    run_info = RunInfo(seed=0, base_dir=str(shared_data))
    stage = TokenizeStage(TokenizeConfig(tokenizer=GPT_NEO), run_info)
    table = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    for name in carried.column_names:
        table = table.append_column(name, carried.column(name))
    table = pa.concat_tables([table, table])  # a repeated copy carries the same ids
    result = stage.process(table, ShardContext(0, None, run_info, None))  # type: ignore[arg-type]  # unused by process
    assert result.kept.column_names == ["id", "input_ids", "n_tokens"]
    tok = Tokenizer.from_file(str(shared_data / GPT_NEO))
    return result.stats, result.kept.column("input_ids").to_pylist(), stage.eos_id, tok, texts * 2


def test_ids_carried_for_this_tokenizer_are_framed_not_encoded(shared_data):
    stats, out, eos, tok, texts = _carried_case(shared_data, str(shared_data / GPT_NEO))
    assert stats["documents_reused_ids"] == len(texts) == 80
    assert out == [tok.encode(t).ids + [eos] for t in texts]


@pytest.mark.parametrize("case", ["other tokenizer", "edited text"])
def test_ids_are_not_reused_from_another_tokenizer_or_text(shared_data, big_vocab, case):
    by = str(big_vocab) if case == "other tokenizer" else str(shared_data / GPT_NEO)
    stats, out, eos, tok, texts = _carried_case(shared_data, by, edit=case == "edited text")
    assert stats["documents_reused_ids"] == 0
    assert out == [tok.encode(t).ids + [eos] for t in texts]


@pytest.fixture(scope="module")
def big_vocab(tmp_path_factory, shared_data) -> Path:
    """A real word-level tokenizer over the 104k-word American English lexicon: ids need uint32."""
    with gzip.open(shared_data / "lexicons/wamerican-american-english.txt.gz", "rt") as f:
        words = sorted({w.strip() for w in f if w.strip()})
    vocab = {w: i for i, w in enumerate(["[UNK]", "<s>", "</s>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path_factory.mktemp("vocab") / "tokenizer.json"
    tok.save(str(path))
    assert tok.get_vocab_size() > 65_536
    return path


@pytest.mark.slow
def test_large_vocabulary_gives_uint32_and_bos(tmp_path, shared_data, big_vocab):
    res = run(
        _pipeline(shared_data, {"tokenizer": str(big_vocab), "eos_token": "</s>", "bos_token": "<s>"}),
        output=str(tmp_path / "r"),
        executor="local",
    )
    ingest, stage = res.stages
    out = read_stage(stage.dir, columns=["input_ids"])
    assert out.schema.field("input_ids").type.value_type == "uint32"
    assert read_index(Path(stage.dir, "tokens.idx").read_bytes()).dtype == np.int32  # Megatron has no uint32
    tok = Tokenizer.from_file(str(big_vocab))
    texts = dict(zip(*read_stage(ingest.dir, columns=["id", "text"]).to_pydict().values()))
    _check_exports(stage.dir, texts, tok, tok.token_to_id("<s>"), tok.token_to_id("</s>"))
    assert max(max(ids) for ids in out.column("input_ids").to_pylist()) > 65_535


def test_a_missing_eos_token_is_named(tmp_path, shared_data):
    with pytest.raises(ValueError, match=r"no eos token \(<\|eot\|>\); set eos_token"):
        run(
            _pipeline(shared_data, {"tokenizer": str(shared_data / GPT_NEO), "eos_token": "<|eot|>"}),
            output=str(tmp_path / "r"),
            executor="local",
        )
