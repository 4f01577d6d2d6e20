"""Contamination detection without Ray: benchmark loading, normalization, index, matching,
planted contamination recall, redaction and the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash
from decontam_plants import KINDS, plant, real_documents

from dataprep.benchmarks import GenericSpec, load_benchmarks
from dataprep.benchmarks.items import strip_scaffold
from dataprep.decontam.index import build_index
from dataprep.decontam.match import common_keys, doc_frequency, drop_keys, item_matches, scan, word_spans
from dataprep.decontam.ngrams import tokenize
from dataprep.decontam.redact import redact
from dataprep.decontam.report import build_report, match_rows, render_markdown
from dataprep.engine.manifest import validate
from dataprep.text import word_hashes

# One file or folder per loader family, so every loader meets real data.
FAMILY_PATHS = (
    "gsm8k/test.jsonl",
    "humaneval",
    "mbpp",
    "mmlu/test",
    "truthfulqa",
    "nq_open/NQ-open.dev.jsonl",
    "squad_v2/cs224n-dev-v2.0.json",
    "hellaswag",
    "llm-foundry-icl/arc_challenge.jsonl",
    "llm-foundry-icl/boolq.jsonl",
    "llm-foundry-icl/winogrande.jsonl",
    "llm-foundry-icl/siqa.jsonl",
    "llm-foundry-icl/lambada_openai.jsonl",
    "llm-foundry-icl/math.jsonl",
    "llm-foundry-icl/triviaqa_sm_sub.jsonl",
)


@pytest.fixture(scope="module")
def sets(shared_data: Path):
    return load_benchmarks([str(shared_data / "benchmarks" / p) for p in FAMILY_PATHS])


@pytest.fixture(scope="module")
def indexed(sets):
    return build_index(sets, 13, 8)


def test_families_load_with_official_counts(shared_data: Path) -> None:
    found = {b.key: len(b.items) for b in load_benchmarks([str(shared_data / "benchmarks")])}
    official = {
        "gsm8k/test": 1319,
        "gsm8k/train": 7473,
        "mmlu/test": 14042,
        "mmlu/dev": 285,
        "hellaswag/val": 10042,
        "humaneval/test": 164,
        "mbpp/full": 974,
        "truthfulqa/generation": 817,
        "nq_open/dev": 3610,
        "arc_challenge/eval": 1172,
        "arc_easy/eval": 2376,
        "piqa/eval": 1838,
        "winogrande/eval": 1267,
        "boolq/eval": 3270,
        "lambada_openai/eval": 5153,
        "math/eval": 5000,
        "openbook_qa/eval": 500,
        "commonsense_qa/eval": 1221,
        "siqa/eval": 1954,
        "triviaqa_sm_sub/eval": 3000,
        "squad_v2/cs224n-dev": 6078,
        "squad_v2/cs224n-test": 5915,
    }
    assert {k: found.get(k) for k in official} == official


def test_scaffolding_is_stripped(sets) -> None:
    assert strip_scaffold("Context: Tracy left.\nQuestion: Why?\nChoices:\nA. a plan\nB.) go home\nAnswer:") == [
        "Tracy left.",
        "Why?",
        "a plan",
        "go home",
    ]
    siqa = next(b for b in sets if b.name == "siqa")
    assert siqa.items[0].fields == (
        "Tracy didn't go home that evening and resisted Riley's attacks.",
        "What does Tracy need to do before this?",
        "make a new plan",
        "Find somewhere to go",
    )
    labelled = [
        t for item in siqa.items for t in item.fields if t.startswith(("Context:", "Question:", "Answer:", "A. "))
    ]
    assert len(labelled) <= 1  # one SIQA answer itself begins with "Question:"
    boolq = next(b for b in sets if b.name == "boolq").items[0].fields
    assert not boolq[0].startswith("Passage:") and boolq[1].startswith("does ethanol")


def test_unknown_benchmark_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "mystery.jsonl"
    path.write_text('{"prompt_text": "a"}\n')
    with pytest.raises(ValueError, match="mystery.jsonl"):
        load_benchmarks([str(path)])
    bad = tmp_path / "gsm8k" / "test.jsonl"
    bad.parent.mkdir()
    bad.write_text('{"question": "q", "answer": "a"}\n{not json\n')
    with pytest.raises(ValueError, match="line 2"):
        load_benchmarks([str(bad)])


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_generic_loader_reads_real_items(tmp_path: Path, shared_data: Path, fmt: str) -> None:
    rows = [json.loads(line) for line in open(shared_data / "benchmarks/gsm8k/test.jsonl")][:20]
    table = pa.table({"qid": [f"q{i}" for i in range(20)], "problem": [r["question"] for r in rows]})
    path = tmp_path / f"custom.{fmt}"
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    elif fmt == "parquet":
        pq.write_table(table, path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in table.to_pylist()))
    [bench] = load_benchmarks([str(path)], GenericSpec(("problem",), "qid", name="custom"))
    assert bench.key == "custom/eval" and [i.item_id for i in bench.items][:2] == ["q0", "q1"]
    assert bench.items[3].fields == (rows[3]["question"],)


def test_normalization_folds_case_punctuation_whitespace_and_width() -> None:
    a = tokenize(["Janet’s ducks lay 16 eggs per day."]).hashes
    b = tokenize(["JANET'S   ducks,\nlay 16 — eggs (per) DAY"]).hashes
    c = tokenize(["ＪＡＮＥＴＳ ducks lay １６ eggs per day"]).hashes
    assert a.tolist() == b.tolist() == c.tolist()
    assert tokenize(["Janet's geese lay 16 eggs per day"]).hashes.tolist() != a.tolist()


def test_word_hashes_are_stable_across_processes() -> None:
    """The same words hash the same in a fresh interpreter (no salted ``hash()``)."""
    here = tokenize(["benchmark contamination is measured"]).hashes.tolist()
    code = (
        "from dataprep.decontam.ngrams import tokenize; "
        "print(tokenize(['benchmark contamination is measured']).hashes.tolist())"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(there) == here


def test_word_hashes_are_each_words_xxh3_repeats_included() -> None:
    words = pl.concat([pl.Series(["the", "cat", "the", "é"]), pl.Series(["naïve", "cat", "x" * 300])], rechunk=False)
    assert word_hashes(words).tolist() == [xxhash.xxh3_64_intdigest(w.encode()) for w in words]


def test_word_spans_point_into_the_original_text() -> None:
    text = "Ｈｅｌｌｏ, e\u0301cole — don't  STOP’s"
    [(starts, ends)] = word_spans([text])
    assert [text[s:e] for s, e in zip(starts, ends)] == ["Ｈｅｌｌｏ", "e\u0301cole", "don't", "STOP’s"]


def test_short_fields_are_matched_whole_and_tiny_ones_not_indexed(sets, indexed) -> None:
    index, items = indexed
    names = items.column("benchmark").to_pylist()
    nq = [i for i, n in enumerate(names) if n == "nq_open"]
    short_q = next(i for i in nq if 8 <= len(sets_item(sets, i).fields[0].split()) < 13)
    question = sets_item(sets, short_q).fields[0]
    doc = "Some unrelated text first. " + question + " and then more unrelated words follow here."
    hits = scan([doc, question.rsplit(" ", 1)[0]], index)
    assert short_q in set(hits.item[hits.text == 0].tolist())
    assert short_q not in set(hits.item[hits.text == 1].tolist())  # a word short: no whole match
    assert (index.item_keys[[i for i, n in enumerate(names) if n == "triviaqa_sm_sub"]] == 0).any()


def sets_item(sets, i):
    return [item for b in sets for item in b.items][i]


def test_common_ngrams_are_ignored_above_the_document_threshold(sets, indexed) -> None:
    index, _ = indexed
    gsm = sets_item(sets, 0).fields[0]
    docs = [f"filler text number {k}. " + gsm for k in range(11)] + ["only this one. " + sets_item(sets, 1).fields[0]]
    hits = scan(docs, index)
    keys, counts = doc_frequency(hits)
    assert counts.max() == 11
    assert len(common_keys([(keys, counts)], 11)) == 0
    common = common_keys([(keys, counts)], 10)
    left = drop_keys(hits, common)
    assert set(left.text.tolist()) == {11}


def test_planted_contamination_recall(shared_data: Path, sets, indexed) -> None:
    """Acceptance: recall >= 0.99 for verbatim and normalization-only plants in long real documents."""
    index, _ = indexed
    docs = real_documents(shared_data, 150)
    planted, plants = plant(docs, sets, (index.item_keys > 0).tolist(), per_kind=150)
    found = {(m.text, m.item) for m in item_matches(scan(planted, index), planted, index.item_keys)}
    recall = {k: np.mean([(p.doc, p.item) in found for p in plants if p.kind == k]) for k in KINDS}
    assert recall["verbatim"] >= 0.99 and recall["normalized"] >= 0.99, recall
    assert recall["partial"] >= 0.6, recall  # half an item: found when that half still holds an n-gram


def test_clean_documents_flag_only_real_overlaps(shared_data: Path, sets, indexed) -> None:
    """The same documents without plants: every flag must be the item's own words, found again."""
    index, _ = indexed
    docs = real_documents(shared_data, 150)
    flags = item_matches(scan(docs, index), docs, index.item_keys)
    for m in flags:
        item_words = " ".join(" ".join(t.split()) for t in sets_item(sets, m.item).fields)
        for s, e in m.spans:
            assert _words(docs[m.text][s:e]) in _words(item_words)


def _words(text: str) -> str:
    from dataprep.decontam.ngrams import split_words

    return " ".join(split_words(pl.Series([text]))[0].to_list())


def test_redact_follows_the_gpt3_rule() -> None:
    text = "a" * 1000 + "MATCH" + "b" * 1000
    r = redact(text, [(1000, 1005)], context=200, min_piece=200)
    assert r.text == "a" * 800 + "\n\n" + "b" * 800 and r.cuts == 1
    short = redact("x" * 300 + "MATCH" + "y" * 150, [(300, 305)])
    assert short.text is None and short.reason == "contaminated_fully_redacted"
    many = redact("z" * 10_000, [(i * 800, i * 800 + 5) for i in range(12)])
    assert many.text is None and many.reason == "contaminated_many_matches"


def test_report_is_schema_valid_and_names_the_match(sets, indexed) -> None:
    index, items = indexed
    item = sets_item(sets, 5)
    doc = "Intro paragraph. " + "\n".join(item.fields) + " Outro."
    matches = item_matches(scan([doc], index), [doc], index.item_keys)
    rows = match_rows(matches, [doc], ["d1"], ["f.jsonl"], [7])
    bench = [
        {
            "name": b.name,
            "split": b.split,
            "fields": list(b.fields),
            "items": len(b.items),
            "indexed_items": 0,
            "files": [],
        }
        for b in sets
    ]
    report = build_report(
        config={"ngram": 13, "min_item_words": 8, "max_doc_freq": 10, "min_overlap": 0.0},
        benchmarks=bench,
        items=items,
        item_ngrams=index.item_keys.tolist(),
        matches=rows,
        data={"files": [], "documents": 1, "characters": len(doc)},
        common=[],
    )
    assert validate(report, "audit") == []
    first = report["matches"][0]
    assert (first["doc_id"], first["row"], first["item_id"]) == ("d1", 7, item.item_id)
    assert doc[first["start"] : first["end"]] == first["text"] and item.fields[0][:30] in first["text"]
    assert item.item_id in render_markdown(report)


def test_config_errors_are_caught_up_front(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from dataprep.stages.decontaminate import DecontaminateConfig

    ctx = {"base_dir": str(tmp_path)}
    (tmp_path / "evals").mkdir()
    assert DecontaminateConfig.model_validate({"benchmarks": ["evals"]}, context=ctx).ngram == 13
    for bad, message in [
        ({"benchmarks": ["missing"]}, "does not exist"),
        ({"benchmarks": ["evals"], "ngram": 7}, "greater than or equal to 8"),
        ({"benchmarks": ["evals"], "min_item_words": 20}, "cannot exceed ngram"),
        ({"benchmarks": ["evals"], "mode": "delete"}, "annotate"),
        ({"benchmarks": ["evals"], "n_gram": 13}, "Extra inputs"),
    ]:
        with pytest.raises(ValidationError, match=message):
            DecontaminateConfig.model_validate(bad, context=ctx)


def test_audit_flags_are_the_stage_config_with_the_errors_of_a_pipeline_file(tmp_path: Path, capsys) -> None:
    """``dataprep audit --ngram 7`` fails before any work, with the words a YAML ``ngram: 7`` gets."""
    from dataprep.cli import main
    from dataprep.config import PipelineError, load_pipeline

    (tmp_path / "evals").mkdir()
    (tmp_path / "docs.jsonl").write_text('{"text": "a"}\n')
    args = ["--data", str(tmp_path / "docs.jsonl"), "--benchmarks", str(tmp_path / "evals")]
    assert main(["audit", *args, "--ngram", "7", "--out", str(tmp_path / "out")]) == 2
    cli_error = capsys.readouterr().err
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text(
        "name: audit\nstages:\n  - {stage: ingest, inputs: [docs.jsonl]}\n"
        "  - {stage: decontaminate, benchmarks: [evals], ngram: 7}\n"
    )
    with pytest.raises(PipelineError) as yaml_error:
        load_pipeline(yaml_file)
    message = "stage 2 (decontaminate): ngram: Input should be greater than or equal to 8 (got 7)"
    assert message in cli_error and message in str(yaml_error.value)
    assert not (tmp_path / "out").exists()


def _zstd(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with pa.CompressedOutputStream(str(target), "zstd") as out:
        out.write(source.read_bytes())
    return target


def test_zstd_compressed_benchmark_reads_like_the_plain_file(tmp_path: Path, shared_data: Path) -> None:
    plain = shared_data / "benchmarks/gsm8k/test.jsonl"
    packed = _zstd(plain, tmp_path / "gsm8k/test.jsonl.zst")
    [want] = load_benchmarks([str(plain)])
    [got] = load_benchmarks([str(packed)])
    assert got.key == want.key and len(got.items) == 1319
    assert [i.fields for i in got.items] == [i.fields for i in want.items]


def test_a_malformed_benchmark_file_is_one_line_naming_it(tmp_path: Path, shared_data: Path, capsys) -> None:
    good = (shared_data / "benchmarks/gsm8k/test.jsonl").read_bytes()
    broken = {
        "json.jsonl": good[:2000] + b"\n{not json\n",
        "truncated.jsonl.zst": _zstd(shared_data / "benchmarks/gsm8k/test.jsonl", tmp_path / "z").read_bytes()[:5000],
        "latin1.jsonl": '{"question": "caf\u00e9", "answer": "x"}\n'.encode("latin-1"),
    }
    for name, data in broken.items():
        path = tmp_path / "gsm8k" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        with pytest.raises(ValueError) as err:
            load_benchmarks([str(path)])
        assert str(path) in str(err.value) and "\n" not in str(err.value), name
    from dataprep.cli import main

    (tmp_path / "docs.jsonl").write_text('{"text": "a document"}\n')
    args = ["--data", str(tmp_path / "docs.jsonl"), "--benchmarks", str(path), "--out", str(tmp_path / "out")]
    assert main(["audit", *args, "--executor", "local", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err


def test_audit_help_states_the_stage_defaults() -> None:
    """The flags leave unset settings to the stage's config model; their help must say its defaults."""
    import re

    from dataprep.cli import build_parser
    from dataprep.cli.audit import STAGE_SETTINGS
    from dataprep.stages.decontaminate import DecontaminateConfig

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["audit"]
    helps = {a.dest: a.help for a in sub._actions}
    for name in STAGE_SETTINGS:
        stated = re.search(r"\(default ([\d.]+)\)", helps[name]).group(1)
        assert float(stated) == DecontaminateConfig.model_fields[name].default, name
