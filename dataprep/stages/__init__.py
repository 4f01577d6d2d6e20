"""Stage registry: the name used in a pipeline YAML -> the class that implements it.

Entries are import strings so that a pipeline only imports the stages it uses (the quality
stage loads fastText, the tokenize stage loads HF tokenizers, ...).
"""

from __future__ import annotations

import importlib

from dataprep.stages.base import Stage

STAGES: dict[str, str] = {
    "ingest": "dataprep.stages.ingest:IngestStage",
    "quality": "dataprep.stages.quality:QualityStage",
    "dedup": "dataprep.stages.dedup:DedupStage",
    "substring_dedup": "dataprep.stages.substring_dedup:SubstringDedupStage",
    "line_dedup": "dataprep.stages.line_dedup:LineDedupStage",
    "decontaminate": "dataprep.stages.decontaminate:DecontaminateStage",
    "pii": "dataprep.stages.pii:PiiStage",
    "mix": "dataprep.stages.mix:MixStage",
    "tokenize": "dataprep.stages.tokenize:TokenizeStage",
}


def stage_class(name: str) -> type[Stage]:
    """The class registered under ``name``; a clear error listing the known names otherwise."""
    try:
        target = STAGES[name]
    except KeyError:
        known = ", ".join(sorted(STAGES))
        raise ValueError(f"unknown stage {name!r}; known stages: {known}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)
