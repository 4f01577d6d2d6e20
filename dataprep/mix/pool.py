"""Tokens per domain of a finished stage (a "pool"), for planning budgets against it.

A mix stage's manifest already says it (``stats.mix``: available and achieved units per
domain); any other stage whose shards have ``text`` and ``domain`` is counted here, shard by
shard, with the run's tokenizer, or estimated (UTF-8 bytes / 4, labelled) without one. One
process: the tokenizer's own threads do the work; for a very large pool, plan from the mix
stage's manifest instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pyarrow as pa

from dataprep.core.storage import Storage
from dataprep.mix.units import count_units, describe_units

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PoolTokens:
    stage: str
    units: str  # how tokens were counted, as a manifest says it ("tokens, exact: ..." or an ESTIMATE)
    unique: dict[str, int]  # distinct tokens per domain
    weights: dict[str, float] | None  # the mixture the pool already has (a mix stage), else None


def pool_tokens(stage_dir: str, tokenizer: str | None) -> PoolTokens:
    """Distinct tokens per domain of the stage at ``stage_dir``."""
    stage = Storage(stage_dir)
    if not stage.exists(MANIFEST):
        raise FileNotFoundError(f"{stage_dir}: no manifest.json (not a finished stage directory)")
    manifest = stage.read_json(MANIFEST)
    report = (manifest.get("stats") or {}).get("mix")
    if report and report["units"].startswith("tokens") and report.get("by", "domain") == "domain":
        # first copies are exactly the sampled documents below one epoch, every document above
        unique = {d: min(int(v["achieved"]), int(v["available"])) for d, v in report["domains"].items()}
        weights = {d: float(v["achieved_weight"]) for d, v in report["domains"].items()}
        return PoolTokens(stage_dir, report["units"], unique, weights)
    run_root = stage.parent()
    counts: dict[str, int] = {}
    for entry in manifest["outputs"]:
        table = run_root.read_parquet(entry["path"])
        if "domain" not in table.column_names or "text" not in table.column_names:
            raise ValueError(
                f"{stage_dir}: its shards have no text/domain columns (a tokenize stage?); "
                "give the stage before it, or a mix stage"
            )
        units = pa.array(count_units(table, "tokens", tokenizer))
        sums = pa.table({"domain": table.column("domain"), "n": units}).group_by("domain").aggregate([("n", "sum")])
        for d, n in zip(sums.column("domain").to_pylist(), sums.column("n_sum").to_pylist()):
            counts[d] = counts.get(d, 0) + int(n)
    name = os.path.basename(tokenizer) if tokenizer else None
    return PoolTokens(stage_dir, describe_units("tokens", name), dict(sorted(counts.items())), None)
