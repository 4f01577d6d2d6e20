"""Shared fixtures: one local Ray per test session, one local S3 server (each module its own bucket), paths
to the shared real data, the planted dedup corpus, the quickstart run once on Ray and once in process (for
the tests that only read a run of it)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from dedup_corpus import planted

from dataprep.api import RunResult, run

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
QUICKSTART = REPO / "pipelines" / "quickstart.yaml"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (read only: never write there)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared data folder is missing: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray (2 CPUs, no dashboard) for the whole session; runs reuse it.

    Only for tests where Ray matters: output independent of worker count, kill -9 and resume,
    clusters. A test that only needs a stage to run passes ``executor="local"`` instead.
    Workers get the engine's environment (one thread per library per task), as in real runs.
    """
    import ray

    from dataprep.engine.executor import WORKER_ENV

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    tmp = tempfile.mkdtemp(prefix="dp-ray-", dir="/tmp")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=tmp,
        runtime_env={"env_vars": WORKER_ENV},
    )
    yield ray
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class S3Bucket:
    """A bucket on the session's S3 server; the key and secret ride in its URIs' user info, the form
    pyarrow's S3 takes them in (moto accepts any)."""

    name: str
    fs: pafs.FileSystem  # pyarrow's view of the server, to put inputs in and read a run's objects back
    credentials: str  # KEY:SECRET
    options: str  # endpoint, scheme and region query options

    def uri(self, path: str) -> str:
        """``s3://KEY:SECRET@bucket/path?options``, as a user would pass it to dataprep."""
        return f"s3://{self.credentials}@{self.name}/{path}?{self.options}"


class S3Server:
    """A local S3 server (moto on loopback) shared by every module of the session."""

    def __init__(self, port: int) -> None:
        self.options = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"

    def bucket(self, name: str, key: str = "key", secret: str = "secret", inputs: Iterable[Path] = ()) -> S3Bucket:
        """A new bucket ``name`` holding copies of ``inputs`` under ``in/``; a module makes its own, so
        modules never see each other's objects."""
        fs, _ = pafs.FileSystem.from_uri(f"s3://{key}:{secret}@{name}/?{self.options}&allow_bucket_creation=true")
        fs.create_dir(name)
        for path in inputs:
            pafs.copy_files(str(path), f"{name}/in/{path.name}", destination_filesystem=fs)
        return S3Bucket(name, fs, f"{key}:{secret}", self.options)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3 server for the session (starting moto costs more than a bucket): modules call ``bucket``."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield S3Server(port)
    server.stop()


@pytest.fixture(scope="session")
def texts(shared_data) -> dict[str, list[str]]:
    """The planted dedup corpus of ``dedup_corpus`` (shards ``a`` and ``b``), read once for every dedup
    phase test; tests only read it."""
    return planted(shared_data)


@pytest.fixture(scope="session")
def quickstart_ray(tmp_path_factory, ray_session) -> RunResult:
    """The quickstart run once on the session's Ray (2 workers), for every test that compares a
    run of it with an undisturbed one (other worker counts, kill -9, signals); tests only read it."""
    return run(QUICKSTART, output=str(tmp_path_factory.mktemp("quickstart-ray") / "run"), num_cpus=2)


@pytest.fixture(scope="session")
def quickstart_local(tmp_path_factory) -> RunResult:
    """The quickstart run once in this process, with its report (``report.html``, outside every
    stage's manifest): for the report tests and the tests comparing other executors with this one."""
    return run(
        QUICKSTART, output=str(tmp_path_factory.mktemp("quickstart-local") / "qs"), executor="local", report=True
    )
