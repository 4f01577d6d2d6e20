"""Re-threshold a finished dedup stage from its stored signatures, without recomputing them.

For researchers choosing a threshold or (b, r): for each setting, how many documents
would go and how many clusters form. Runs in one process over all signatures
(``num_perm * 8`` bytes per document, 1 KB at the default 128): a research tool for
corpora that fit one machine; the stage itself is the partitioned, distributed path.
It reuses the stage's banding, candidate and verification functions, so a setting equal
to the stage's own reproduces the stage's removal count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dataprep.core.storage import Storage
from dataprep.dedup.lsh import Banding, band_keys, candidate_pairs, estimate_similarity, has_shingles
from dataprep.stages.dedup import CURRENT, DedupConfig


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
    names = storage.list(f"_work/{scope}/signatures")
    if not names:
        raise FileNotFoundError(f"{stage_dir}/_work/{scope}/signatures holds no signatures (was _work deleted?)")
    frames = [pl.from_arrow(storage.read_parquet(n)) for n in names]
    return DedupConfig(**manifest["config"]), pl.concat(frames).sort("id")


def evaluate(config: DedupConfig, sigs: pl.DataFrame, setting: Setting) -> dict:
    """Removal figures of one setting (same exact grouping, candidates and verification as the stage)."""
    n = sigs.height
    index = pl.DataFrame({"node": sigs["node"], "i": np.arange(n)})
    edges = []
    if config.exact:
        reps = sigs.select("node", rep=pl.col("node").min().over("exact")).filter(pl.col("node") != pl.col("rep"))
        edges.append(reps.select(a="node", b="rep"))
    matrix = sigs["signature"].to_numpy()
    live = has_shingles(matrix) & config.near
    keys = band_keys(matrix[live], setting.banding)
    docs = sigs.filter(pl.Series(live))
    buckets = pl.DataFrame(
        {
            "band": np.tile(np.arange(setting.banding.bands, dtype=np.int32), len(docs)),
            "key": keys.ravel(),
            "node": np.repeat(docs["node"].to_numpy(), setting.banding.bands),
            "exact": docs["exact"].gather(np.repeat(np.arange(len(docs)), setting.banding.bands)),
        }
    )
    pairs, _ = candidate_pairs(buckets, config.bucket_anchors, config.exact)
    located = pairs.join(index.rename({"node": "a", "i": "ia"}), on="a").join(
        index.rename({"node": "b", "i": "ib"}), on="b"
    )
    if config.verify != "none" and not located.is_empty():  # "jaccard" is estimated here: no text
        similar = (
            estimate_similarity(matrix[located["ia"].to_numpy()], matrix[located["ib"].to_numpy()])
            >= setting.threshold
        )
        located = located.filter(pl.Series(similar))
    edges.append(located.select("a", "b"))
    graph = (
        pl.concat(edges)
        .join(index.rename({"node": "a", "i": "ia"}), on="a")
        .join(index.rename({"node": "b", "i": "ib"}), on="b")
    )
    _, labels = connected_components(
        coo_matrix((np.ones(graph.height), (graph["ia"].to_numpy(), graph["ib"].to_numpy())), shape=(n, n)),
        directed=False,
    )
    sizes = np.bincount(labels)
    clustered = sizes[sizes > 1]
    return {
        "bands": setting.banding.bands,
        "rows": setting.banding.rows,
        "threshold": setting.threshold,
        "candidate_probability_at_threshold": round(setting.banding.probability(setting.threshold), 4),
        "candidate_pairs": pairs.height,
        "clusters": int(len(clustered)),
        "removed": int(clustered.sum() - len(clustered)),
        "removed_fraction": round(float(clustered.sum() - len(clustered)) / max(1, n), 6),
    }
