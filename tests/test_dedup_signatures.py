"""Phase 1 of a dedup pass (signatures) on real text, in process: what each shard sends on."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import xxhash
from dedup_corpus import EMPTY, EXACT_COPY, new_pass, planted

from dataprep.dedup.normalize import normalize
from dataprep.dedup.scratch import read_part
from dataprep.dedup.settings import DedupConfig
from dataprep.dedup.signatures import signature_task
from dataprep.engine.executor import LocalExecutor


@pytest.fixture(scope="module")
def texts(shared_data) -> dict[str, list[str]]:
    return planted(shared_data)


def test_each_shard_keeps_its_signatures_and_shuffles_every_partition(tmp_path, texts) -> None:
    config = DedupConfig()
    run = new_pass(tmp_path, texts, config)
    LocalExecutor().map(signature_task, run.shard_tasks)

    for task, (name, docs) in zip(run.shard_tasks, texts.items()):
        kept = pl.from_arrow(run.work.read_table(f"signatures/{task.index:05d}"))
        assert kept["id"].to_list() == [f"{name}:{i}" for i in range(len(docs))]
        assert kept["node"].to_list() == [xxhash.xxh3_64_intdigest(i.encode()) for i in kept["id"]]
        assert kept["length"].to_list() == [len(t) for t in docs]
        expected = config.hasher().signatures(normalize(pl.Series(docs), config.normalize), single_spaced=True)
        assert np.array_equal(kept["signature"].to_numpy(), expected)
    for prefix in ("attrs", "exact", "bands", "sigs"):  # a file per (partition, shard), empty or not
        assert len(run.work.list(f"{prefix}/")) == len(run.part_tasks) * len(run.shard_tasks)

    attrs = pl.concat([read_part(run.work, "attrs", p) for p in range(len(run.part_tasks))])
    assert attrs.height == sum(len(d) for d in texts.values())
    by_id = {r["id"]: r for r in attrs.iter_rows(named=True)}
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
        signature_task(run.shard_tasks[0])
