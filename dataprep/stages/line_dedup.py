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

from dataprep.core.contract import StageConfig
from dataprep.dedup.lines import Params, find_repeats, removals
from dataprep.dedup.scratch import CURRENT, current_pass
from dataprep.stages.base import FinalizeContext, PrepareContext, ShardContext, ShardResult, Stage
from dataprep.stages.spans import apply_removals, pass_scope

REMOVED_COL, SPANS_COL = "line_removed_chars", "line_spans"
REASON = "line_dup"


class LineDedupConfig(StageConfig):
    """Which units, how common they must be to go, and how many documents keep them."""

    unit: Literal["line", "paragraph"] = "line"
    min_docs: int = Field(2, ge=2, description="a unit found in this many documents is repeated")
    keep: int = Field(1, ge=0, description="documents (first by id) that keep a repeated unit")
    min_chars: int = Field(50, ge=0, description="documents shorter than this after removal are rejected")
    partition_mb: int = Field(256, ge=1, description="memory of one shuffle partition")


class LineDedupStage(Stage):
    name = "line_dedup"
    kind = "global"
    config_model = LineDedupConfig
    reads = ("id", "text")
    writes = (REMOVED_COL, SPANS_COL)
    config: LineDedupConfig

    def params(self) -> Params:
        cfg = self.config
        return Params(cfg.unit, cfg.min_docs, cfg.keep, cfg.partition_mb)

    def prepare(self, ctx: PrepareContext) -> None:
        scope = pass_scope(self.config.model_dump(mode="json"), ctx)
        work = ctx.work.sub(scope)
        work.write_json("stats.json", find_repeats(ctx.inputs, work, ctx.executor, self.params()))
        ctx.work.write_json(CURRENT, {"scope": scope})

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        found = removals(current_pass(ctx.work), table, self.config.unit, ctx.index)
        return apply_removals(table, found, self.config.min_chars, (REMOVED_COL, SPANS_COL), REASON)

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        return current_pass(ctx.work).read_json("stats.json")
