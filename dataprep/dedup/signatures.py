"""Phase 1 of a dedup pass, per input shard: sketch every document, shuffle what later phases need.

Each document gets a graph node (a hash of its id), an exact digest of its normalized text
and a MinHash signature. Signatures are stored once, by node partition (``sigs``: read by
signature verification and re-read by ``dataprep dedup-sweep``); ranking attributes go to
node partitions (``attrs``), exact keys to digest partitions (``exact``) and LSH band buckets
to key partitions (``bands``).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import xxhash

from dataprep.core.contract import WorkDir
from dataprep.dedup.lsh import band_keys, has_shingles
from dataprep.dedup.minhash import exact_digests
from dataprep.dedup.normalize import normalize
from dataprep.dedup.scratch import NODE, Task, write_parts
from dataprep.dedup.settings import LENGTH, DedupConfig

BATCH_DOCS = 4096  # documents per signature batch: bounds the shingle arrays' memory


def node_ids(ids: pl.Series) -> np.ndarray:
    """A document's graph node: xxh3-64 of its id (stable; collisions are checked by ``clusters``)."""
    return np.fromiter((xxhash.xxh3_64_intdigest(i.encode("utf-8")) for i in ids.to_list()), np.uint64, len(ids))


def sketch(texts: pl.Series, cfg: DedupConfig) -> tuple[list[bytes], np.ndarray]:
    """Exact digests and MinHash signatures of raw texts, in batches to bound memory."""
    digests: list[bytes] = []
    sigs = []
    hasher = cfg.hasher()
    for start in range(0, len(texts), BATCH_DOCS):
        norm = normalize(texts.slice(start, BATCH_DOCS), cfg.normalize)
        digests.extend(exact_digests(norm))
        sigs.append(hasher.signatures(norm, single_spaced=cfg.normalize.whitespace))
    matrix = np.concatenate(sigs) if sigs else np.zeros((0, cfg.num_perm), np.uint64)
    return digests, matrix


def signature_task(task: Task) -> None:
    """Phase 1 (per input shard): sketch every document and shuffle what later phases need."""
    cfg, work, parts, shard = task.config, task.work, task.parts, task.shard
    assert shard is not None
    ranks = cfg.rank_columns()
    try:
        table = pl.from_arrow(shard.read(["id", "text", *ranks]))
    except (KeyError, pa.ArrowInvalid) as exc:
        raise ValueError(f"dedup keep rule {task.config.keep}: {shard.path} lacks a column it names ({exc})") from exc
    digests, sigs = sketch(table["text"], cfg)
    base = pl.DataFrame(
        {
            "node": pl.Series(node_ids(table["id"]), dtype=NODE),
            "id": table["id"],
            "exact": pl.Series(digests, dtype=pl.Binary),
            LENGTH: table["text"].str.len_chars().cast(pl.Int64),
        }
    )
    signed = base.select("node", "id", "exact", signature=pl.Series(sigs, dtype=pl.Array(pl.UInt64, cfg.num_perm)))
    write_parts(work, "sigs", task.index, signed, "node", parts)
    attrs = base.with_columns(
        *(table[c] for c in ranks),
        shard=pl.lit(task.index, pl.Int64),
        row=pl.int_range(0, table.height, dtype=pl.Int64),
    )
    write_parts(work, "attrs", task.index, attrs, "node", parts)
    ekey = np.frombuffer(b"".join(digests), dtype="<u8")[::2] if digests else np.zeros(0, np.uint64)
    keyed = base.select("node", "exact").with_columns(pl.Series("ekey", ekey, dtype=NODE))
    write_parts(work, "exact", task.index, keyed if cfg.exact else keyed.clear(), "ekey", parts)
    _write_bands(work, task.index, parts, keyed, sigs, cfg)


def _write_bands(
    work: WorkDir, index: int, parts: int, keyed: pl.DataFrame, sigs: np.ndarray, cfg: DedupConfig
) -> None:
    """Shuffle the band buckets of documents with shingles by key."""
    banding = cfg.banding()
    live = has_shingles(sigs) if cfg.near else np.zeros(len(sigs), bool)
    keys = band_keys(sigs[live], banding)
    docs = keyed.filter(pl.Series(live))
    bands = pl.DataFrame(
        {
            "band": np.repeat(np.arange(banding.bands, dtype=np.int32)[None, :], len(docs), 0).ravel(),
            "key": keys.ravel(),
            "node": np.repeat(docs["node"].to_numpy(), banding.bands),
            "exact": docs["exact"].gather(np.repeat(np.arange(len(docs)), banding.bands)),
        }
    )
    write_parts(work, "bands", index, bands, "key", parts)
