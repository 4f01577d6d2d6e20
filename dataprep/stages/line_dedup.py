"""The line_dedup stage: remove lines or paragraphs repeated across many documents (boilerplate).

CCNet and Dolma remove lines seen in many documents (navigation, cookie notices, licence
footers) rather than whole documents. ``prepare`` counts every unit's documents exactly over
the corpus (``dataprep.dedup.lines``); ``process`` cuts the shard's removed units and rejects
documents left shorter than ``min_chars``, with the same accounting as substring_dedup.
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from dataprep.core.contract import StageConfig, WorkDir
from dataprep.dedup import lines
from dataprep.dedup.spans import Removals
from dataprep.stages.base import PrepareContext
from dataprep.stages.spans import SpanRemovalStage


class LineDedupConfig(StageConfig):
    """Which units, how common they must be to go, and how many documents keep them."""

    unit: Literal["line", "paragraph"] = "line"
    min_docs: int = Field(2, ge=2, description="a unit found in this many documents is repeated")
    keep: int = Field(1, ge=0, description="documents (first by id) that keep a repeated unit")
    min_chars: int = Field(50, ge=0, description="documents shorter than this after removal are rejected")
    partition_mb: int = Field(256, ge=1, description="memory of one shuffle partition")


class LineDedupStage(SpanRemovalStage):
    name = "line_dedup"
    config_model = LineDedupConfig
    writes = ("line_removed_chars", "line_spans")
    reason = "line_dup"
    config: LineDedupConfig

    def params(self) -> lines.Params:
        cfg = self.config
        return lines.Params(cfg.unit, cfg.min_docs, cfg.keep, cfg.partition_mb)

    def find_repeats(self, ctx: PrepareContext, work: WorkDir) -> dict[str, Any]:
        return lines.find_repeats(ctx.inputs, work, ctx.executor, self.params())

    def removals(self, work: WorkDir, table: pa.Table, shard: int) -> Removals:
        return lines.removals(work, table, self.config.unit, shard)
