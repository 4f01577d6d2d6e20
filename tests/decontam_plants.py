"""Planted contamination built from real data: benchmark items inserted into real documents.

Documents are Python documentation pages and Project Gutenberg books cut into long pieces
(../shared/data/corpus); items are drawn, with a fixed seed, from every benchmark under
../shared/data/benchmarks that has at least one n-gram to find. Each item goes into the
middle of its own document, in one of three forms:

* ``verbatim``: the item's fields as they read, one per line;
* ``normalized``: the same words with case, punctuation and whitespace changed;
* ``partial``: the first half (rounded up) of the item's words, verbatim.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from dataprep.benchmarks import BenchmarkSet

KINDS = ("verbatim", "normalized", "partial")
PIECE_CHARS = 40_000  # book pieces: long documents, the plant lands deep inside


@dataclass
class Plant:
    doc: int  # index of the document it went into
    item: int  # global item index (the index's item row)
    kind: str


def real_documents(shared: Path, limit: int) -> list[str]:
    """Up to ``limit`` real documents of at least 2,000 characters, in a fixed order."""
    docs = [
        json.loads(line)["text"]
        for line in gzip.open(shared / "corpus/techdocs/python3.11-doc_rst_sources.jsonl.gz", "rt")
    ]
    for book in sorted((shared / "corpus/books/gitenberg").glob("*.txt.gz")):
        text = gzip.open(book, "rt", encoding="utf-8", errors="replace").read()
        docs += [text[i : i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS)]
    return [d for d in docs if len(d) >= 2000][:limit]


def perturb(text: str, rng: random.Random) -> str:
    """Case, punctuation and whitespace changes that keep the words (what normalization folds)."""
    out = []
    for word in text.split():
        r = rng.random()
        if r < 0.3:
            word = word.upper()
        elif r < 0.4:
            word = word.title()
        word = word.replace("'", "’") if rng.random() < 0.5 else word
        word = (
            re.sub(r"[.,;:!?]+$", "", word) if rng.random() < 0.5 else word + rng.choice([",", " ;", " -", "", "..."])
        )
        out.append(word + rng.choice([" ", "  ", "\n", "\t", " \n "]))
    return "".join(out)


def plant(
    docs: list[str], sets: list[BenchmarkSet], indexed: list[bool], per_kind: int, seed: int = 5
) -> tuple[list[str], list[Plant]]:
    """``per_kind`` plants of each kind, each in its own copy of a document (docs cycle)."""
    rng = random.Random(seed)
    items = [(i, item) for i, item in enumerate(it for b in sets for it in b.items) if indexed[i]]
    chosen = rng.sample(items, per_kind * len(KINDS))
    out_docs, plants = [], []
    for k, (item_index, item) in enumerate(chosen):
        kind = KINDS[k % len(KINDS)]
        text = "\n".join(item.fields)
        if kind == "normalized":
            text = perturb(text, rng)
        elif kind == "partial":
            words = text.split()
            text = " ".join(words[: (len(words) + 1) // 2])
        doc = docs[k % len(docs)]
        cut = doc.find("\n", len(doc) // 2)
        cut = len(doc) // 2 if cut < 0 else cut
        out_docs.append(doc[:cut] + "\n" + text + "\n" + doc[cut:])
        plants.append(Plant(len(out_docs) - 1, item_index, kind))
    return out_docs, plants
