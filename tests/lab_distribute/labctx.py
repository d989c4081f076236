"""A real ClusterContext over real SSH to lab hosts, as sealkit.engine.session.open_context builds one
(a Fleet with pinned host keys), minus plugins: distribution needs only hosts, connections and facts.
Shared by tests/lab_distribute and bench/distribute.py.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sealkit.cluster import Cluster, Host
from sealkit.context import ClusterContext, HostRef, RuntimeInfo
from sealkit.pki.store import PKIStore
from sealkit.ssh import Fleet, HostKeyPolicy, Target
from sealkit.state import ClusterState


@contextlib.contextmanager
def lab_context(
    lab: Any, hosts: Sequence[Any], home: Path, *, concurrency: int = 32
) -> Iterator[ClusterContext]:
    """A context for ``hosts`` of ``lab`` (root logins); the fleet is closed when the block exits."""
    specs = [Host(ip=h.ip, roles=["master" if i == 0 else "node"]) for i, h in enumerate(hosts)]
    state = ClusterState("distribute", home=home)
    state.dir.mkdir(parents=True, exist_ok=True)
    policy = HostKeyPolicy(state.known_hosts, mode="accept-new", user_known_hosts=lab.known_hosts)
    fleet = Fleet(
        [Target(h.ip, port=h.port, key_path=str(h.root_key), label=h.ip) for h in hosts],
        hostkeys=policy,
        ssh_config=str(lab.ssh_config),
        concurrency=concurrency,
    )
    ctx = ClusterContext(
        cluster=Cluster(name="distribute", hosts=specs),
        state=state,
        fleet=fleet,
        pm=None,  # type: ignore[arg-type]  # no hooks are called while distributing
        runtime=RuntimeInfo("lab"),
        pki=PKIStore(state.pki_dir),
    )
    for spec, h in zip(specs, hosts, strict=True):
        ctx.hosts[spec.ip] = HostRef(spec=spec, conn=fleet.conn(spec.ip), hostname=h.hostname, arch="amd64")
    try:
        yield ctx
    finally:
        fleet.close()


def make_rootfs(root: Path, files: dict[str, int | bytes], *, seed: int = 0) -> Path:
    """A rootfs dir: ``files`` maps a relative path to a size (random bytes) or to exact content."""
    import random

    rng = random.Random(seed)
    for rel, spec in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, bytes):
            path.write_bytes(spec)
            continue
        with path.open("wb") as f:
            left = spec
            while left:
                n = min(left, 1 << 20)
                f.write(rng.randbytes(n))
                left -= n
    os.utime(root)  # the local manifest cache is keyed on the dir's mtime
    return root
