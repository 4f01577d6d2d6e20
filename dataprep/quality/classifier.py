"""Model-based quality (GPT-3 / DCLM style): a fastText classifier of "high" vs "low" quality.

Trained on positive examples (text like the data one wants, e.g. Wikipedia, books, curated
answers) against negatives (random web text); the quality stage scores documents with the
probability of the positive label and thresholds it like any other signal.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from dataprep.quality.langid import LABEL_PREFIX, fasttext_inputs

POSITIVE, NEGATIVE = "hq", "lq"


def read_texts(path: str | Path, text_field: str = "text") -> list[str]:
    """The ``text_field`` of every record of a Parquet or JSONL(.gz) file; errors name the file and line."""
    path = Path(path)
    if path.suffix == ".parquet":
        schema = pq.read_schema(path)
        if text_field not in schema.names:
            raise ValueError(f"{path}: no column {text_field!r} (columns: {', '.join(schema.names)})")
        return [t for t in pq.read_table(path, columns=[text_field]).column(text_field).to_pylist() if t]
    return list(_jsonl_texts(path, text_field))


def _jsonl_texts(path: Path, text_field: str) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)[text_field]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{line_no}: no {text_field!r} in a JSON object ({exc})") from None
            if text:
                yield text


@dataclass(frozen=True)
class TrainReport:
    positives: int
    negatives: int
    validation_docs: int
    validation_precision: float
    validation_recall: float


def train(
    positives: Sequence[str],
    negatives: Sequence[str],
    output: str | Path,
    *,
    seed: int = 0,
    epoch: int = 5,
    lr: float = 0.1,
    word_ngrams: int = 2,
    max_chars: int | None = 10000,
    validation_fraction: float = 0.1,
) -> TrainReport:
    """Train and save a fastText classifier; report precision/recall on a held-out split.

    Defaults (5 epochs, lr 0.1, word bigrams) are fastText's and DCLM's; small training sets
    need more epochs or a larger learning rate. One training thread and a seeded shuffle
    make the model file reproducible.
    """
    if not positives or not negatives:
        raise ValueError(f"need positive and negative examples (got {len(positives)} and {len(negatives)})")
    import fasttext

    lines = [f"{LABEL_PREFIX}{POSITIVE} {t}" for t in fasttext_inputs(positives, max_chars)]
    lines += [f"{LABEL_PREFIX}{NEGATIVE} {t}" for t in fasttext_inputs(negatives, max_chars)]
    order = np.random.default_rng(seed).permutation(len(lines))
    n_val = int(len(lines) * validation_fraction)
    with tempfile.TemporaryDirectory() as tmp:
        train_file, val_file = Path(tmp) / "train.txt", Path(tmp) / "valid.txt"
        train_file.write_text("\n".join(lines[i] for i in order[n_val:]) + "\n", encoding="utf-8")
        val_file.write_text("\n".join(lines[i] for i in order[:n_val]) + "\n", encoding="utf-8")
        model = fasttext.train_supervised(
            input=str(train_file), epoch=epoch, lr=lr, wordNgrams=word_ngrams, thread=1, seed=seed, verbose=0
        )
        _, precision, recall = model.test(str(val_file)) if n_val else (0, float("nan"), float("nan"))
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    model.save_model(str(output))
    return TrainReport(len(positives), len(negatives), n_val, float(precision), float(recall))
