"""The dedup stage: exact then MinHash-LSH near-duplicate removal, as a global Ray stage.

``prepare`` runs the whole-corpus pass as a chain of parallel maps over the stage's WorkDir
(each phase is hash-partitioned, so no task holds the whole corpus's buckets or edges):

1. per input shard: normalize, exact digest, MinHash signature, LSH band keys; keep the
   signatures (``<pass>/signatures/<shard>``, re-read by ``dataprep dedup-sweep``) and shuffle
   exact digests, band buckets, signatures and ranking attributes into partitions;
2. per partition: exact groups -> edges; band buckets -> candidate pairs (documents with
   equal normalized text collapse to one per bucket first);
3. verification: per partition, twice, join both signatures of each candidate and keep
   pairs whose MinHash estimate reaches the threshold (``verify: signature``); or locate
   both documents, then per shard, twice, recompute their shingle sets from the text and
   keep pairs whose exact Jaccard reaches it (``verify: jaccard``); or keep every distinct
   candidate (``verify: none``);
4. connected components by partitioned min-label propagation (``dedup.components``);
5. per partition: the members of each component, ranked by the ``keep`` rule (document
   content and id only, never arrival order); per shard decision tables.

``process`` then rejects its shard's decided rows with ``exact_dup`` (same normalized text
as the kept document) or ``near_dup``, and ``dup_of`` = the id of the kept document.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import xxhash
from pydantic import Field, field_validator, model_validator

from dataprep.core.contract import ShardRef, StageConfig, WorkDir
from dataprep.dedup.components import NODE, connected_components, read_labels, read_part, size_histogram, write_parts
from dataprep.dedup.lsh import Banding, band_keys, candidate_pairs, derive_banding, estimate_similarity, has_shingles
from dataprep.dedup.minhash import MinHasher, exact_digests
from dataprep.dedup.normalize import Normalization, normalize
from dataprep.stages.base import FinalizeContext, PrepareContext, ShardContext, ShardResult, Stage, reject, sum_stats

EXACT, NEAR = "exact_dup", "near_dup"
CURRENT = "current.json"  # names the WorkDir sub-folder of the latest prepare pass
LENGTH = "length"
ROWS_PER_PARTITION = 200_000  # rows of one shuffle partition, when ``partitions`` is not set
BATCH_DOCS = 4096  # documents per signature batch: bounds the shingle arrays' memory


class DedupConfig(StageConfig):
    """What counts as a duplicate and which copy stays."""

    normalize: Normalization = Normalization()
    exact: bool = True  # remove documents whose normalized text is identical
    near: bool = True  # remove MinHash-LSH near duplicates
    ngram: int = Field(5, ge=1, le=64, description="words per shingle")
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations (64-bit values)")
    threshold: float = Field(0.8, gt=0, lt=1, description="Jaccard similarity that makes a near duplicate")
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    # (b, r) from the threshold when not given. Candidates are verified, so false positives
    # cost only verification time while false negatives are lost duplicates: weigh the latter.
    false_positive_weight: float = Field(0.1, ge=0, le=1)
    false_negative_weight: float = Field(0.9, ge=0, le=1)
    # Candidates become edges if their signatures agree on >= threshold of values
    # ("signature"), if the exact Jaccard of their shingle sets reaches it ("jaccard": reads
    # the candidates' text again), or unverified ("none").
    verify: Literal["signature", "jaccard", "none"] = "signature"
    keep: list[str] = Field(default_factory=lambda: [LENGTH])
    bucket_anchors: int = Field(100, ge=1, description="a bucket's members are paired with its first N members")
    hash_seed: int = Field(1, ge=0)
    partitions: int | None = Field(None, ge=1, le=4096)

    @model_validator(mode="after")
    def _banding_fits(self) -> DedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then they come from threshold)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:  # type: ignore[operator]
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")  # type: ignore[operator]
        if not (self.exact or self.near):
            raise ValueError("exact and near are both off: the stage would do nothing")
        return self

    @field_validator("keep")
    @classmethod
    def _keep_terms(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not term.lstrip("-"):
                raise ValueError("keep terms are 'length' or a numeric column name, '-' first to prefer low values")
        return terms

    def banding(self) -> Banding:
        if self.bands is not None and self.rows is not None:
            return Banding(self.bands, self.rows)
        return derive_banding(self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight)

    def hasher(self) -> MinHasher:
        return MinHasher(num_perm=self.num_perm, ngram=self.ngram, seed=self.hash_seed)

    def rank_columns(self) -> list[str]:
        """Input columns the keep rule reads (``length`` is computed from the text)."""
        return [t.lstrip("-") for t in self.keep if t.lstrip("-") != LENGTH]


@dataclass(frozen=True)
class _Task:
    """One parallel unit of ``prepare`` (picklable: sent to a Ray task)."""

    config: DedupConfig
    work: WorkDir
    parts: int  # hash partitions of the shuffles
    shards: int  # input shards
    index: int  # the partition or shard this task works on
    shard: ShardRef | None = None


class DedupStage(Stage):
    name = "dedup"
    kind = "global"
    config_model = DedupConfig
    reads = ("id", "text", "source", "domain")
    writes = ()

    config: DedupConfig

    def prepare(self, ctx: PrepareContext) -> None:
        cfg = self.config
        total = sum(s.rows for s in ctx.inputs)
        parts = cfg.partitions or max(1, math.ceil(total / ROWS_PER_PARTITION))
        scope = (
            "pass-"
            + hashlib.sha256(
                json.dumps(
                    [cfg.model_dump(mode="json"), [(s.path, s.rows, getattr(s, "sha256", "")) for s in ctx.inputs]]
                ).encode()
            ).hexdigest()[:16]
        )
        work = ctx.work.sub(scope)
        shards = len(ctx.inputs)
        shard_tasks = [_Task(cfg, work, parts, shards, i, s) for i, s in enumerate(ctx.inputs)]
        part_tasks = [_Task(cfg, work, parts, shards, p) for p in range(parts)]
        ctx.executor.map(_signature_task, shard_tasks)
        found = ctx.executor.map(_candidates_task, part_tasks)
        if cfg.verify == "none":
            found += ctx.executor.map(_accept_task, part_tasks)
        elif cfg.verify == "signature":
            found += ctx.executor.map(_sig_first_task, part_tasks) + ctx.executor.map(_sig_second_task, part_tasks)
        else:
            found += ctx.executor.map(_locate_first_task, part_tasks)
            ctx.executor.map(_locate_second_task, part_tasks)
            ctx.executor.map(_jaccard_first_task, shard_tasks)
            found += ctx.executor.map(_jaccard_second_task, shard_tasks)
        rounds = connected_components(work, ctx.executor, "edges", parts)
        ctx.executor.map(_members_task, part_tasks)
        sizes = [s for chunk in ctx.executor.map(_decide_task, part_tasks) for s in chunk]
        banding = cfg.banding()
        ctx.work.write_json(CURRENT, {"scope": scope})
        work.write_json(
            "stats.json",
            {
                "bands": banding.bands,
                "rows": banding.rows,
                "threshold": cfg.threshold,
                "candidate_probability_at_threshold": round(banding.probability(cfg.threshold), 4),
                "partitions": parts,
                "component_rounds": rounds,
                "clusters": len(sizes),
                "cluster_sizes": size_histogram(sizes),
                **sum_stats(found),
            },
        )

    def process(self, table: pa.Table, ctx: ShardContext) -> ShardResult:
        decided = read_part(current_pass(ctx.work), "decided", ctx.index)
        rows = pl.DataFrame({"row": np.arange(table.num_rows, dtype=np.int64)})
        if not decided.is_empty():
            rows = rows.join(decided.select("row", "reason", "dup_of"), on="row", how="left", maintain_order="left")
        else:
            rows = rows.with_columns(pl.lit(None, pl.String).alias("reason"), pl.lit(None, pl.String).alias("dup_of"))
        mask = rows["reason"].is_not_null()
        result = reject(table, mask.to_arrow(), rows["reason"].filter(mask).to_arrow())
        dup_of = rows["dup_of"].filter(mask).to_arrow()
        if result.rejected is not None:
            result.rejected = result.rejected.append_column("dup_of", dup_of.cast(pa.string()))
        result.stats = _shard_stats(table, rows["reason"])
        return result

    def merge_stats(self, per_shard: list[dict[str, Any]]) -> dict[str, Any]:
        """Sums, plus the removed fraction by source and by domain."""
        stats = sum_stats(per_shard)
        for key in ("source", "domain"):
            docs, removed = stats.get(f"docs_by_{key}", {}), stats.get(f"removed_by_{key}", {})
            stats[f"removed_fraction_by_{key}"] = {
                k: round(removed.get(k, 0) / n, 6) for k, n in sorted(docs.items()) if n
            }
        return stats

    def finalize(self, ctx: FinalizeContext) -> dict[str, Any]:
        return current_pass(ctx.work).read_json("stats.json")


def current_pass(work: WorkDir) -> WorkDir:
    """The scratch folder of the latest completed ``prepare`` (signatures, decisions, stats)."""
    return work.sub(work.read_json(CURRENT)["scope"])


def _shard_stats(table: pa.Table, reason: pl.Series) -> dict[str, Any]:
    """Documents and removals of one shard, by source and by domain."""
    df = pl.from_arrow(table.select(["source", "domain"])).with_columns(reason.alias("reason"))
    out: dict[str, Any] = {}
    for key in ("source", "domain"):
        out[f"docs_by_{key}"] = _counts(df, key)
        out[f"removed_by_{key}"] = _counts(df.filter(pl.col("reason").is_not_null()), key)
    return out


def _counts(df: pl.DataFrame, key: str) -> dict[str, int]:
    return {str(k): int(n) for k, n in df.group_by(key).len().sort(key).iter_rows()}


def node_ids(ids: pl.Series) -> np.ndarray:
    """A document's graph node: xxh3-64 of its id (stable; collisions are checked in phase 5)."""
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


def _signature_task(task: _Task) -> None:
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
    work.write_table(
        f"signatures/{task.index:05d}",
        base.with_columns(pl.Series("signature", sigs, dtype=pl.Array(pl.UInt64, cfg.num_perm))).to_arrow(),
    )
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
    """Shuffle band buckets by key, and signatures by node for verification."""
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
    signed = docs.select("node").with_columns(
        pl.Series("signature", sigs[live], dtype=pl.Array(pl.UInt64, cfg.num_perm))
    )
    write_parts(work, "sigs", index, signed if cfg.verify == "signature" else signed.clear(), "node", parts)


def _both_ways(pairs: pl.DataFrame) -> pl.DataFrame:
    """Undirected edges as directed rows ``(u, v)`` and ``(v, u)``."""
    return pl.concat([pairs.select(u="a", v="b"), pairs.select(u="b", v="a")])


def _candidates_task(task: _Task) -> dict[str, int]:
    """Phase 2 (per partition): exact groups become edges; band buckets become candidate pairs."""
    work, parts, p = task.work, task.parts, task.index
    exact = read_part(work, "exact", p)
    groups = pl.DataFrame(schema={"node": NODE, "rep": NODE})
    if not exact.is_empty():
        groups = (
            exact.unique().with_columns(rep=pl.col("node").min().over("exact")).filter(pl.col("node") != pl.col("rep"))
        )
    write_parts(work, "edges", 2 * p, _both_ways(groups.select(a="node", b="rep")), "u", parts)
    pairs, large = candidate_pairs(read_part(work, "bands", p), task.config.bucket_anchors, task.config.exact)
    write_parts(work, "cand", p, pairs, "a", parts)  # a pair found in several bands lands once per band
    return {"exact_groups": groups["rep"].n_unique(), "large_buckets": large}


def _accept_task(task: _Task) -> dict[str, int]:
    """Phase 3 (``verify: none``): every distinct candidate pair is an edge."""
    pairs = read_part(task.work, "cand", task.index).unique()
    write_parts(task.work, "edges", 2 * task.index + 1, _both_ways(pairs), "u", task.parts)
    return {"candidate_pairs": pairs.height}


def _attach(
    work: WorkDir,
    pairs: str,
    table: str,
    part: int,
    side: str,
    columns: dict[str, str],
    out: str,
    route: str,
    route_parts: int,
) -> int:
    """Join one partition of candidate pairs with a node-partitioned table on endpoint
    ``side`` (renaming ``columns``), then shuffle the result by column ``route``. Returns
    the number of distinct pairs."""
    found = read_part(work, table, part).select(
        pl.col("node").alias(side), *(pl.col(c).alias(n) for c, n in columns.items())
    )
    distinct = read_part(work, pairs, part).unique()
    write_parts(work, out, part, distinct.join(found, on=side), route, route_parts)
    return distinct.height


def _sig_first_task(task: _Task) -> dict[str, int]:
    """Phase 3a (``verify: signature``): the first document's signature, sent to the second's partition."""
    n = _attach(task.work, "cand", "sigs", task.index, "a", {"signature": "sig_a"}, "cand2", "b", task.parts)
    return {"candidate_pairs": n}


def _sig_second_task(task: _Task) -> dict[str, int]:
    """Phase 3b: the second signature; pairs whose similarity estimate reaches the threshold are edges."""
    pairs = read_part(task.work, "cand2", task.index)
    joined = pairs.join(read_part(task.work, "sigs", task.index).rename({"node": "b", "signature": "sig_b"}), on="b")
    edges = joined.select("a", "b")
    if not joined.is_empty():
        similar = estimate_similarity(joined["sig_a"].to_numpy(), joined["sig_b"].to_numpy()) >= task.config.threshold
        edges = edges.filter(pl.Series(similar))
    write_parts(task.work, "edges", 2 * task.index + 1, _both_ways(edges), "u", task.parts)
    return {"verified_pairs": edges.height}


def _locate_first_task(task: _Task) -> dict[str, int]:
    """Phase 3a (``verify: jaccard``): where the first document of each pair lives."""
    n = _attach(
        task.work, "cand", "attrs", task.index, "a", {"shard": "shard_a", "row": "row_a"}, "cand2", "b", task.parts
    )
    return {"candidate_pairs": n}


def _locate_second_task(task: _Task) -> None:
    """Phase 3b: where the second lives; pairs go to the first document's shard."""
    _attach(
        task.work,
        "cand2",
        "attrs",
        task.index,
        "b",
        {"shard": "shard_b", "row": "row_b"},
        "jside",
        "shard_a",
        task.shards,
    )


def _shingle_sets(task: _Task, rows: pl.Series) -> pl.DataFrame:
    """``row -> shingles`` (distinct shingle hashes) of some rows of the task's shard."""
    assert task.shard is not None
    rows = rows.unique().sort()
    texts = pl.from_arrow(task.shard.read(["text"]))["text"].gather(rows)
    norm = normalize(texts, task.config.normalize)
    shingles, per_doc = task.config.hasher().shingles(norm, single_spaced=task.config.normalize.whitespace)
    flat = pl.DataFrame({"row": np.repeat(rows.to_numpy(), per_doc), "h": pl.Series(shingles, dtype=NODE)})
    return flat.group_by("row").agg(pl.col("h").unique(maintain_order=False).alias("shingles"))


def _jaccard_first_task(task: _Task) -> None:
    """Phase 3c (per shard): the first documents' shingle sets, sent to the second documents' shards."""
    pairs = read_part(task.work, "jside", task.index)
    sets = _shingle_sets(task, pairs["row_a"]).rename({"row": "row_a", "shingles": "set_a"})
    write_parts(
        task.work,
        "jset",
        task.index,
        pairs.join(sets, on="row_a").select("a", "b", "shard_b", "row_b", "set_a"),
        "shard_b",
        task.shards,
    )


def _jaccard_second_task(task: _Task) -> dict[str, int]:
    """Phase 3d (per shard): exact Jaccard of the two shingle sets; pairs reaching the threshold are edges."""
    pairs = read_part(task.work, "jset", task.index)
    sets = _shingle_sets(task, pairs["row_b"]).rename({"row": "row_b", "shingles": "set_b"})
    both = pairs.join(sets, on="row_b")
    common = pl.col("set_a").list.set_intersection("set_b").list.len()
    union = pl.col("set_a").list.len() + pl.col("set_b").list.len() - common
    edges = both.filter(common >= task.config.threshold * union).select("a", "b")
    write_parts(task.work, "edges", 2 * task.parts + task.index, _both_ways(edges), "u", task.parts)
    return {"verified_pairs": edges.height}


def _members_task(task: _Task) -> None:
    """Phase 4 (per node partition): each graph node's ranking attributes, sent to its component's partition."""
    attrs = read_part(task.work, "attrs", task.index)
    dupes = attrs.filter(pl.col("node").is_duplicated())
    if not dupes.is_empty():
        raise RuntimeError(f"two document ids share a 64-bit node hash: {sorted(dupes['id'].to_list())[:4]}")
    labels = read_labels(task.work, task.index)
    members = (
        labels.join(attrs, on="node")
        if not labels.is_empty()
        else attrs.clear().with_columns(pl.lit(0, NODE).alias("label"))
    )
    write_parts(task.work, "members", task.index, members, "label", task.parts)


def _decide_task(task: _Task) -> list[int]:
    """Phase 5 (per label partition): rank each component, route decisions to their shards.

    The kept document is the first by the ``keep`` rule, ties broken by the smallest id, so
    the choice depends on content and ids only. Returns the component sizes.
    """
    cfg = task.config
    members = read_part(task.work, "members", task.index)
    if members.is_empty():
        return []
    order = [t.lstrip("-") for t in cfg.keep] + ["id"]
    descending = [not t.startswith("-") for t in cfg.keep] + [False]
    ranked = members.sort(["label", *order], descending=[False, *descending], nulls_last=True)
    first = ranked.group_by("label", maintain_order=True).first().select("label", kept="id", kept_exact="exact")
    decided = (
        ranked.join(first, on="label")
        .filter(pl.col("id") != pl.col("kept"))
        .select(
            "shard",
            "row",
            dup_of="kept",
            reason=pl.when(pl.col("exact") == pl.col("kept_exact")).then(pl.lit(EXACT)).otherwise(pl.lit(NEAR)),
        )
    )
    for shard, chunk in decided.partition_by("shard", as_dict=True, include_key=False).items():
        task.work.write_table(f"decided/{shard[0]:05d}/{task.index:05d}", chunk.sort("row").to_arrow())
    return sorted(ranked.group_by("label").len()["len"].to_list())
