"""Normalization, MinHash signatures and LSH banding on real text (pure functions, no Ray)."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import polars as pl
import pytest
from datasketch import MinHashLSH

from dataprep.dedup.lsh import (
    Banding,
    agreement_at_least,
    band_keys,
    candidate_pairs,
    derive_banding,
    estimate_similarity,
)
from dataprep.dedup.minhash import EMPTY, SPAN_BYTES, MinHasher, fold32, low_bits, mix64, shingle_hashes
from dataprep.dedup.normalize import Normalization, normalize
from dataprep.text import nfkc


@pytest.fixture(scope="module")
def docs(shared_data) -> list[str]:
    """Forty real Python documentation pages of at least 400 words."""
    out = []
    with gzip.open(shared_data / "corpus" / "techdocs" / "python3.11-doc_rst_sources.jsonl.gz", "rt") as f:
        for line in f:
            text = json.loads(line)["text"]
            if len(text.split()) >= 400:
                out.append(text)
            if len(out) == 40:
                break
    return out


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = normalize(pl.Series([text]), Normalization())[0].split()
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def test_normalization_options_each_remove_one_kind_of_difference() -> None:
    texts = pl.Series(["Ｆｕｌｌ-Width\u00a0TEXT, page 12!", "  two\n\nlines\t here "])
    assert normalize(texts, Normalization()).to_list() == ["full width text page 12", "two lines here"]
    assert normalize(texts, Normalization(digits=True))[0] == "full width text page 00"
    assert normalize(texts, Normalization(lowercase=False, nfkc=False))[0] == "Ｆｕｌｌ Width TEXT page 12"
    assert normalize(texts, Normalization(punctuation=False))[0] == "full-width text, page 12!"
    assert normalize(texts, Normalization(whitespace=False))[1] == "  two\n\nlines\t here "


@pytest.mark.parametrize("punctuation", [True, False])
def test_normalization_rewrites_runs_as_if_every_run_became_one_space(docs, punctuation) -> None:
    """Single spaces are left alone (not matched, not rewritten): the same text as replacing every
    run of punctuation and whitespace, on real pages and on runs that start or end with a space."""
    edges = [" ,a", "a, b", "a ,b", "a  b", "a \t b", " \u00a0x\u3000y ", "«a» — b", "a\n", "", " ", "x ,, ,y"]
    texts = pl.Series(docs + edges)
    opts = Normalization(punctuation=punctuation)
    spaced = (r"\p{P}\p{S}" if punctuation else "") + r"\s"
    plain = nfkc(texts).str.to_lowercase().str.replace_all(f"[{spaced}]+", " ").str.strip_chars(" ")
    assert normalize(texts, opts).to_list() == plain.to_list()


def test_signatures_estimate_the_exact_jaccard_of_edited_real_text(docs) -> None:
    rng = random.Random(3)
    hasher = MinHasher()
    errors = []
    for text in docs[:20]:
        words = text.split()
        copy = " ".join(w if rng.random() > 0.05 else "zebra" for w in words)
        sig = hasher.signatures(normalize(pl.Series([text, copy]), Normalization()))
        exact = len(shingles(text) & shingles(copy)) / len(shingles(text) | shingles(copy))
        estimate = estimate_similarity(sig[:1], sig[1:])[0]
        # verification stores 4 bits a value; the estimate is the same from whole values (dedup-sweep)
        assert estimate == estimate_similarity(low_bits(sig[:1]), low_bits(sig[1:]))[0]
        raw = float(np.mean(sig[0] == sig[1]))  # whole values: no chance agreement to correct
        # low bits agree on every equal value and on ~1/16 of the rest; the correction takes that off
        low_same = np.mean(sig[0] % 16 == sig[1] % 16)
        assert low_same >= raw and estimate == pytest.approx(max(low_same - 1 / 16, 0) / (15 / 16))
        errors.append(abs(estimate - exact))
    # 128 permutations: standard error sqrt(J(1-J)/128) <= 0.045
    assert np.mean(errors) < 0.04 and max(errors) < 0.15
    assert estimate_similarity(sig[:1], sig[:1])[0] == 1.0


def test_a_documents_signature_does_not_depend_on_its_batch(docs) -> None:
    norm = normalize(pl.Series(docs[:6] + ["", "two words"]), Normalization())
    hasher = MinHasher()
    together = hasher.signatures(norm)
    alone = np.vstack([hasher.signatures(norm.slice(i, 1)) for i in range(len(norm))])
    assert np.array_equal(together, alone)
    assert (together[6] == EMPTY).all() and (together[7] != EMPTY).all()


def test_short_documents_get_one_shingle_that_stops_at_their_end() -> None:
    shingle, per_doc = shingle_hashes(pl.Series(["a b c", "", "d e f g"]), 3, 1)
    assert per_doc.tolist() == [1, 0, 2]
    alone, _ = shingle_hashes(pl.Series(["a b c"]), 3, 1)
    assert shingle[0] == alone[0]  # the 3-word doc's shingle is not mixed with the next doc's words


def test_shingle_hashes_are_the_polynomial_of_each_shingles_bytes() -> None:
    """By definition, in Python integers, on every path: texts shorter than n words, empty and null
    ones, non-ASCII words, a text longer than two chunks, a sliced and a multi-chunk series; and the
    same shingle hashes alike wherever it stands."""
    rng = np.random.default_rng(1)
    words = ["a", "bb", "ccc", "é", "naïve", "x" * 50, "the", "of"]
    texts = [" ".join(rng.choice(words, rng.integers(0, 12))) for _ in range(2000)]
    texts += ["", None, "one", "two words", "x" * (2 * SPAN_BYTES + 5) + " y", "q r s t u v"]
    rng.shuffle(texts)
    series = pl.Series(texts)
    for batch in (series, series.slice(7, 1500), pl.concat([series.slice(0, 10), series.slice(10)], rechunk=False)):
        hashes, per_doc = shingle_hashes(batch, 5, 3)
        expected, counts = _polynomial_shingles(batch.to_list(), 5, 3)
        assert per_doc.tolist() == counts and hashes.tolist() == expected
    moved, _ = shingle_hashes(pl.Series(["a b c d e f", "z a b c d e"]), 5, 1)
    assert moved[0] == moved[3]


def _polynomial_shingles(texts: list[str | None], n: int, seed: int) -> tuple[list[int], list[int]]:
    q = int(mix64(np.array([seed ^ 0x5EED5EED], np.uint64))[0]) | 1
    hashes, counts = [], []
    for text in texts:
        words = text.split(" ") if text else []
        counts.append(max(len(words) - n + 1, min(len(words), 1)))
        for j in range(counts[-1]):
            data = " ".join(words[j : j + n]).encode()
            hashes.append(sum((c + 1) * pow(q, i, 2**64) for i, c in enumerate(data)) % 2**64)
    return mix64(np.array(hashes, np.uint64)).tolist(), counts


def test_signatures_are_stable_across_processes_and_versions() -> None:
    """Stored signatures must stay comparable: these values may never change silently."""
    sig = MinHasher(num_perm=4).signatures(pl.Series(["the quick brown fox jumps over the lazy dog"]))
    assert sig[0].tolist() == GOLDEN


# 32-bit permutations since issue 12 (the 64-bit ones gave 2274753194379863728, ...); shingles hashed
# from their bytes since 2026-11-30 (with xxh3 word hashes: 1087181479, 473052235, 775309567, 568922251)
GOLDEN = [329838803, 632767622, 928713538, 110894352]


def test_derived_banding_catches_pairs_just_above_the_threshold() -> None:
    lsh = MinHashLSH(threshold=0.8, num_perm=128)  # datasketch's choice: 9 x 13, 40% caught at 0.8
    assert Banding(lsh.b, lsh.r) == Banding(9, 13) and Banding(9, 13).probability(0.8) == pytest.approx(0.40, abs=0.01)
    default = derive_banding(0.8, 128, 0.98)
    assert default == Banding(18, 7) and default.probability(0.82) >= 0.98
    assert Banding(16, 8).probability(0.82) < 0.98  # one row more per band falls short: 18 x 7 is the cheapest
    for threshold in (0.5, 0.7, 0.9):
        banding = derive_banding(threshold, 128, 0.98)
        assert banding.bands * banding.rows <= 128 and banding.probability(threshold + 0.02) >= 0.98


def test_signature_agreement_tail_is_the_binomial_one() -> None:
    assert agreement_at_least(0.8, 128, 0.8) == pytest.approx(0.5, abs=0.05)  # the median sits at J
    assert agreement_at_least(0.0, 128, 0.5) == 0 and agreement_at_least(1.0, 128, 0.99) == 1
    rng = np.random.default_rng(4)
    simulated = (rng.random((20_000, 128)) < 0.82).mean(axis=1) >= 0.8
    assert simulated.mean() == pytest.approx(agreement_at_least(0.82, 128, 0.8), abs=0.01)


def test_band_keys_match_only_where_band_values_match() -> None:
    sig = np.arange(24, dtype=np.uint64).reshape(2, 12)
    sig[1, :4] = sig[0, :4]  # same first band of 4 rows, different rest
    keys = band_keys(sig, Banding(3, 4))
    assert keys.shape == (2, 3)
    assert keys[0, 0] == keys[1, 0] and (keys[0, 1:] != keys[1, 1:]).all()
    same = np.tile(np.arange(4, dtype=np.uint64), 3)[None, :]  # every band holds the same values
    assert len(set(band_keys(same, Banding(3, 4))[0].tolist())) == 3  # a key names its band
    many = np.random.default_rng(0).integers(0, 2**63, (7, 12), dtype=np.uint64)
    alone = np.vstack([band_keys(many[i : i + 1], Banding(3, 4)) for i in range(7)])
    assert np.array_equal(band_keys(many, Banding(3, 4), block=3), alone)  # blocks: a partial last one too


def test_candidate_pairs_collapse_exact_copies_and_cap_large_buckets() -> None:
    buckets = pl.DataFrame(
        {
            "key": pl.Series([7] * 5 + [9, 8], dtype=pl.UInt32),  # keys: 32 bits (``high_half``)
            "node": pl.Series([5, 1, 3, 4, 2, 1, 3], dtype=pl.UInt64),
            "ekey": pl.Series([11, 11, 12, 13, 14, 11, 12], dtype=pl.UInt32),  # exact keys: 5 and 1 share a text
        }
    )
    pairs, large = candidate_pairs(buckets, anchors=10)
    assert sorted(pairs.iter_rows()) == [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]  # node 5 == node 1's text
    assert large == 0
    capped, large = candidate_pairs(buckets, anchors=1)
    assert sorted(capped.iter_rows()) == [(1, 2), (1, 3), (1, 4)] and large == 1


@pytest.mark.parametrize("collapse_exact", [True, False])
def test_candidate_pairs_are_each_members_pairs_with_the_first_anchors_of_its_buckets(collapse_exact) -> None:
    rng = np.random.default_rng(5)
    node = rng.integers(0, 2_000, 5_000).astype(np.uint64)
    ekey = (node // 3).astype(np.uint32)
    buckets = pl.DataFrame({"key": rng.integers(0, 700, 5_000).astype(np.uint32), "node": node, "ekey": ekey})
    expected, large = set(), 0
    for (_,), rows in buckets.group_by("key"):
        if collapse_exact:
            rows = rows.group_by("ekey").agg(pl.col("node").min())
        members = sorted(set(rows["node"].to_list()))
        large += len(members) > 4
        expected |= {(members[i], members[j]) for j in range(len(members)) for i in range(min(j, 4))}
    pairs, found_large = candidate_pairs(buckets, anchors=4, collapse_exact=collapse_exact)
    assert list(pairs.iter_rows()) == sorted(expected) and found_large == large
    copies = pl.DataFrame(
        {"key": [1, 1], "node": [2, 3], "ekey": [5, 5]},
        schema={"key": pl.UInt32, "node": pl.UInt64, "ekey": pl.UInt32},
    )
    assert candidate_pairs(copies, 4, collapse_exact)[0].height == (0 if collapse_exact else 1)
    assert candidate_pairs(buckets.head(1), 4, collapse_exact)[0].is_empty()


def test_minima_are_the_definition_for_blocked_rare_long_and_empty_documents() -> None:
    rng = np.random.default_rng(6)
    # lengths up to 79 shingles, 1..59 documents each: blocks (>= 32 of one length <= 64), rare lengths, long ones
    per_doc = np.concatenate([np.zeros(5, np.int64), np.repeat(np.arange(1, 80), rng.integers(1, 60, 79))])
    rng.shuffle(per_doc)
    shingles = rng.integers(0, 2**64, int(per_doc.sum()), dtype=np.uint64, endpoint=False)
    hasher = MinHasher(num_perm=16)
    sig = hasher.of_shingles(shingles, per_doc)
    for d, start in enumerate((np.cumsum(per_doc) - per_doc).tolist()):
        assert np.array_equal(sig[d], _definition(hasher, shingles[start : start + per_doc[d]]))


def test_minima_of_a_block_that_rounds_past_the_cache_size() -> None:
    """21,845 documents of 3 shingles split into blocks of 10,923: 32,769 values, one over the cache size."""
    per_doc = np.full(21_845, 3)
    shingles = np.random.default_rng(7).integers(0, 2**64, 3 * 21_845, dtype=np.uint64, endpoint=False)
    hasher = MinHasher(num_perm=4)
    expected = np.vstack([_definition(hasher, shingles[i : i + 3]) for i in range(0, len(shingles), 3)])
    assert np.array_equal(hasher.of_shingles(shingles, per_doc), expected)


def _definition(hasher: MinHasher, shingles: np.ndarray) -> np.ndarray:
    """A document's signature by definition: each permutation's minimum over its shingles folded
    to 32 bits, the arithmetic wrapping mod 2**32 (``EMPTY`` everywhere without shingles)."""
    x = fold32(shingles)
    if not len(x):
        return np.full(hasher.num_perm, EMPTY, np.uint32)
    values = np.multiply.outer(x, hasher._a) + hasher._b
    assert values.dtype == np.uint32
    return values.min(axis=0)
