"""A run on a multi-node Ray cluster needs an output directory that every node reaches.

Tasks write their shards straight into the run directory, so a local path that only the
driver's machine has would leave shards on other nodes' disks and the run would fail late,
at the first read of a missing file. Before any work the driver writes a probe file into the
output and a task pinned to every node looks for it; a node that cannot see it fails the run
at once, naming the fix (object storage or a shared mount).
"""

from __future__ import annotations

import uuid

from dataprep.core.storage import Storage

PROBE = "_shared-probe-{token}"


def sees_probe(storage: Storage, name: str, token: str) -> bool:
    """Whether this process sees the probe file ``name`` holding ``token`` (run on each node)."""
    try:
        return storage.read_bytes(name) == token.encode()
    except OSError:
        return False


def blind_nodes(storage: Storage, name: str, token: str) -> list[str]:
    """The alive Ray nodes on which a task cannot see the probe ``name`` with ``token``."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    check = ray.remote(num_cpus=0, max_retries=1)(sees_probe)
    nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    refs = [
        check.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(
            storage, name, token
        )
        for node in nodes
    ]
    return [node for node, seen in zip(nodes, ray.get(refs)) if not seen]


def unshared_message(output: str, blind: list[str], total: int) -> str:
    return (
        f"the output {output} is a local path that {len(blind)} of the cluster's {total} nodes cannot see "
        f"(node {', '.join(n[:12] for n in blind)}): tasks write shards where they run, so on a multi-node "
        "cluster use object storage (s3://...) or a directory mounted on every node at the same path"
    )


def check_shared_output(storage: Storage) -> None:
    """Raise ``ValueError`` if a local output is not visible from every node of a multi-node cluster."""
    import ray

    if not storage.is_local:
        return
    total = sum(1 for n in ray.nodes() if n["Alive"])
    if total < 2:
        return
    token = uuid.uuid4().hex
    name = PROBE.format(token=token)
    storage.write_bytes(name, token.encode())
    try:
        blind = blind_nodes(storage, name, token)
    finally:
        storage.delete(name)
    if blind:
        raise ValueError(unshared_message(storage.display, blind, total))
