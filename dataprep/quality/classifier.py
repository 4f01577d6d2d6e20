"""Model-based quality (GPT-3 / DCLM style): a fastText classifier of "high" vs "low" quality.

Trained on positive examples (text like the data one wants, e.g. Wikipedia, books, curated
answers) against negatives (random web text); the quality stage scores documents with the
probability of the positive label and thresholds it like any other signal.

Models are quantized by default (fastText ``quantize``: the ``cutoff`` most important rows of
the embedding table, product-quantized, then retrained): an unquantized model is mostly its
2M-bucket n-gram table (~800 MB at dim 100, whatever the training set), and every worker of
the quality stage loads it.
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


# fastText's recommended setting (`quantize -cutoff 100000 -retrain -qnorm`): ~5 MB at dim 100.
QUANTIZE_CUTOFF = 100_000


@dataclass(frozen=True)
class TrainReport:
    positives: int
    negatives: int
    validation_docs: int
    validation_precision: float  # of the saved model
    validation_recall: float
    quantized: bool
    model_bytes: int
    agreement: float | None  # quantized: share of held-out documents it decides like the full model


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
    quantize: bool = True,
    cutoff: int = QUANTIZE_CUTOFF,
) -> TrainReport:
    """Train and save a fastText classifier; report precision/recall on a held-out split.

    Defaults (5 epochs, lr 0.1, word bigrams) are fastText's and DCLM's; small training sets
    need more epochs or a larger learning rate. One training thread and a seeded shuffle
    make the model file reproducible. ``quantize=False`` saves the full model.
    """
    if not positives or not negatives:
        raise ValueError(f"need positive and negative examples (got {len(positives)} and {len(negatives)})")
    import fasttext

    texts = fasttext_inputs(positives, max_chars) + fasttext_inputs(negatives, max_chars)
    lines = [f"{LABEL_PREFIX}{POSITIVE if i < len(positives) else NEGATIVE} {t}" for i, t in enumerate(texts)]
    order = np.random.default_rng(seed).permutation(len(lines))
    n_val = int(len(lines) * validation_fraction)
    held_out = [texts[i] for i in order[:n_val]]
    agreement = None
    with tempfile.TemporaryDirectory() as tmp:
        train_file, val_file = Path(tmp) / "train.txt", Path(tmp) / "valid.txt"
        train_file.write_text("\n".join(lines[i] for i in order[n_val:]) + "\n", encoding="utf-8")
        val_file.write_text("\n".join(lines[i] for i in order[:n_val]) + "\n", encoding="utf-8")
        model = fasttext.train_supervised(
            input=str(train_file), epoch=epoch, lr=lr, wordNgrams=word_ngrams, thread=1, seed=seed, verbose=0
        )
        if quantize:
            full = decisions(model, held_out)
            model.quantize(
                input=str(train_file), cutoff=cutoff, retrain=True, qnorm=True, epoch=epoch, lr=lr, thread=1, verbose=0
            )
            agreement = float(np.mean(full == decisions(model, held_out))) if n_val else None
        _, precision, recall = model.test(str(val_file)) if n_val else (0, float("nan"), float("nan"))
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    model.save_model(str(output))
    size = Path(output).stat().st_size
    return TrainReport(
        len(positives), len(negatives), n_val, float(precision), float(recall), quantize, size, agreement
    )


def decisions(model, texts: Sequence[str]) -> np.ndarray:
    """True where ``model`` (loaded fastText) ranks the high-quality label first, i.e. its score is >= 0.5."""
    labels, _ = model.predict(list(texts), k=1)
    return np.array([bool(lab) and lab[0] == f"{LABEL_PREFIX}{POSITIVE}" for lab in labels], dtype=bool)
