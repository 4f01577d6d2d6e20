"""Object storage: inputs and the run directory on S3 (a moto server on loopback)."""

from __future__ import annotations

import pytest
from conftest import REPO

from dataprep.api import read_stage, run
from dataprep.engine.verify import verify_run

DATA = REPO / "pipelines/data/quickstart"


@pytest.fixture(scope="module")
def s3_uri(s3_server):
    """A bucket of this module holding two quickstart files under ``in/``: a function making its URIs."""
    return s3_server.bucket("dataprep-test", inputs=[DATA / "web.jsonl.gz", DATA / "science.jsonl.gz"]).uri


def _pipeline(path: str) -> dict:
    return {
        "name": "s3",
        "stages": [{"stage": "ingest", "shard_rows": 40, "inputs": [{"path": path, "source": "s", "domain": "d"}]}],
    }


def test_run_reads_and_writes_object_storage(s3_uri, tmp_path, ray_session):
    remote = run(_pipeline(s3_uri("in/*.jsonl.gz")), output=s3_uri("runs/r1"))
    local = run(_pipeline(str(DATA / "[ws][ec]*.jsonl.gz")), output=str(tmp_path / "local"))  # web + science
    m = remote.stages[0].manifest
    assert m["counts"]["in"] == 170 and m["counts"]["out"] == 170
    # Same documents and ids, so the same shard bytes, wherever the files live.
    assert [o["sha256"] for o in m["outputs"]] == [o["sha256"] for o in local.stages[0].manifest["outputs"]]
    # Manifests name inputs without credentials or endpoint options.
    assert [i["path"] for i in m["inputs"]] == [
        "s3://dataprep-test/in/science.jsonl.gz",
        "s3://dataprep-test/in/web.jsonl.gz",
    ]
    assert verify_run(remote.output_dir) == []
    assert read_stage(remote.stages[0].dir).num_rows == 170
    again = run(_pipeline(s3_uri("in/*.jsonl.gz")), output=s3_uri("runs/r1"), resume=True)
    assert again.stages[0].reused
