"""substring_dedup on real book text with planted repeated spans, against a suffix-array reference."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from span_reference import Planted, plant, removed_spans, word_tokens

from dataprep.api import read_stage, run
from dataprep.cli import main as cli_main

BASE_BOOKS, DONOR_BOOKS = range(0, 12), range(12, 16)


def book_docs(shared_data: Path, books: range, per_book: int, words: int) -> list[str]:
    """Documents of about ``words`` words: runs of whole paragraphs from the middle of each book
    (Project Gutenberg's licence header and footer, the same in every book, left out)."""
    files = sorted((shared_data / "corpus" / "books" / "gitenberg").glob("pg*.txt.gz"))
    docs = []
    for f in [files[i] for i in books]:
        text = gzip.open(f, "rt", encoding="utf-8", errors="replace").read()
        paras = [p for p in text[len(text) // 10 : len(text) * 9 // 10].split("\n\n")[1:-1] if p.strip()]
        doc: list[str] = []
        for p in paras:
            doc.append(p)
            if sum(len(x.split()) for x in doc) >= words:
                docs.append("\n\n".join(doc))
                doc = []
                if len(docs) % per_book == 0:
                    break
    return docs


def unique_docs(docs: list[str], k: int) -> list[str]:
    """``docs`` without the ones holding a span of >= k words repeated anywhere in them."""
    named = [(f"{i:05d}", *word_tokens(t)) for i, t in enumerate(docs)]
    repeated = removed_spans(named, k, "none")
    return [t for (i, _, _), t in zip(named, docs) if i not in repeated]


@pytest.fixture(scope="module")
def planted(shared_data) -> Planted:
    """~170 documents of unique book text holding 14 spans of 50-500 words, 2-50 copies each."""
    base = unique_docs(book_docs(shared_data, BASE_BOOKS, 15, 300), 50)
    donors = book_docs(shared_data, DONOR_BOOKS, 10, 600)
    lengths = [50, 500, 73, 120, 260, 51, 400, 88]
    copies = [2, 50, 3, 17, 2, 30, 5]
    return plant(base, donors, random.Random(5), 14, lengths, copies)


def write_corpus(folder: Path, texts: list[str], solo: str | None = None) -> list[Path]:
    """JSONL input; ``solo`` (a document that is one planted copy) goes last, in its own file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / "books.jsonl"]
    files[0].write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    if solo is not None:
        files.append(folder / "solo.jsonl")
        files[1].write_text(json.dumps({"text": solo}) + "\n")
    return files


def pipeline(files: list[Path], **stage) -> dict:
    return {
        "name": "substr-test",
        "seed": 1,
        "stages": [
            {"stage": "ingest", "shard_rows": 40, "inputs": [{"path": str(f), "source": f.stem} for f in files]},
            {"stage": "substring_dedup", "partition_mb": 1, **stage},
        ],
    }


def spans_by_id(stage_dir: str) -> dict[str, list[tuple[int, int]]]:
    out = {}
    for rejected in (False, True):
        for row in read_stage(stage_dir, ["id", "substr_spans"], rejected=rejected).to_pylist():
            if row["substr_spans"]:
                out[row["id"]] = [(s["start"], s["end"]) for s in row["substr_spans"]]
    return out


def inside(spans: list[tuple[int, int]], a: int, b: int) -> bool:
    return any(s <= a and b <= e for s, e in spans)


@pytest.mark.parametrize("keep", ["first", "none"])
def test_every_planted_copy_is_found_no_unique_text_is_removed_and_the_reference_agrees(planted, tmp_path, keep):
    solo_span = planted.copies[1][0]  # the 500-word span: a document of nothing but a copy of it
    solo = planted.texts[solo_span[0]][solo_span[1] : solo_span[2]]
    files = write_corpus(tmp_path / "in", planted.texts, solo)
    res = run(pipeline(files, keep=keep, min_chars=100), output=str(tmp_path / "out"), executor="local")
    stage = res.stages[1]
    ingested = read_stage(res.stages[0].dir, ["id", "text"]).to_pylist()
    ids = [r["id"] for r in ingested]
    assert [r["text"] for r in ingested] == [*planted.texts, solo]
    found = spans_by_id(stage.dir)

    reference = removed_spans([(r["id"], *word_tokens(r["text"])) for r in ingested], 50, keep)
    assert found == reference

    # 100% of the planted repeats are removed: every copy but the first by id (keep: first), or all
    solo_copy = (len(ids) - 1, 0, len(solo))
    for s, copies in enumerate(planted.copies):
        copies = sorted(copies + ([solo_copy] if s == 1 else []), key=lambda c: (ids[c[0]], c[1]))
        for n, (d, a, b) in enumerate(copies):
            removed = inside(found.get(ids[d], []), a, b)
            assert removed == (keep == "none" or n > 0), (s, n)
    # 0 characters of unique text removed: every removed span lies inside planted copies
    planted_at: dict[str, list[tuple[int, int]]] = {ids[solo_copy[0]]: [solo_copy[1:]]}
    for copies in planted.copies:
        for d, a, b in copies:
            planted_at.setdefault(ids[d], []).append((a, b))
    for doc, spans in found.items():
        assert all(inside(planted_at[doc], s, e) for s, e in spans), doc

    # the solo document is all repeated text: rejected, its spans kept for lineage
    rejected = read_stage(stage.dir, ["id", "reason", "substr_removed_chars"], rejected=True).to_pylist()
    assert rejected == [{"id": ids[-1], "reason": "substring_dup", "substr_removed_chars": len(solo)}]
    assert stage.manifest["stats"]["unconfirmed_candidates"] >= 0
    assert stage.manifest["stats"]["partitions"][0] > 1  # the shuffle really was partitioned
    assert sum(r["substr_removed_chars"] for r in read_stage(stage.dir, ["substr_removed_chars"]).to_pylist()) > 0


def test_with_the_pipeline_tokenizer_spans_match_the_reference_on_token_ids(planted, tmp_path):
    from tokenizers import Tokenizer

    tok_path = Path(__file__).resolve().parent.parent / "pipelines" / "tokenizers" / "quickstart-bpe4k.json"
    texts = planted.texts[:60]
    files = write_corpus(tmp_path / "in", texts)
    cfg = dict(pipeline(files, min_tokens=64), tokenizer=str(tok_path))
    res = run(cfg, output=str(tmp_path / "out"), executor="local")
    assert res.stages[1].manifest["stats"]["tokens_unit"] == "tokenizer"
    tok = Tokenizer.from_file(str(tok_path))
    docs = []
    for row in read_stage(res.stages[0].dir, ["id", "text"]).to_pylist():
        enc = tok.encode(row["text"], add_special_tokens=False)
        docs.append((row["id"], enc.ids, enc.offsets))
    reference = removed_spans(docs, 64, "first")
    assert reference and spans_by_id(res.stages[1].dir) == reference


def test_lineage_shows_removed_spans_and_where_else_they_occur(planted, tmp_path, capsys):
    files = write_corpus(tmp_path / "in", planted.texts[:80])
    res = run(pipeline(files), output=str(tmp_path / "out"), executor="local")
    row = next(
        r
        for r in read_stage(res.stages[1].dir, ["id", "substr_spans"]).to_pylist()
        if r["substr_spans"] and r["substr_spans"][0]["also_in"] != [r["id"]]
    )
    assert cli_main(["lineage", res.output_dir, row["id"]]) == 0
    out = capsys.readouterr().out
    span = row["substr_spans"][0]
    assert f"[{span['start']}, {span['end']})  also in: {span['also_in'][0]}" in out


@pytest.mark.slow
def test_byte_identical_at_one_and_two_cpus_and_after_kill_and_resume(planted, tmp_path, ray_session):
    files = write_corpus(tmp_path / "in", planted.texts)
    cfg = pipeline(files)
    one = run(cfg, output=str(tmp_path / "one"), num_cpus=1).stages[1].manifest
    two = run(cfg, output=str(tmp_path / "two"), num_cpus=2).stages[1].manifest
    hashes = lambda m: [(o["path"], o["sha256"]) for o in m["outputs"] + m["rejected"]]  # noqa: E731
    assert hashes(one) == hashes(two) and one["stats"] == two["stats"]

    pipe = tmp_path / "p.yaml"
    pipe.write_text(json.dumps(cfg))
    out = tmp_path / "killed"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    cmd = [sys.executable, "-m", "dataprep", "run", str(pipe), "--output", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = out / "01-substring_dedup" / "_work"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(work.glob("pass-*/cand")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-prepare: windows shuffled, candidates being found
    proc.wait()
    assert not (out / "01-substring_dedup" / "manifest.json").exists()
    done = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = json.loads((out / "01-substring_dedup" / "manifest.json").read_text())
    assert hashes(resumed) == hashes(one)
