"""A real two-node Ray cluster on loopback: the quickstart on object storage, spread over both
nodes, byte-identical to a one-node run, and still finishing when the second node dies mid-run.

Both nodes are ``ray start`` daemons on this machine, each with its own temp dir and resources.
Every process of a node carries ``DATAPREP_RUN=<its tag>`` in its environment (inherited from
``ray start``), so the test kills exactly that node's processes, and tears down only its own
cluster (``ray stop`` would stop every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import QUICKSTART

from dataprep.core.storage import Storage
from dataprep.engine.cluster import PROBE, sees_probe, unshared_message
from dataprep.engine.executor import RUN_TAG, stop_tagged, tagged_pids

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ports() -> list[str]:
    """Ports of a node's own servers, so that it never collides with another Ray on this machine."""
    names = ("node-manager", "object-manager", "dashboard-agent-listen", "dashboard-agent-grpc", "metrics-export")
    return [f"--{name}-port={_free_port()}" for name in names] + ["--runtime-env-agent-port", str(_free_port())]


class Cluster:
    """A head node and a second node, started with ``ray start`` on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.tags = {name: f"cluster-test-{name}-{uuid.uuid4().hex[:8]}" for name in ("head", "second")}

    def _start(self, name: str, args: list[str]) -> None:
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", RUN_TAG: self.tags[name]}
        common = ["--num-cpus=1", f"--resources={json.dumps({name: 1})}", "--node-ip-address=127.0.0.1"]
        common += ["--disable-usage-stats", f"--temp-dir={self.root / name}", *_ports()]
        for _ in (1, 2):  # Ray's own start-up limit (30 s) is often hit on a loaded machine; retry once
            done = subprocess.run(
                ["ray", "start", *args, *common], env=env, capture_output=True, text=True, timeout=300
            )
            if done.returncode == 0:
                return
            self.kill(name)
        pytest.fail(f"ray start ({name}) failed twice: {done.stderr[-2000:]}")

    def start(self) -> None:
        self._start(
            "head",
            ["--head", f"--port={self.port}", "--include-dashboard=false", f"--dashboard-port={_free_port()}"],
        )
        self._start("second", [f"--address={self.address}"])

    def busy_worker(self, name: str) -> bool:
        """Whether a worker of node ``name`` is running a task now (its title is ``ray::<task>``)."""
        for pid in tagged_pids(self.tags[name]):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            if title.startswith("ray::") and "IDLE" not in title and not title.endswith("Agent"):
                return True  # ray::DashboardAgent and ray::RuntimeEnvAgent are no task workers
        return False

    def kill(self, name: str) -> int:
        return stop_tagged(self.tags[name])

    def stop(self) -> None:
        for name in self.tags:
            self.kill(name)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def s3(s3_server):
    """A bucket of this module on the session's S3 server: a function making its URIs."""
    return s3_server.bucket("cluster-test").uri


def _cli(output: str, address: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dataprep",
        "run",
        str(QUICKSTART),
        "--output",
        output,
        "--address",
        address,
        "--quiet",
        "--no-report",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_AUTH_MODE": "disabled"}


def _stage_dirs(storage: Storage) -> list[str]:
    return [s["dir"] for s in storage.read_json("run.json")["stages"]]


def _digest(storage: Storage) -> dict[str, list]:
    """Every stage's output and artifact files with their sha256 (what must be byte-identical)."""
    out = {}
    for d in _stage_dirs(storage):
        m = storage.read_json(f"{d}/manifest.json")
        out[d] = [(f["path"], f["sha256"]) for f in m["outputs"] + m["artifacts"]]
    return out


def _nodes(storage: Storage) -> set[str]:
    """The Ray nodes that ran shard tasks, from every stage's progress records."""
    nodes = set()
    for d in _stage_dirs(storage):
        for rel in storage.list(f"{d}/_progress"):
            nodes.add(storage.read_json(rel)["node"])
    return nodes


def _retries(storage: Storage) -> int:
    return sum(storage.read_json(f"{d}/manifest.json")["timing"]["retries"] for d in _stage_dirs(storage))


def _probe_script(address: str, folder: Path) -> str:
    """A driver that checks ``folder`` with the run's probe, and probes a file no node can see."""
    return f"""
import json, ray
from dataprep.core.storage import Storage
from dataprep.engine.cluster import blind_nodes, check_shared_output
ray.init(address={address!r}, log_to_driver=False)
storage = Storage({str(folder)!r})
check_shared_output(storage)  # both nodes see it: no error
storage.write_bytes("probe", b"other")
print(json.dumps({{"missing": blind_nodes(storage, "absent", "t"), "stale": blind_nodes(storage, "probe", "t"),
    "nodes": len(ray.nodes())}}))
"""


def test_two_nodes_probe_then_object_storage_same_bytes_and_a_node_lost_mid_run(s3, quickstart_local, tmp_path):
    """One two-node cluster for three checks (starting its nodes costs more than the probe)."""
    expected = _digest(Storage(quickstart_local.output_dir))
    cluster = Cluster(Path(f"/tmp/dp-cluster-{uuid.uuid4().hex[:8]}"))  # short: Ray's socket paths are limited
    try:
        cluster.start()

        # 0. The probe a run makes before any work (in a subprocess: the test session may already
        #    hold a local Ray). On one machine both nodes see a local path; a probe they cannot see
        #    names every node, and the run's message names the fix.
        folder = tmp_path / "probe"
        folder.mkdir()
        script = _probe_script(cluster.address, folder)
        done = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        found = json.loads(done.stdout.strip().splitlines()[-1])
        assert found["nodes"] == 2
        assert len(found["missing"]) == 2 and found["stale"] == found["missing"]
        assert sorted(os.listdir(folder)) == ["probe"]  # the run's probe file was removed

        # 1. Both nodes run shard tasks; the shards equal the one-node run's, byte for byte.
        done = subprocess.run(_cli(s3("runs/a"), cluster.address), env=_env(), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        remote = Storage(s3("runs/a"))
        assert _digest(remote) == expected
        assert len(_nodes(remote) - {None}) == 2

        # 2. The second node dies while one of its workers runs a task: the run still finishes,
        #    the lost task resubmitted on the head node, and the bytes are the same.
        proc = subprocess.Popen(_cli(s3("runs/b"), cluster.address), env=_env(), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 600
        while not cluster.busy_worker("second"):
            assert proc.poll() is None, "the run ended before the second node got a task"
            assert time.monotonic() < deadline, "the second node never ran a task"
            time.sleep(0.05)
        assert cluster.kill("second") > 0
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        after = Storage(s3("runs/b"))
        assert _digest(after) == expected
        assert _retries(after) >= 1
    finally:
        cluster.stop()


def test_probe_and_message(tmp_path):
    storage = Storage(str(tmp_path))
    name = PROBE.format(token="abc")
    assert not sees_probe(storage, name, "abc")
    storage.write_bytes(name, b"abc")
    assert sees_probe(storage, name, "abc")
    assert not sees_probe(storage, name, "abd")  # an old probe of another run does not count
    message = unshared_message("/data/out", ["f" * 56], 2)
    assert "1 of the cluster's 2 nodes" in message and "s3://" in message and "ffffffffffff" in message
