"""Phase 1 of a dedup pass, per input shard: sketch every document, shuffle what later phases need.

Each document gets a graph node (a hash of its id), an exact digest of its normalized text
and a MinHash signature. Signatures are stored once, by node partition (``sigs``: read by
signature verification, which compares 4 bits a value, and, kept whole, by ``dataprep
dedup-sweep``); ranking attributes go to node partitions (``attrs``), exact keys to digest
partitions (``exact``) and LSH band buckets to key partitions (``bands``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import xxhash

from dataprep.core.contract import ShardRef, WorkDir
from dataprep.dedup.containment import write_containment_sketch
from dataprep.dedup.lsh import band_keys, has_shingles, high_half
from dataprep.dedup.minhash import exact_digests, exact_keys, low_bits, pack
from dataprep.dedup.normalize import normalize
from dataprep.dedup.scratch import NODE, Task, write_parts
from dataprep.dedup.settings import LENGTH, DedupConfig

# Text bytes per signature batch: bounds the memory of a batch's arrays (8.4 MB per MB of 100-byte
# documents' text at peak, two thirds of it their signatures) while keeping batches large for short
# documents, whose per-batch overheads (a polars pass and numpy calls per batch) were 15% of phase 1
# with 4,096-document batches (measured when words were still hashed per batch).
BATCH_BYTES = 16 << 20


def node_ids(ids: pl.Series) -> np.ndarray:
    """A document's graph node: xxh3-64 of its id (stable; collisions are checked by ``clusters``).
    The ids' UTF-8 bytes come from one Binary cast, not a Python ``encode`` each (2x faster)."""
    return np.fromiter(map(xxhash.xxh3_64_intdigest, ids.cast(pl.Binary).to_list()), np.uint64, len(ids))


def sketch(texts: pl.Series, cfg: DedupConfig, with_shingles: bool = False) -> Sketch:
    """Exact digests and MinHash signatures of raw texts (and, if asked, their shingle hashes),
    in batches to bound memory."""
    digests: list[bytes] = []
    sigs, shingles, per_doc = [], [], []
    hasher = cfg.hasher()
    for start, length in batches(texts):
        norm = normalize(texts.slice(start, length), cfg.normalize)
        digests.extend(exact_digests(norm))
        batch = hasher.shingles(norm, single_spaced=cfg.normalize.whitespace)
        sigs.append(hasher.of_shingles(*batch))
        if with_shingles:
            shingles.append(batch[0])
            per_doc.append(batch[1])
    matrix = np.concatenate(sigs) if sigs else np.zeros((0, cfg.num_perm), np.uint32)
    if not with_shingles:
        return Sketch(digests, matrix)
    return Sketch(
        digests,
        matrix,
        np.concatenate([np.zeros(0, np.uint64), *shingles]),
        np.concatenate([np.zeros(0, np.int64), *per_doc]),
    )


def batches(texts: pl.Series) -> list[tuple[int, int]]:
    """``(start, length)`` runs of whole documents of about ``BATCH_BYTES`` text bytes each."""
    ends = np.cumsum(texts.str.len_bytes().fill_null(0).to_numpy(), dtype=np.int64)
    cuts = np.unique(np.searchsorted(ends, np.arange(BATCH_BYTES, int(ends[-1]) if len(ends) else 0, BATCH_BYTES)))
    bounds = [0, *(int(c) + 1 for c in cuts if c + 1 < len(texts)), len(texts)]
    return [(a, b - a) for a, b in zip(bounds, bounds[1:]) if b > a]


@dataclass
class Sketch:
    """What phase 1 computes per document: exact digests, signatures, optionally shingle hashes
    (all documents' back to back, ``per_doc`` of them each)."""

    digests: list[bytes]
    signatures: np.ndarray
    shingles: np.ndarray | None = None
    per_doc: np.ndarray | None = None


def sketch_documents(
    table: pl.DataFrame, cfg: DedupConfig, with_shingles: bool = False
) -> tuple[pl.DataFrame, Sketch]:
    """``node, id, exact, length`` of each document of ``table`` (columns ``id``, ``text``), and
    its sketch: what phase 1 and ``dataprep dedup-sweep`` compute the same way."""
    sketched = sketch(table["text"], cfg, with_shingles)
    base = pl.DataFrame(
        {
            "node": pl.Series(node_ids(table["id"]), dtype=NODE),
            "id": table["id"],
            "exact": pl.Series(sketched.digests, dtype=pl.Binary),
            LENGTH: table["text"].str.len_chars().cast(pl.Int64),
        }
    )
    return base, sketched


def sketch_shard(shard: ShardRef, cfg: DedupConfig) -> pl.DataFrame:
    """``node, exact, signature`` of every document of a shard (``dataprep dedup-sweep`` of a
    stage that kept no signatures sketches its inputs again with this)."""
    base, sketched = sketch_documents(pl.from_arrow(shard.read(["id", "text"])), cfg)
    return base.select("node", "exact").with_columns(pl.from_arrow(pack(sketched.signatures)).alias("signature"))


def signature_task(task: Task) -> None:
    """Phase 1 (per group of input shards): sketch every document and shuffle what later phases need.

    A group, not a shard: every partition task reads one piece of each file this phase writes,
    so writers x partitions reads per phase; with groups (at most four per partition, see
    ``Task.per_group``) that stays ~4 P^2 however small the shards are, and the pieces stay big
    enough for object storage, where each read is a request."""
    cfg, work, parts = task.config, task.work, task.parts
    ranks = cfg.rank_columns()
    tables = []
    for shard in task.group:
        try:
            tables.append(pl.from_arrow(shard.read(["id", "text", *ranks])))
        except (KeyError, pa.ArrowInvalid) as exc:
            raise ValueError(f"dedup keep rule {cfg.keep}: {shard.path} lacks a column it names ({exc})") from exc
    table = pl.concat(tables)
    sizes = [t.height for t in tables]
    first = task.index * task.per_group
    base, sketched = sketch_documents(table, cfg, with_shingles=cfg.measure == "containment")
    digests, sigs = sketched.digests, sketched.signatures
    if cfg.keep_signatures or cfg.verify in ("signature", "hybrid"):  # else nothing reads them
        # kept: whole values (512 bytes a row) and digests, as dedup-sweep bands them again; else
        # only the low bits that verification compares (64 bytes)
        kept = cfg.keep_signatures
        signed = base.select("node", "exact") if kept else base.select("node")
        signed = signed.to_arrow().append_column("signature", pack(sigs if kept else low_bits(sigs)))
        write_parts(work, "sigs", task.index, signed, "node", parts, compress=False)  # hashes: no compression
    attrs = base.with_columns(
        *(table[c] for c in ranks),
        shard=pl.Series(np.repeat(np.arange(first, first + len(sizes), dtype=np.int64), sizes)),
        row=pl.Series(np.concatenate([np.arange(n, dtype=np.int64) for n in sizes])),
    )
    write_parts(work, "attrs", task.index, attrs, "node", parts)
    keyed = base.select("node", "exact").with_columns(pl.Series("ekey", exact_keys(digests), dtype=NODE))
    write_exact(work, task.index, parts, keyed, cfg)
    write_bands(work, task.index, parts, keyed, sigs, cfg)
    if sketched.shingles is not None:
        write_containment_sketch(work, task.index, parts, base["node"], sketched.shingles, sketched.per_doc, cfg)


def write_exact(work: WorkDir, index: int, parts: int, keyed: pl.DataFrame, cfg: DedupConfig) -> None:
    """Shuffle each document's (node, exact digest) by its exact key (none if exact dedup is off);
    the key is the digest's first 64 bits, so it routes without being stored."""
    rows = keyed if cfg.exact else keyed.clear()
    write_parts(work, "exact", index, rows.select("node", "exact"), rows["ekey"].to_numpy(), parts)


def write_bands(
    work: WorkDir, index: int, parts: int, keyed: pl.DataFrame, sigs: np.ndarray, cfg: DedupConfig
) -> None:
    """Shuffle the band buckets of documents with shingles by key (Jaccard near duplicates only).

    A row is (key, node, exact key), 16 bytes: the key holds its band (``band_keys``); its low 32
    bits choose the partition and only the high 32 are stored, as of the exact key
    (``high_half``): 8 of 24 bytes a row saved, 144 a document. Keys of different buckets then
    agree by chance ~n^2 / 2^33 times among a partition's n rows (~1,000 at 3M rows): extra
    candidates that verification rejects, none lost."""
    banding = cfg.banding()
    live = has_shingles(sigs) if cfg.near and cfg.measure == "jaccard" else np.zeros(len(sigs), bool)
    keys = band_keys(sigs, banding)[live].ravel()
    docs = keyed.filter(pl.Series(live))
    bands = pl.DataFrame(
        {
            "key": high_half(keys),
            "node": np.repeat(docs["node"].to_numpy(), banding.bands),
            "ekey": np.repeat(high_half(docs["ekey"].to_numpy()), banding.bands),
        }
    )
    write_parts(work, "bands", index, bands, keys & np.uint64(0xFFFFFFFF), parts)
