"""The substring_dedup stage: remove spans of >= ``min_tokens`` tokens repeated anywhere in the corpus.

Lee et al. (2022) showed that document-level near-dedup leaves repeated 50-token spans that
drive memorization. ``prepare`` finds every repeated window exactly across all shards (see
``dataprep.dedup.substring`` for the steps and the proof); ``process`` cuts the shard's
removed spans out of its texts and rejects documents left shorter than ``min_chars``.
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from dataprep.core.contract import StageConfig
from dataprep.dedup.scratch import CURRENT, current_pass
from dataprep.dedup.substring import Params, find_repeats, removals
from dataprep.stages.base import FinalizeContext, PrepareContext, ShardContext, ShardResult, Stage
from dataprep.stages.spans import apply_removals, pass_scope

REMOVED_COL, SPANS_COL = "substr_removed_chars", "substr_spans"
REASON = "substring_dup"


class SubstringDedupConfig(StageConfig):
    """Which spans count as repeated and which copy stays."""

    min_tokens: int = Field(50, ge=2, description="shortest repeated span removed, in tokens (or words)")
    keep: Literal["first", "none"] = "first"  # first: the earliest copy by (id, position) stays
    tokens: Literal["auto", "words"] = "auto"  # auto: the pipeline tokenizer if it has one, else words
    min_chars: int = Field(50, ge=0, description="documents shorter than this after removal are rejected")
    partition_mb: int = Field(256, ge=1, description="memory of one shuffle partition")


class SubstringDedupStage(Stage):
    name = "substring_dedup"
    kind = "global"
    config_model = SubstringDedupConfig
    reads = ("id", "text")
    writes = (REMOVED_COL, SPANS_COL)
    config: SubstringDedupConfig

    def params(self) -> Params:
        cfg = self.config
        tok = self.run.tokenizer if cfg.tokens == "auto" else None
        return Params(cfg.min_tokens, cfg.keep, tok, cfg.partition_mb)

    def prepare(self, ctx: PrepareContext) -> None:
        scope = pass_scope(self.config.model_dump(mode="json"), ctx)
        work = ctx.work.sub(scope)
        stats = find_repeats(ctx.inputs, work, ctx.executor, self.params())
        stats["tokens_unit"] = "tokenizer" if self.params().tokenizer else "words"
        work.write_json("stats.json", stats)
        ctx.work.write_json(CURRENT, {"scope": scope})

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        found = removals(current_pass(ctx.work), self.params(), ctx.index)
        return apply_removals(table, found, self.config.min_chars, (REMOVED_COL, SPANS_COL), REASON)

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        return current_pass(ctx.work).read_json("stats.json")
