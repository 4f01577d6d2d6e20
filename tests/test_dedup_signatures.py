"""Phase 1 of a dedup pass (signatures) on real text, in process: what each shard sends on."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow.ipc as ipc
import pytest
import xxhash
from dedup_corpus import EMPTY, EXACT_COPY, new_pass

from dataprep.dedup import signatures
from dataprep.dedup.lsh import band_keys, has_shingles, high_half
from dataprep.dedup.minhash import exact_keys, low_bits, unpack
from dataprep.dedup.normalize import normalize
from dataprep.dedup.scratch import read_part
from dataprep.dedup.settings import DedupConfig
from dataprep.dedup.signatures import batches, signature_task, sketch
from dataprep.engine.executor import LocalExecutor


@pytest.mark.parametrize("keep", [False, True])
def test_each_shard_keeps_its_signatures_and_shuffles_every_partition(tmp_path, texts, keep) -> None:
    config = DedupConfig(keep_signatures=keep)
    run = new_pass(tmp_path, texts, config)
    LocalExecutor().map(signature_task, run.group_tasks)

    parts = len(run.part_tasks)
    attrs = pl.concat([read_part(run.work, "attrs", p) for p in range(parts)])
    sigs = pl.concat([read_part(run.work, "sigs", p) for p in range(parts)])  # stored once, by node
    assert sigs.columns == ["node", "exact", "signature"] if keep else ["node", "signature"]
    sigs = sigs.join(attrs.select("node", "id"), on="node")
    for name, docs in texts.items():
        kept = sigs.filter(pl.col("id").str.starts_with(f"{name}:")).sort(
            pl.col("id").str.split(":").list[1].cast(int)
        )
        assert kept["id"].to_list() == [f"{name}:{i}" for i in range(len(docs))]
        assert kept["node"].to_list() == [xxhash.xxh3_64_intdigest(i.encode()) for i in kept["id"]]
        expected = config.hasher().signatures(normalize(pl.Series(docs), config.normalize), single_spaced=True)
        # whole values if kept for dedup-sweep, else the low 4 bits that verification compares
        expected = expected if keep else low_bits(expected)
        got = unpack(kept["signature"], config.num_perm)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
    for prefix, key in (("attrs", "node"), ("exact", None), ("bands", None), ("sigs", "node")):
        files = run.work.list(f"{prefix}/")
        assert len(files) == len(run.group_tasks)
        assert all(ipc.open_file(tmp_path / "_work/pass" / f).num_record_batches == parts for f in files)
        for p in range(parts):  # one file per shard; each partition's rows, and only those, in its batch
            assert key is None or (read_part(run.work, prefix, p)[key] % parts == p).all()
    # exact: routed by the exact key, the digest's first 64 bits (not stored)
    for p in range(parts):
        assert (exact_keys(read_part(run.work, "exact", p)["exact"].to_list()) % parts == p).all()
    # bands: routed by the low half of each 64-bit key, only the high half stored
    norm = [normalize(pl.Series(d), config.normalize) for d in texts.values()]
    whole = np.concatenate([config.hasher().signatures(n, single_spaced=True) for n in norm])
    keys = band_keys(whole, config.banding())[has_shingles(whole)].ravel()
    for p in range(parts):
        mine = keys[(keys & np.uint64(0xFFFFFFFF)) % np.uint64(parts) == p]
        assert sorted(read_part(run.work, "bands", p)["key"]) == sorted(high_half(mine).tolist())

    assert attrs.height == sum(len(d) for d in texts.values())
    by_id = {r["id"]: r for r in attrs.iter_rows(named=True)}
    assert [by_id[f"a:{i}"]["length"] for i in range(len(texts["a"]))] == [len(t) for t in texts["a"]]
    assert by_id[EXACT_COPY]["exact"] == by_id["a:0"]["exact"]  # upper case normalizes away
    assert (by_id[EXACT_COPY]["shard"], by_id[EXACT_COPY]["row"]) == (1, 0)

    bands = pl.concat([read_part(run.work, "bands", p) for p in range(len(run.part_tasks))])
    nodes = bands["node"].value_counts()
    # every document with words lands once per band; the empty one never enters LSH
    assert set(nodes["count"]) == {config.banding().bands} and nodes.height == attrs.height - 1
    assert by_id[EMPTY]["node"] not in set(bands["node"])


def test_a_keep_rule_column_missing_from_the_input_is_named(tmp_path, texts) -> None:
    run = new_pass(tmp_path, texts, DedupConfig(keep=["q_score"]))
    with pytest.raises(ValueError, match="q_score"):
        signature_task(run.group_tasks[0])


def test_partitions_follow_the_memory_budget_per_task() -> None:
    # ~6 KB a document at the defaults (128 permutations, 18 bands)
    assert DedupConfig().partition_count(1_000_000) == 6
    assert DedupConfig(memory_per_task=256 << 20).partition_count(1_000_000) == 23
    assert DedupConfig().partition_count(10) == 1 and DedupConfig(partitions=7).partition_count(10) == 7


def test_batches_by_text_bytes_cover_every_document_once_and_leave_the_sketch_unchanged(texts, monkeypatch) -> None:
    series = pl.Series([t for docs in texts.values() for t in docs])
    whole = sketch(series, DedupConfig())
    monkeypatch.setattr(signatures, "BATCH_BYTES", 20_000)  # a few documents a batch
    runs = batches(series)
    assert len(runs) > 3 and [s for s, _ in runs] == [0, *np.cumsum([n for _, n in runs])[:-1].tolist()]
    assert sum(n for _, n in runs) == len(series) and all(n > 0 for _, n in runs)
    small = sketch(series, DedupConfig())
    assert small.digests == whole.digests and np.array_equal(small.signatures, whole.signatures)
