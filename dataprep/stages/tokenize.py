"""The tokenize stage: text -> token ids, framed by EOS (and optional BOS) per document.

Output shards have ``id``, ``input_ids`` (uint16 when the vocabulary fits, else uint32) and
``n_tokens`` (including BOS/EOS). Documents with empty text go to rejected
(``empty_text``): a lone EOS would be silent noise in training data. ``finalize`` exports
the whole stage, shard by shard, to a Megatron-LM indexed dataset (``tokens.bin`` /
``tokens.idx``) and a flat ``tokens.bin`` with a document index ``tokens.docs.parquet``
(the same ``.bin`` serves both; see ``dataprep.tokenize.flat``). Ids a mix stage carried
for this tokenizer and text are framed, not encoded again (``dataprep.tokenize.reuse``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.core.contract import InputPath, RunInfo, StageConfig
from dataprep.stages.base import FinalizeContext, ShardContext, ShardResult, Stage, reject
from dataprep.tokenize.encoder import (
    body_array,
    encode_texts,
    frame,
    load_tokenizer,
    special_token_id,
    token_dtype,
    tokenizer_source,
)
from dataprep.tokenize.export import export_tokens
from dataprep.tokenize.reuse import reusable_ids, without_ids

EMPTY_TEXT = "empty_text"
EXPORT_PREFIX = "tokens"


class TokenizeConfig(StageConfig):
    tokenizer: InputPath | None = Field(None, description="tokenizer.json; default: the pipeline's tokenizer")
    eos_token: str | None = Field(None, description="end-of-document token; default: the first known EOS name")
    bos_token: str | None = Field(None, description="start-of-document token; none by default")
    export: bool = Field(True, description="write Megatron .bin/.idx and the flat doc index")


class TokenizeStage(Stage):
    name = "tokenize"
    config_model = TokenizeConfig
    reads = ("id", "text")
    writes = ("input_ids", "n_tokens")
    config: TokenizeConfig

    def __init__(self, config: TokenizeConfig, run: RunInfo) -> None:
        """Resolve the tokenizer and its special ids once, in the driver: a bad token name fails
        before any shard is tokenized, naming the tokenizer and the setting to change."""
        super().__init__(config, run)
        self.tokenizer_path, self.tokenizer_name = tokenizer_source(config.tokenizer, run)
        if self.tokenizer_path is None:
            raise ValueError("tokenize stage: no tokenizer; set tokenizer: in the stage or the pipeline")
        tok = load_tokenizer(self.tokenizer_path)
        self.eos_id = special_token_id(tok, config.eos_token, self.tokenizer_path, "eos")
        self.bos_id = (
            None if config.bos_token is None else special_token_id(tok, config.bos_token, self.tokenizer_path, "bos")
        )
        self.dtype = token_dtype(tok)

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        """Frame the ids mix carried (``dataprep.tokenize.reuse``) when they match this tokenizer
        and text, else encode the shard."""
        empty = pc.equal(pc.utf8_length(table.column("text")), 0).combine_chunks()
        split = reject(table, empty, [EMPTY_TEXT] * int(pc.sum(empty).as_py() or 0))
        split.rejected = without_ids(split.rejected)
        docs = split.kept
        texts = docs.column("text").to_pylist()
        body = reusable_ids(docs, self.tokenizer_path, texts)
        reused = body is not None
        if body is None:
            body = body_array(encode_texts(load_tokenizer(self.tokenizer_path), texts), self.dtype)
        tokens = frame(body, self.dtype, self.bos_id, self.eos_id)
        n_tokens = pc.list_value_length(tokens).cast(pa.int64())
        kept = pa.table({"id": docs.column("id"), "input_ids": tokens, "n_tokens": n_tokens})
        split.kept = kept
        split.stats = {
            "tokens": int(pc.sum(n_tokens).as_py() or 0),
            "documents": kept.num_rows,
            "documents_reused_ids": kept.num_rows if reused else 0,
        }
        return split

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        """Export the training formats, streaming shard by shard in output order."""
        figures: dict[str, Any] = {
            "tokenizer": self.tokenizer_name,
            "eos_id": self.eos_id,
            "bos_id": self.bos_id,
            "dtype": np.dtype(self.dtype).name,
        }
        if self.config.export:
            figures["export"] = export_tokens(ctx.outputs, ctx.artifacts, EXPORT_PREFIX, self.dtype)
        return figures
