"""Shared fixtures: one local Ray per test session, paths to the shared real data, the planted dedup corpus,
the quickstart run once on Ray and once in process (for the tests that only read a run of it)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

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
