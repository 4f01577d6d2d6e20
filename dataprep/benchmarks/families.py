"""Loaders for the well-known benchmark families, one function per file layout.

Each loader turns one file into a ``BenchmarkSet`` whose items hold only benchmark text:
question, passage, choices, answer, solution, with harness scaffolding stripped.
Item ids are the set's own ids where it has them (HumanEval ``task_id``, SQuAD ``id``)
and ``<file>:<line>`` otherwise, so an auditor can open the file at the item.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataprep.benchmarks.files import open_text, read_records, texts_of
from dataprep.benchmarks.items import BenchmarkSet, Item, strip_scaffold
from dataprep.core.storage import strip_compression

FileLoader = Callable[[str], BenchmarkSet]


def file_stem(path: str) -> str:
    """``test`` for ``.../test.jsonl.gz``."""
    return os.path.splitext(os.path.basename(strip_compression(path)))[0]


def _item_id(path: str, row: int) -> str:
    return f"{os.path.basename(path)}:{row}"


def _records_set(
    path: str,
    name: str,
    split: str,
    fields: tuple[str, ...],
    extract: Callable[[dict[str, Any]], list[str]],
    id_key: str | None = None,
) -> BenchmarkSet:
    """A set with one item per record; ``extract`` returns the record's checked texts."""
    items = []
    for row, rec in read_records(path):
        item_id = str(rec[id_key]) if id_key and rec.get(id_key) is not None else _item_id(path, row)
        items.append(Item(item_id, tuple(extract(rec))))
    return BenchmarkSet(name, split, [path], fields, items)


_GSM8K_CALC = re.compile(r"<<[^>]*>>")
_GSM8K_FINAL = re.compile(r"\n?#### *")


def load_gsm8k(path: str) -> BenchmarkSet:
    """GSM8K: question and worked solution, without ``<<calc>>`` annotations or ``####``."""

    def extract(rec: dict[str, Any]) -> list[str]:
        answer = _GSM8K_FINAL.sub("\n", _GSM8K_CALC.sub("", rec.get("answer", "")))
        return texts_of(rec.get("question")) + texts_of(answer)

    return _records_set(path, "gsm8k", file_stem(path), ("question", "solution"), extract)


def load_humaneval(path: str) -> BenchmarkSet:
    """HumanEval: the prompt (signature + docstring) and the canonical solution."""
    return _records_set(
        path,
        "humaneval",
        "test",
        ("prompt", "solution"),
        lambda r: texts_of(r.get("prompt")) + texts_of(r.get("canonical_solution")),
        "task_id",
    )


def load_mbpp(path: str) -> BenchmarkSet:
    """MBPP: the task description and the reference code (tests are not prose, not checked)."""
    split = "full" if file_stem(path) == "mbpp" else file_stem(path)  # mbpp.jsonl holds all 974 tasks
    return _records_set(
        path,
        "mbpp",
        split,
        ("question", "solution"),
        lambda r: texts_of(r.get("text")) + texts_of(r.get("code")),
        "task_id",
    )


def load_mmlu(path: str) -> BenchmarkSet:
    """MMLU subject CSV (``question,choice0..3,answer``); the split is the parent folder."""
    split = os.path.basename(os.path.dirname(path)) or file_stem(path).rsplit("_", 1)[-1]

    def extract(rec: dict[str, Any]) -> list[str]:
        return texts_of(rec.get("question")) + [rec[k] for k in sorted(rec) if k.startswith("choice") and rec[k]]

    return _records_set(path, "mmlu", split, ("question", "choices"), extract)


def load_truthfulqa(path: str) -> BenchmarkSet:
    """TruthfulQA CSV: question, best answer, and the ``;``-separated correct/incorrect answers."""

    def extract(rec: dict[str, Any]) -> list[str]:
        answers = [a.strip() for k in ("Correct Answers", "Incorrect Answers") for a in (rec.get(k) or "").split(";")]
        return texts_of(rec.get("Question")) + texts_of(rec.get("Best Answer")) + [a for a in answers if a]

    return _records_set(path, "truthfulqa", "generation", ("question", "answers"), extract)


def load_nq_open(path: str) -> BenchmarkSet:
    """NQ-open: the question and its answers."""
    split = file_stem(path).removeprefix("NQ-open.")
    return _records_set(
        path,
        "nq_open",
        split,
        ("question", "answer"),
        lambda r: texts_of(r.get("question")) + texts_of(r.get("answer")),
    )


def load_squad(path: str) -> BenchmarkSet:
    """SQuAD JSON: one item per question with its Wikipedia passage, question and answers."""
    with open_text(path) as f:
        try:
            data = json.load(f)["data"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a SQuAD JSON file ({exc})") from None
    items = []
    for article in data:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                answers = sorted({a["text"] for a in qa.get("answers", [])})
                items.append(
                    Item(
                        str(qa["id"]), tuple(texts_of(para["context"]) + texts_of(qa["question"]) + texts_of(answers))
                    )
                )
    return BenchmarkSet(
        "squad_v2", file_stem(path).removesuffix("-v2.0"), [path], ("passage", "question", "answers"), items
    )


def load_hellaswag(path: str) -> BenchmarkSet:
    """HellaSwag text dump (6 lines a task: ``label: context``, gold index, 4 endings)."""
    with open_text(path) as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 6:
        raise ValueError(f"{path}: {len(lines)} lines is not a multiple of 6 (HellaSwag text layout)")
    items = []
    for start in range(0, len(lines), 6):
        label, _, context = lines[start].partition(": ")
        if not lines[start + 1].strip().isdigit():
            raise ValueError(
                f"{path}, line {start + 2}: expected the gold ending index, got {lines[start + 1][:40]!r}"
            )
        items.append(
            Item(_item_id(path, start + 1), tuple(texts_of(context) + texts_of(lines[start + 2 : start + 6])))
        )
    return BenchmarkSet("hellaswag", "val", [path], ("context", "endings"), items)


_JEOPARDY_CATEGORY = re.compile(r"^[^a-z:]{2,60}:\s")


def _icl_texts(rec: dict[str, Any]) -> list[str]:
    """Texts of a MosaicML ICL record in any of its four layouts, scaffolding removed."""
    out: list[str] = []
    for key in ("query", "context"):
        if isinstance(rec.get(key), str):
            text = _JEOPARDY_CATEGORY.sub("", rec[key]) if "category" in rec else rec[key]
            out += strip_scaffold(text)
    options = texts_of(rec.get("context_options"))
    continuation = rec.get("continuation") if isinstance(rec.get("continuation"), str) else ""
    if options:  # Winograd-style: each option is completed by the shared continuation
        out += [f"{opt} {continuation}".strip() for opt in options]
    else:
        out += texts_of(continuation)
    # Letter-only choices ("A".."D") are labels whose text is already in the query.
    out += [c for c in texts_of(rec.get("choices")) if len(c.strip()) > 1]
    out += texts_of(rec.get("chain_of_thought")) + texts_of(rec.get("answer"))
    return out


ICL_KEYS = ("query", "context", "context_options")


def load_icl(path: str) -> BenchmarkSet:
    """A MosaicML llm-foundry ICL file (the set is named after the file: ``arc_easy``...)."""
    return _records_set(
        path, file_stem(path), "eval", ("passage", "question", "choices", "answer", "solution"), _icl_texts
    )


@dataclass(frozen=True)
class Family:
    """A benchmark family: recognized by a name in its path, read file by file."""

    name: str
    hints: tuple[str, ...]  # lowercase names a path component may hold
    formats: tuple[str, ...]  # data formats of its files (see files.data_format) or file suffixes
    load: FileLoader


FAMILIES: tuple[Family, ...] = (
    Family("gsm8k", ("gsm8k",), ("jsonl",), load_gsm8k),
    Family("humaneval", ("humaneval", "human-eval", "human_eval"), ("jsonl",), load_humaneval),
    Family("mbpp", ("mbpp",), ("jsonl",), load_mbpp),
    Family("mmlu", ("mmlu",), ("csv",), load_mmlu),
    Family("truthfulqa", ("truthfulqa",), ("csv",), load_truthfulqa),
    Family("nq_open", ("nq_open", "nq-open"), ("jsonl",), load_nq_open),
    Family("squad_v2", ("squad",), ("json",), load_squad),
    Family("hellaswag", ("hellaswag",), (".txt",), load_hellaswag),
)
