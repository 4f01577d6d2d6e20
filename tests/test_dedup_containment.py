"""Containment (``measure: containment``): partial copies of longer documents, on a planted set.

Excerpts of real Python documentation pages (a contiguous 30-70% of the words, some words
replaced) are planted beside 60 pages; the pass runs in process through every phase. Pairs
are scored by their exact shingle containment (the smaller set inside the larger).
"""

from __future__ import annotations

import random

import polars as pl
import pytest
from dedup_corpus import new_pass, pages

from dataprep.dedup.candidates import candidates_task
from dataprep.dedup.clusters import find_clusters
from dataprep.dedup.containment import anchor_counts_task, containment_pairs_task
from dataprep.dedup.decisions import decide_task, gather_task, shard_decisions
from dataprep.dedup.normalize import Normalization, normalize
from dataprep.dedup.settings import DedupConfig
from dataprep.dedup.signatures import signature_task
from dataprep.dedup.verification import jaccard_first_task, jaccard_second_task, locate_first_task, locate_second_task
from dataprep.engine.executor import LocalExecutor


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = normalize(pl.Series([text]), Normalization())[0].split()
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


@pytest.fixture(scope="module")
def planted(shared_data) -> tuple[dict[str, list[str]], list[tuple[str, str, float, float]]]:
    """Shards ``src`` (60 pages) and ``part`` (excerpts of 48 of them, each with every k-th word
    replaced); the planted pairs as (source id, excerpt id, containment, Jaccard)."""
    texts = pages(shared_data, 60)
    rng = random.Random(5)
    excerpts, pairs = [], []
    for i, page in enumerate(texts[:48]):
        words = page.split()
        size = int(len(words) * rng.uniform(0.3, 0.7))
        start = rng.randrange(len(words) - size)
        every = (0, 200, 80, 40, 12, 6)[i % 6]  # 0: verbatim; 6-12: mostly outside (< 0.5)
        excerpt = " ".join(w if not every or j % every else "zq" for j, w in enumerate(words[start : start + size]))
        a, b = shingles(page), shingles(excerpt)
        excerpts.append(excerpt)
        pairs.append((f"src:{i}", f"part:{i}", len(a & b) / min(len(a), len(b)), len(a & b) / len(a | b)))
    return {"src": texts, "part": excerpts}, pairs


def test_partial_copies_are_found_by_containment_and_nothing_below_half(tmp_path, planted) -> None:
    texts, pairs = planted
    run = new_pass(tmp_path, texts, DedupConfig(measure="containment", threshold=0.9))
    executor = LocalExecutor()
    executor.map(signature_task, run.group_tasks)
    for phase in (candidates_task, anchor_counts_task, containment_pairs_task, locate_first_task, locate_second_task):
        executor.map(phase, run.part_tasks)
    for phase in (jaccard_first_task, jaccard_second_task):
        executor.map(phase, run.group_tasks)
    find_clusters(executor, run.part_tasks)
    executor.map(decide_task, run.part_tasks)
    executor.map(gather_task, run.group_tasks)
    decided = {}
    for index, name in enumerate(texts):
        rows = shard_decisions(run.work, index, len(texts[name])).drop_nulls("reason")
        decided |= {f"{name}:{r}": dup for r, dup in rows.select("row", "dup_of").iter_rows()}

    contained = [(s, p) for s, p, c, _ in pairs if c >= 0.9]
    outside = [(s, p) for s, p, c, _ in pairs if c < 0.5]
    assert len(contained) >= 20 and len(outside) >= 8
    assert max(j for *_, c, j in pairs if c >= 0.9) < 0.8  # Jaccard could not have found most of them
    caught = sum(decided.get(p) == s for s, p in contained)
    assert caught / len(contained) >= 0.95, (caught, len(contained))
    assert not any(p in decided or s in decided for s, p in outside)
    assert all(k.startswith("part:") for k in decided)  # the shorter copy goes; the page stays


def test_containment_is_verified_exactly() -> None:
    with pytest.raises(ValueError, match="verified exactly"):
        DedupConfig(measure="containment", verify="signature")
