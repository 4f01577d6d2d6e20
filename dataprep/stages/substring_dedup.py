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

from dataprep.core.contract import StageConfig, WorkDir
from dataprep.dedup import substring
from dataprep.dedup.spans import Removals
from dataprep.stages.base import PrepareContext
from dataprep.stages.spans import SpanRemovalStage


class SubstringDedupConfig(StageConfig):
    """Which spans count as repeated and which copy stays."""

    min_tokens: int = Field(50, ge=2, description="shortest repeated span removed, in tokens (or words)")
    keep: Literal["first", "none"] = "first"  # first: the earliest copy by (id, position) stays
    tokens: Literal["auto", "words"] = "auto"  # auto: the pipeline tokenizer if it has one, else words
    min_chars: int = Field(50, ge=0, description="documents shorter than this after removal are rejected")
    partition_mb: int = Field(256, ge=1, description="memory of one shuffle partition")


class SubstringDedupStage(SpanRemovalStage):
    name = "substring_dedup"
    config_model = SubstringDedupConfig
    writes = ("substr_removed_chars", "substr_spans")
    reason = "substring_dup"
    config: SubstringDedupConfig

    def params(self) -> substring.Params:
        cfg = self.config
        tok = self.run.tokenizer if cfg.tokens == "auto" else None
        return substring.Params(cfg.min_tokens, cfg.keep, tok, cfg.partition_mb)

    def find_repeats(self, ctx: PrepareContext, work: WorkDir) -> dict[str, Any]:
        params = self.params()
        stats = substring.find_repeats(ctx.inputs, work, ctx.executor, params)
        stats["tokens_unit"] = "tokenizer" if params.tokenizer else "words"
        return stats

    def removals(self, work: WorkDir, table: pa.Table, shard: int) -> Removals:
        return substring.removals(work, self.params(), shard)
