"""Re-threshold a finished dedup stage from its stored signatures, without recomputing them.

For researchers choosing a threshold or (b, r): for each setting, how many documents
would go and how many clusters form. Runs in one process over all signatures
(``num_perm * 8`` bytes per document, 1 KB at the default 128): a research tool for
corpora that fit one machine; the stage itself is the partitioned, distributed path.
It reuses the stage's banding, candidate and verification functions and its connected
components (run by the given executor, in process for the CLI), so a setting equal to the
stage's own reproduces the stage's removal count; the exact checks of ``verify: jaccard``
and ``hybrid`` are estimated from the signatures here (no text is read), so there it may
differ by the pairs whose estimate falls on the other side of the threshold.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np
import polars as pl

from dataprep.core.contract import Executor
from dataprep.core.storage import StageWorkDir, Storage
from dataprep.dedup.components import connected_components, read_labels, write_edges
from dataprep.dedup.lsh import Banding, band_keys, candidate_pairs, estimate_similarity, has_shingles
from dataprep.dedup.minhash import exact_keys, unpack
from dataprep.dedup.scratch import CURRENT
from dataprep.dedup.settings import DedupConfig


@dataclass(frozen=True)
class Setting:
    banding: Banding
    threshold: float


def load_signatures(stage_dir: str) -> tuple[DedupConfig, pl.DataFrame]:
    """The stage's config (from its manifest) and every stored signature row."""
    storage = Storage(stage_dir)
    if not storage.exists("manifest.json"):
        raise FileNotFoundError(f"{stage_dir} has no manifest.json: not a finished stage directory")
    manifest = storage.read_json("manifest.json")
    if manifest["stage"]["name"] != "dedup":
        raise ValueError(f"{stage_dir} is a {manifest['stage']['name']!r} stage, not dedup")
    scope = storage.read_json(f"_work/{CURRENT}")["scope"] if storage.exists(f"_work/{CURRENT}") else ""
    names = storage.list(f"_work/{scope}/sigs")
    if not names:
        raise FileNotFoundError(f"{stage_dir}/_work/{scope}/sigs holds no signatures (was _work deleted?)")
    frames = [pl.from_arrow(storage.read_parquet(n)) for n in names]
    return DedupConfig(**manifest["config"]), pl.concat(frames).sort("id")


def evaluate(config: DedupConfig, sigs: pl.DataFrame, setting: Setting, executor: Executor) -> dict:
    """Removal figures of one setting (same exact grouping, candidates, verification and
    components as the stage; the components' scratch files live in a temporary folder)."""
    n = sigs.height
    index = pl.DataFrame({"node": sigs["node"], "i": np.arange(n)})
    edges = []
    if config.exact:
        reps = sigs.select("node", rep=pl.col("node").min().over("exact")).filter(pl.col("node") != pl.col("rep"))
        edges.append(reps.select(a="node", b="rep"))
    matrix = unpack(sigs["signature"], config.num_perm)
    live = has_shingles(matrix) & config.near
    keys = band_keys(matrix[live], setting.banding)
    docs = sigs.filter(pl.Series(live))
    buckets = pl.DataFrame(
        {
            "band": np.tile(np.arange(setting.banding.bands, dtype=np.int32), len(docs)),
            "key": keys.ravel(),
            "node": np.repeat(docs["node"].to_numpy(), setting.banding.bands),
            "ekey": np.repeat(exact_keys(docs["exact"].to_list()), setting.banding.bands),
        }
    )
    pairs, _ = candidate_pairs(buckets, config.bucket_anchors, config.exact)
    located = pairs.join(index.rename({"node": "a", "i": "ia"}), on="a").join(
        index.rename({"node": "b", "i": "ib"}), on="b"
    )
    if config.verify != "none" and not located.is_empty():  # exact checks estimated: no text
        similar = (
            estimate_similarity(matrix[located["ia"].to_numpy()], matrix[located["ib"].to_numpy()])
            >= setting.threshold
        )
        located = located.filter(pl.Series(similar))
    edges.append(located.select("a", "b"))
    with tempfile.TemporaryDirectory(prefix="dedup-sweep-") as tmp:
        work = StageWorkDir(Storage(tmp), "components")
        write_edges(work, "edges", 0, pl.concat(edges), 1)
        connected_components(work, executor, "edges", 1)
        sizes = read_labels(work, 0).group_by("label").len()["len"]
    clustered = int(sizes.sum())
    return {
        "bands": setting.banding.bands,
        "rows": setting.banding.rows,
        "threshold": setting.threshold,
        "candidate_probability_at_threshold": round(setting.banding.probability(setting.threshold), 4),
        "candidate_pairs": pairs.height,
        "clusters": len(sizes),
        "removed": clustered - len(sizes),
        "removed_fraction": round((clustered - len(sizes)) / max(1, n), 6),
    }
