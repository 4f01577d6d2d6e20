"""Model-based quality (GPT-3 / DCLM style): a fastText classifier of "high" vs "low" quality.

Trained on positive examples (text like the data one wants, e.g. Wikipedia, books, curated
answers) against negatives (random web text); the quality stage scores documents with the
probability of the positive label and thresholds it like any other signal.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataprep.core.storage import open_input
from dataprep.quality.langid import LABEL_PREFIX, fasttext_inputs
from dataprep.readers.base import reader_for_path

POSITIVE, NEGATIVE = "hq", "lq"


def read_texts(path: str | Path, text_field: str = "text") -> list[str]:
    """The non-empty ``text_field`` of every record of a file in a format ingest reads (JSONL,
    Parquet, ...; compressed or not; local or object store). Errors name the file and record."""
    path = str(path)
    texts = []
    with open_input(path) as stream:
        for rec in reader_for_path(path).fn(stream, path, {}):
            if rec.fields is None:
                raise ValueError(f"{path}:{rec.row}: {rec.error} ({rec.detail})")
            if text_field not in rec.fields:
                raise ValueError(f"{path}:{rec.row}: no field {text_field!r} (fields: {', '.join(rec.fields)})")
            text = rec.fields[text_field]
            if isinstance(text, str) and text:
                texts.append(text)
    return texts


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
