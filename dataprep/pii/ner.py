"""Optional names and street addresses through a spaCy pipeline the user installed.

No model ships with dataprep (the official ones are not on PyPI; a model is a folder the
user downloads), so the backend is given by local path and stays off by default. spaCy is
imported only when it is used. The loaded pipeline is cached per process: stage objects are
pickled to workers, a spaCy pipeline need not be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from dataprep.pii.detectors import Offsets

# spaCy's OntoNotes labels (en_core_web_*) and Presidio's names -> our types.
DEFAULT_LABELS = {"PERSON": "name", "PER": "name", "FAC": "address", "LOC": "address", "GPE": "address"}


@cache
def _load(path: str) -> Any:
    try:
        import spacy
    except ImportError as e:
        raise RuntimeError("pii ner: spaCy is not installed (pip install spacy, then give a model folder)") from e
    return spacy.load(path)


@dataclass(frozen=True)
class NerDetector:
    """Entities of the labels mapped to ``type`` by the spaCy pipeline at ``model``."""

    model: str
    type: str
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    gate: None = None  # every document

    def find(self, text: str) -> Offsets:
        doc = _load(self.model)(text)
        return [(e.start_char, e.end_char) for e in doc.ents if self.labels.get(e.label_) == self.type]

    def check(self) -> None:
        """Load the model now, so a bad path fails before any shard is processed."""
        _load(self.model)
