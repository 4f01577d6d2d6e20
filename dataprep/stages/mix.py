"""The mix stage: re-weight domains (or sources) to a target mixture with a token budget.

``prepare`` counts units per domain over the whole input (in parallel), plans the mixture
(weights or temperature, UniMax epoch caps, budget; see ``dataprep.mix.plan``) and fixes a
seeded sample per domain (``dataprep.mix.sample``). The driver holds per-domain histograms
over key ranges, never a per-document list: per-document measures stay in the work dir, and
only a sample's boundary ranges are read back. ``process`` then applies it shard by
shard: a document appears ``repeats`` times, plus once more if it is in the fractional
sample; a document appearing 0 times goes to rejected with reason ``not_sampled``.

Repeated copies get unique ids: the first copy keeps the document's id, copy ``k`` (k ≥ 2)
is ``<id>#r<k>``. Output shard ``i`` holds every first copy of input shard ``i`` in input
order, then every second copy, and so on, so repeats of a document are never adjacent.

With a tokenizer, counting encodes every document; those ids (text only) go out with each
kept copy in ``text_ids`` columns (``dataprep.tokenize.reuse``) so tokenize does not encode again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.core.contract import RunInfo, ShardRef, WorkDir
from dataprep.mix.plan import DomainPlan, InfeasibleMix, plan_mixture
from dataprep.mix.sample import (
    Cutoff,
    DomainDraw,
    Fetch,
    Histogram,
    buckets_of,
    choose_bucketed,
    copies,
    sample_keys,
    shard_histogram,
)
from dataprep.mix.scaling import chinchilla_budget
from dataprep.mix.settings import MixConfig
from dataprep.mix.units import Unit, columns_needed, count_units, describe_units
from dataprep.stages.base import FinalizeContext, PrepareContext, ShardContext, ShardResult, Stage
from dataprep.tokenize.encoder import tokenizer_source
from dataprep.tokenize.reuse import COLUMNS as CARRIED
from dataprep.tokenize.reuse import TEXT_IDS, encode_with_identity

NOT_SAMPLED = "not_sampled"
PLAN_FILE = "plan.json"


def measure_shard(task: tuple[ShardRef, str, Unit, str | None, int, WorkDir, int]) -> None:
    """Per document of one shard: group, units and sample key, kept in the work dir, with the
    shard's histogram per group and key range: all the planner reads (a Ray task: one tuple argument).

    With a tokenizer, the ids that counting computed are kept too, for ``process`` to emit,
    so the tokenize stage frames them instead of encoding the text again.
    """
    shard, by, unit, tokenizer, seed, work, index = task
    table = shard.read(["id", by, *columns_needed(unit)])
    if unit == "tokens" and tokenizer is not None:
        carried = encode_with_identity(table.column("text").to_pylist(), tokenizer)
        work.write_table(_ids_name(index), carried)
        units = pc.list_value_length(carried.column(TEXT_IDS)).to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        units = count_units(table, unit, tokenizer)
    keys = sample_keys(table.column("id").to_pylist(), seed)
    group = table.column(by).combine_chunks()
    measure = {"group": group, "units": units, "key": pa.array(keys, pa.uint64()), "id": table.column("id")}
    work.write_table(_measure_name(index), pa.table(measure))
    work.write_table(_histogram_name(index), shard_histogram(group, keys, units))


def fetch_shard(task: tuple[WorkDir, int, str, list[int]]) -> pa.Table:
    """The documents of one group in the given key ranges, from one shard's measure (a Ray task)."""
    work, index, group, buckets = task
    docs = work.read_table(_measure_name(index), ["group", "units", "key", "id"])
    keys = docs.column("key").to_numpy()
    mask = pc.and_(pc.equal(docs.column("group"), group), pa.array(np.isin(buckets_of(keys), buckets)))
    return docs.filter(mask).select(["key", "id", "units"])


def _measure_name(index: int) -> str:
    return f"measure/part-{index:05d}.parquet"


def _histogram_name(index: int) -> str:
    return f"histogram/part-{index:05d}.parquet"


def _ids_name(index: int) -> str:
    return f"text_ids/part-{index:05d}.parquet"


class MixStage(Stage):
    name = "mix"
    kind = "global"
    config_model = MixConfig
    reads = ("id", "text", "domain", "source")
    config: MixConfig

    def __init__(self, config: MixConfig, run: RunInfo) -> None:
        super().__init__(config, run)
        self.seed = config.seed if config.seed is not None else run.seed
        path, name = tokenizer_source(config.tokenizer, run) if config.unit == "tokens" else (None, None)
        self.tokenizer, self.tokenizer_name = path, name
        self.carries_ids = path is not None

    def prepare(self, ctx: PrepareContext) -> None:
        """Count units per group, plan the mixture (or fail saying what is possible), fix the sample."""
        cfg = self.config
        tasks = [
            (shard, cfg.by, cfg.unit, self.tokenizer, self.seed, ctx.work, i) for i, shard in enumerate(ctx.inputs)
        ]
        ctx.executor.map(measure_shard, tasks, num_cpus=self.num_cpus)
        hists: dict[str, Histogram] = {}
        for i in range(len(ctx.inputs)):  # one shard's histogram in memory at a time
            part = ctx.work.read_table(_histogram_name(i))
            for g in sorted(set(part.column("group").to_pylist())):
                rows = part.filter(pc.equal(part.column("group"), g))
                hists.setdefault(g, Histogram.empty()).add(
                    *(rows.column(c).to_numpy() for c in ("bucket", "count", "units", "min_units"))
                )
        names = sorted(hists)
        sizes = {g: int(hists[g].units.sum()) for g in names}
        if not names:
            raise InfeasibleMix(
                f"mix stage: no documents reached it ({len(ctx.inputs)} empty input shards): nothing to mix; "
                "see which stage rejected them (the run summary, rejected/ of each stage) or check the inputs"
            )
        try:
            plans = plan_mixture(
                sizes,
                weights=cfg.weights,
                temperature=cfg.temperature,
                budget=cfg.budget,
                max_epochs=cfg.max_epochs,
                max_epochs_per_domain=cfg.max_epochs_per_domain,
                unit=cfg.unit,
            )
        except InfeasibleMix as exc:
            raise InfeasibleMix(f"mix stage: {exc}") from None
        draws, report = _draw_all(plans, hists, lambda g: self._fetcher(ctx, g))
        total = sum(d["achieved"] for d in report.values())
        ctx.work.write_json(
            PLAN_FILE,
            {
                "draws": draws,
                "report": {
                    "by": cfg.by,
                    "units": describe_units(cfg.unit, self.tokenizer_name),
                    "seed": self.seed,
                    "budget": cfg.budget,
                    **({"chinchilla": chinchilla_budget(cfg.model_params).as_dict()} if cfg.model_params else {}),
                    "achieved_total": total,
                    "domains": report,
                },
            },
        )

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        """Repeat, sample or reject each document of the shard as the plan says."""
        draws = _draws(ctx.work.read_json(PLAN_FILE)["draws"])
        ids = table.column("id").to_pylist()
        groups = table.column(self.config.by).to_pylist()
        n = copies(groups, sample_keys(ids, self.seed), ids, draws)
        kept = self._with_ids(table, ctx)
        parts = [kept.filter(pa.array(n >= 1))]
        rows = [np.flatnonzero(n >= k) for k in range(1, int(n.max(initial=0)) + 1)]
        for k in range(2, int(n.max(initial=0)) + 1):
            chosen = n >= k
            repeat = kept.filter(pa.array(chosen))
            new_ids = pa.array([f"{i}#r{k}" for i, c in zip(ids, chosen) if c], pa.string())
            col = repeat.schema.get_field_index("id")
            parts.append(repeat.set_column(col, repeat.schema.field(col), new_ids))
        dropped = n == 0
        rejected = table.filter(pa.array(dropped))
        rejected = rejected.append_column("reason", pa.array([NOT_SAMPLED] * rejected.num_rows, pa.string()))
        out_per_group: dict[str, int] = {}
        for g, c in zip(groups, n.tolist()):
            out_per_group[g] = out_per_group.get(g, 0) + c
        return ShardResult(
            kept=pa.concat_tables(parts),
            rejected=rejected,
            added=int(np.maximum(n - 1, 0).sum()),
            stats={"documents_out": {g: out_per_group[g] for g in sorted(out_per_group)}},
            rows=pa.array(np.concatenate(rows) if rows else np.zeros(0, np.int64)),
            attributes=(_ids_name(ctx.index),) if ctx.work.exists(_ids_name(ctx.index)) else (),
        )

    def _fetcher(self, ctx: PrepareContext, group: str) -> Fetch:
        """Reads one group's documents of some key ranges from every shard's measure, in parallel."""

        def fetch(buckets: list[int]) -> tuple[np.ndarray, list[str], np.ndarray]:
            tasks = [(ctx.work, i, group, buckets) for i in range(len(ctx.inputs))]
            docs = pa.concat_tables(ctx.executor.map(fetch_shard, tasks, num_cpus=self.num_cpus))
            return docs.column("key").to_numpy(), docs.column("id").to_pylist(), docs.column("units").to_numpy()

        return fetch

    def output_columns(self) -> tuple[str, ...]:
        return CARRIED if self.carries_ids else ()

    def _with_ids(self, table: pa.Table, ctx: ShardContext) -> pa.Table:
        """``table`` with the ids ``measure_shard`` kept for it (every copy of a document carries them)."""
        if not self.carries_ids or not ctx.work.exists(_ids_name(ctx.index)):  # a plan made before ids were kept
            return table
        carried = ctx.work.read_table(_ids_name(ctx.index))
        if carried.num_rows != table.num_rows:
            raise RuntimeError(f"mix stage, shard {ctx.index}: {carried.num_rows} kept ids for {table.num_rows} rows")
        for name in carried.column_names:
            table = table.append_column(carried.schema.field(name), carried.column(name))
        return table

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        """The plan's report: per domain available, target, achieved tokens and weights, epochs."""
        return {"mix": ctx.work.read_json(PLAN_FILE)["report"]}


def _draw_all(
    plans: list[DomainPlan], hists: dict[str, Histogram], fetcher: Callable[[str], Fetch]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Each domain's draw (as stored for ``process``) and report entry, achieved figures included."""
    draws: dict[str, dict[str, Any]] = {}
    report: dict[str, dict[str, Any]] = {}
    planned = sum(p.target for p in plans)
    for plan in plans:
        hist = hists[plan.domain]
        cutoff, extra, sampled = choose_bucketed(hist, plan.fraction, fetcher(plan.domain))
        achieved = plan.repeats * plan.available + sampled
        draws[plan.domain] = {"repeats": plan.repeats, "cutoff": _cutoff_json(cutoff), "extra": list(extra)}
        report[plan.domain] = {
            **plan.as_dict(),
            "target_weight": plan.target / planned if planned else 0.0,
            "achieved": achieved,
            "documents": int(hist.counts.sum()),
        }
    total = sum(d["achieved"] for d in report.values())
    for entry in report.values():
        entry["achieved_weight"] = entry["achieved"] / total if total else 0.0
        entry["achieved_epochs"] = entry["achieved"] / entry["available"] if entry["available"] else 0.0
    return draws, report


def _cutoff_json(cutoff: Cutoff | None) -> list[Any] | None:
    return None if cutoff is None else [str(cutoff.key), cutoff.id]


def _draws(obj: dict[str, dict[str, Any]]) -> dict[str, DomainDraw]:
    """Draws as stored in the work dir (keys as decimal strings: JSON has no uint64)."""
    return {
        g: DomainDraw(
            d["repeats"],
            None if d["cutoff"] is None else Cutoff(int(d["cutoff"][0]), d["cutoff"][1]),
            tuple(d["extra"]),
        )
        for g, d in obj.items()
    }
