"""No credential is ever written down: a run with credentialed s3:// URIs, every byte it wrote searched.

A local S3 server (moto on loopback) holds the inputs and the run. The key and secret ride in the
URIs (``s3://KEY:SECRET@bucket/...``, the form pyarrow's S3 takes them in); afterwards every
object of the run is downloaded and searched, with what ``dataprep run`` and ``dataprep verify``
printed, for either of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.fs as pafs
import pytest
from conftest import REPO

DATA = REPO / "pipelines/data/quickstart"
KEY = "AKIADATAPREPKEY7731"
SECRET = "dpSecretWq7Zx93Lm0Tk"  # moto takes any credentials; these are unique to this test


@pytest.fixture(scope="module")
def s3(s3_server):
    """A bucket of this module holding two quickstart files, reached with this test's key and secret."""
    return s3_server.bucket("secrets-test", KEY, SECRET, inputs=[DATA / "web.jsonl.gz", DATA / "science.jsonl.gz"])


def _run_files(fs: pafs.FileSystem, prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix``, by key."""
    out = {}
    for info in fs.get_file_info(pafs.FileSelector(prefix, recursive=True)):
        if info.type == pafs.FileType.File:
            with fs.open_input_stream(info.path) as f:
                out[info.path] = f.read()
    return out


@pytest.mark.slow
def test_no_credential_in_any_file_of_the_run_or_on_the_terminal(s3, tmp_path):
    data = s3.uri("in/*.jsonl.gz")
    output = s3.uri("runs/r1")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        json.dumps(
            {
                "name": "secrets",
                "stages": [
                    {"stage": "ingest", "shard_rows": 40, "inputs": [{"path": data, "domain": "d"}]},
                    {"stage": "quality", "rule_sets": ["gopher_repetition"], "language": None},
                    {"stage": "dedup"},
                ],
            }
        )
    )
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    dataprep = [sys.executable, "-m", "dataprep"]
    printed = []
    for cmd in (
        [*dataprep, "run", str(pipeline), "--output", output],
        [*dataprep, "run", str(pipeline), "--output", output, "--resume", "--executor", "local"],
        [*dataprep, "verify", output],
    ):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, res.stderr[-3000:]
        printed += [res.stdout, res.stderr]
    assert "reused" in printed[2], "resume keeps every stage: the stored (redacted) inputs still match"
    files = _run_files(s3.fs, "secrets-test/runs/r1")
    assert "secrets-test/runs/r1/00-ingest/manifest.json" in files
    assert any("/_work/" in path for path in files), "scratch records are searched too"
    leaks = [path for path, blob in files.items() for needle in (KEY, SECRET) if needle.encode() in blob] + [
        f"terminal output {i}" for i, text in enumerate(printed) for needle in (KEY, SECRET) if needle in text
    ]
    assert leaks == []
    # Redaction left the run's own records usable: inputs are named, without credentials.
    manifest = json.loads(files["secrets-test/runs/r1/00-ingest/manifest.json"])
    assert [i["path"] for i in manifest["inputs"]] == [
        "s3://secrets-test/in/science.jsonl.gz",
        "s3://secrets-test/in/web.jsonl.gz",
    ]
