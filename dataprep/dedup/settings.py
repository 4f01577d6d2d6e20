"""The dedup settings: what counts as a duplicate and which copy stays.

Its own module, below the stage, so that the stage, its phases and ``dataprep dedup-sweep``
all read one model without a library importing the stage.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dataprep.core.contract import StageConfig
from dataprep.dedup.lsh import CHANCE, Banding, agreement_at_least, derive_banding, observed
from dataprep.dedup.minhash import MinHasher
from dataprep.dedup.normalize import Normalization

LENGTH = "length"  # the keep-rule term computed from the text, not read from a column


class DedupConfig(StageConfig):
    """What counts as a duplicate and which copy stays."""

    normalize: Normalization = Normalization()
    exact: bool = True  # remove documents whose normalized text is identical
    near: bool = True  # remove MinHash-LSH near duplicates
    ngram: int = Field(5, ge=1, le=64, description="words per shingle")
    num_perm: int = Field(
        128, ge=8, le=1024, multiple_of=2, description="MinHash permutations (32-bit values; even: see low_bits)"
    )
    threshold: float = Field(0.8, gt=0, lt=1, description="Jaccard similarity that makes a near duplicate")
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    # (b, r) from the threshold when not given: the cheapest banding under which a pair of
    # Jaccard threshold + 0.02 becomes a candidate with at least this probability.
    candidate_recall: float = Field(0.98, gt=0, lt=1)
    # Candidates become edges if their signature estimate is clearly above the threshold, or,
    # within ``margin()`` of it, if the exact Jaccard of their shingle sets reaches it
    # ("hybrid": reads only those candidates' text again); if their signatures agree on >=
    # threshold of values ("signature"); if their exact Jaccard reaches it ("jaccard": reads
    # every candidate's text again); or unverified ("none").
    verify: Literal["hybrid", "signature", "jaccard", "none"] = "hybrid"
    # What makes a near duplicate: shingle-set Jaccard with another document, or containment
    # in a document at least as long (its shingles at least ``threshold`` inside the other's:
    # partial copies, e.g. an answer copied from a longer page; always verified exactly).
    measure: Literal["jaccard", "containment"] = "jaccard"
    anchors: int = Field(16, ge=4, le=256, description="containment: shingles sampled per document")
    keep: list[str] = Field(default_factory=lambda: [LENGTH])
    bucket_anchors: int = Field(100, ge=1, description="a bucket's members are paired with its first N members")
    hash_seed: int = Field(1, ge=0)
    partitions: int | None = Field(
        None, ge=1, le=4096, description="shuffle partitions; from memory_per_task if not set"
    )
    memory_per_task: int = Field(1 << 30, ge=16 << 20, description="bytes of data one partition task may hold")
    # Signatures are num_perm * 4 bytes a document (512 bytes at the default): ~12x the input's
    # Parquet bytes at 100 bytes a document, ~0.5 TB at 10^9 documents. Not kept by default: ``dataprep
    # dedup-sweep`` sketches the stage's inputs again (one pass, a third of the stage's cost); keep
    # them when sweeping the same stage many times.
    keep_signatures: bool = Field(
        False, description="keep signatures in _work for dataprep dedup-sweep (512 bytes a document)"
    )

    @model_validator(mode="after")
    def _banding_fits(self) -> DedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then they come from threshold)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:  # type: ignore[operator]
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")  # type: ignore[operator]
        if not (self.exact or self.near):
            raise ValueError("exact and near are both off: the stage would do nothing")
        if self.measure == "containment" and self.verify in ("signature", "none"):
            raise ValueError("measure: containment is verified exactly: use verify: hybrid or jaccard")
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
        return derive_banding(self.threshold, self.num_perm, self.candidate_recall)

    def margin(self) -> float:
        """Half-width of the band around the threshold where ``hybrid`` checks exactly: three
        standard errors of the estimate from 4-bit values (0.110 at 0.8 and 128 values; chance
        agreement makes it 4% wider than whole values' 0.106). A pair 0.02 above the threshold
        falls below it with probability ~2e-4; one 0.1 below rises above it ~1e-6."""
        agree = observed(self.threshold)
        return 3 * math.sqrt(agree * (1 - agree) / self.num_perm) / (1 - CHANCE)

    def anchor_share(self) -> float:
        """Containment: the share of a document's anchors another must hold to be a candidate,
        the largest that a pair contained at threshold + 0.02 reaches with probability >=
        ``candidate_recall`` (anchors are a uniform sample of its shingles)."""
        target = min(self.threshold + 0.02, 1.0)
        for held in range(self.anchors, 0, -1):
            if agreement_at_least(target, self.anchors, held / self.anchors) >= self.candidate_recall:
                return held / self.anchors
        return 1 / self.anchors

    def recall_curve(self) -> dict[str, float]:
        """Predicted chance that a pair of each similarity (Jaccard, or containment) is merged:
        P(candidate) times P(verified), from the binomial agreement of sampled values."""
        banding, t, n, m = self.banding(), self.threshold, self.num_perm, self.margin()
        points = sorted({round(x / 20, 2) for x in range(10, 21)} | {round(t - 0.1, 2), round(t + 0.02, 2)})
        curve = {}
        for j in (p for p in points if 0 < p <= 1):
            if self.measure == "containment":
                curve[f"{j:.2f}"] = round(agreement_at_least(j, self.anchors, self.anchor_share()) * (j >= t), 4)
                continue
            if self.verify == "none":
                verified = 1.0
            elif self.verify == "jaccard":
                verified = float(j >= t)
            elif self.verify == "signature":
                verified = agreement_at_least(observed(j), n, observed(t))
            else:  # clearly above by estimate, or within the margin and truly above
                above, near = (agreement_at_least(observed(j), n, observed(x)) for x in (t + m, t - m))
                verified = above + (near - above) * (j >= t)
            curve[f"{j:.2f}"] = round(banding.probability(j) * verified, 4)
        return curve

    def partition_count(self, documents: int) -> int:
        """Shuffle partitions: as given, or enough that one partition task's data fits ``memory_per_task``.

        A partition holds its documents' signatures (8 bytes a permutation), band rows (~40 bytes
        a band) and attributes (~256 bytes), about three times over while joining: ~6 KB a
        document at the defaults, ~179k documents a GiB (a 200k-document partition was measured
        at 1.3 GB peak RSS, interpreter included).
        """
        if self.partitions is not None:
            return self.partitions
        per_document = 3 * (8 * self.num_perm + 40 * self.banding().bands + 256)
        return max(1, math.ceil(documents * per_document / self.memory_per_task))

    def hasher(self) -> MinHasher:
        return MinHasher(num_perm=self.num_perm, ngram=self.ngram, seed=self.hash_seed)

    def rank_columns(self) -> list[str]:
        """Input columns the keep rule reads (``length`` is computed from the text)."""
        return [t.lstrip("-") for t in self.keep if t.lstrip("-") != LENGTH]
