"""Language identification with fastText lid.176 (vendored, see models/README.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "lid.176.ftz"
LABEL_PREFIX = "__label__"


def fasttext_inputs(texts: Sequence[str] | pl.Series, max_chars: int | None) -> list[str]:
    """Texts as fastText takes them: one line each (it rejects "\\n"), optionally cut short."""
    s = pl.Series(texts, dtype=pl.String)
    if max_chars:
        s = s.str.slice(0, max_chars)
    return s.str.replace_all(r"[\n\r]", " ").to_list()


class FastTextModel:
    """A fastText model loaded on first use, so the owner stays picklable for Ray workers."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_model": None}

    @property
    def model(self) -> Any:
        if self._model is None:
            import fasttext

            if not Path(self.path).is_file():
                raise FileNotFoundError(f"fastText model not found: {self.path}")
            self._model = fasttext.load_model(self.path)
        return self._model

    def top_label(self, lines: list[str]) -> tuple[list[str], np.ndarray]:
        """The most likely label (prefix removed) and its probability, per line."""
        if not lines:
            return [], np.zeros(0)
        labels, probs = self.model.predict(lines, k=1)
        names = [lab[0].removeprefix(LABEL_PREFIX) if lab else "" for lab in labels]
        # quantised models can give 1.00004: clip so scores stay probabilities
        return names, np.clip(np.array([p[0] if len(p) else 0.0 for p in probs], dtype=np.float64), 0.0, 1.0)

    def label_probability(self, lines: list[str], label: str) -> np.ndarray:
        """The probability of ``label`` for each line (0 when it is not among the labels)."""
        if not lines:
            return np.zeros(0)
        labels, probs = self.model.predict(lines, k=-1)
        target = LABEL_PREFIX + label
        return np.array(
            [next((float(p) for lab, p in zip(ls, ps) if lab == target), 0.0) for ls, ps in zip(labels, probs)],
            dtype=np.float64,
        ).clip(0.0, 1.0)


def identify(model: FastTextModel, texts: Sequence[str] | pl.Series, max_chars: int | None = 2000) -> pl.DataFrame:
    """``lang`` (ISO 639 code as lid.176 names it) and ``lang_score`` for each text."""
    langs, scores = model.top_label(fasttext_inputs(texts, max_chars))
    return pl.DataFrame({"lang": pl.Series(langs, dtype=pl.String), "lang_score": pl.Series(scores, dtype=pl.Float64)})
