"""What the span-removing stages (substring_dedup, line_dedup) share: their shape as a base class
(a corpus-wide pass finds repeats, each shard cuts its removals), cutting the spans out of each
shard's texts, and a scratch folder per (config, inputs)."""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from typing import Any, ClassVar

import pyarrow as pa

from dataprep.core.contract import WorkDir
from dataprep.dedup.scratch import CURRENT, current_pass
from dataprep.dedup.spans import Removals, cut
from dataprep.stages.base import FinalizeContext, PrepareContext, ShardContext, ShardResult, Stage, reject


class SpanRemovalStage(Stage):
    """A global stage that finds repeated spans over the whole corpus once (``prepare``), cuts each
    shard's share out of its texts (``process``) and reports the pass's figures (``finalize``).

    Subclasses set ``writes`` to (removed chars column, spans column) and ``reason``, and say how
    the repeats are found and read back; the config must have ``min_chars``.
    """

    kind = "global"
    reads = ("id", "text")
    reason: ClassVar[str]

    @abstractmethod
    def find_repeats(self, ctx: PrepareContext, work: WorkDir) -> dict[str, Any]:
        """Find the corpus's repeats into ``work`` (this config's scratch folder); the pass's stats."""

    @abstractmethod
    def removals(self, work: WorkDir, table: pa.Table, shard: int) -> Removals:
        """The spans to cut from shard ``shard`` (``table``), as the pass in ``work`` found them."""

    def prepare(self, ctx: PrepareContext) -> None:
        scope = pass_scope(self.config.model_dump(mode="json"), ctx)
        work = ctx.work.sub(scope)
        work.write_json("stats.json", self.find_repeats(ctx, work))
        ctx.work.write_json(CURRENT, {"scope": scope})

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        found = self.removals(current_pass(ctx.work), table, ctx.index)
        return apply_removals(table, found, self.config.min_chars, self.writes, self.reason)

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        return current_pass(ctx.work).read_json("stats.json")


def apply_removals(
    table: pa.Table, found: Removals, min_chars: int, columns: tuple[str, str], reason: str
) -> ShardResult:
    """Cut ``found`` out of the texts, add the (removed chars, spans) ``columns``; reject changed
    documents left shorter than ``min_chars`` (whitespace stripped) with ``reason``."""
    texts = table.column("text").to_pylist()
    done = cut(texts, found)
    short = [bool(c) and len(t.strip()) < min_chars for c, t in zip(done.changed, done.texts)]
    # rejected rows keep their input text, so the recorded spans index into it
    kept_text = [t if s else n for t, n, s in zip(texts, done.texts, short)]
    i = table.schema.get_field_index("text")  # the field as it came (non-nullable): one schema per stage
    out = table.set_column(i, table.schema.field(i), pa.array(kept_text, pa.string()))
    out = out.append_column(columns[0], pa.array(done.removed_chars, pa.int64()))
    out = out.append_column(columns[1], done.spans)
    stats = {
        "documents_changed": int(done.changed.sum()),
        "removed_chars": int(done.removed_chars.sum()),
        "removed_spans": len(found.row),
        "input_chars": sum(map(len, texts)),
    }
    result = reject(out, short, [reason] * len(short)) if any(short) else ShardResult(kept=out)
    result.stats = stats
    return result


def pass_scope(config: dict, ctx: PrepareContext) -> str:
    """A WorkDir folder per (config, inputs): a resumed or changed run never reads stale partitions."""
    key = json.dumps([config, [(s.path, s.rows, getattr(s, "sha256", "")) for s in ctx.inputs]])
    return "pass-" + hashlib.sha256(key.encode()).hexdigest()[:16]
