"""``sealkit exec`` / ``sealkit scp``: ad-hoc commands and files on role or IP selections.

They need no runtime plugin: only the saved Clusterfile (hosts, credentials) and the pinned host keys.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import click

from sealkit.cluster import Cluster, Host
from sealkit.engine.options import Options, target_for
from sealkit.errors import ConnectError, StepFailed, UsageError
from sealkit.ssh import Fleet, HostKeyPolicy
from sealkit.state import ClusterState, unknown_cluster

log = logging.getLogger("sealkit.remote")


def select_hosts(cluster: Cluster, roles: str, ips: str) -> list[Host]:
    """Hosts matching any of ``roles`` and any of ``ips`` (both optional); an empty match is an error."""
    want_roles = {r.strip() for r in roles.split(",") if r.strip()}
    want_ips = {i.strip() for i in ips.split(",") if i.strip()}
    unknown = want_ips - {h.ip for h in cluster.hosts}
    if unknown:
        raise UsageError(f"--ips: not in cluster {cluster.name}: {', '.join(sorted(unknown))}")
    picked = [
        h
        for h in cluster.hosts
        if (not want_roles or want_roles & set(h.roles)) and (not want_ips or h.ip in want_ips)
    ]
    if not picked:
        raise UsageError(f"no host matches --roles {roles!r} --ips {ips!r}")
    return picked


def open_fleet(options: Options, roles: str, ips: str) -> tuple[list[Host], Fleet]:
    """The selected hosts of a cluster and a fleet to reach them (exec, scp)."""
    state = ClusterState(options.cluster)
    if not state.exists():
        raise unknown_cluster(options.cluster)
    cluster = state.load_clusterfile()
    hosts = select_hosts(cluster, roles, ips)
    policy = HostKeyPolicy(state.known_hosts, mode="strict" if options.strict_host_keys else "accept-new")
    fleet = Fleet([target_for(h) for h in hosts], hostkeys=policy, concurrency=options.concurrency)
    return hosts, fleet


def exec_command(options: Options, command: str, *, roles: str, ips: str, timeout: float | None) -> None:
    """Run ``command`` everywhere selected; print each host's output prefixed; exit 1 names failures."""
    hosts, fleet = open_fleet(options, roles, ips)
    out_lock = threading.Lock()

    def one(conn):
        res = conn.run(command, timeout=timeout, check=False)
        with out_lock:
            for line in res.stdout.splitlines():
                click.echo(f"[{conn.target.address}] {line}")
            for line in res.stderr.splitlines():
                click.echo(f"[{conn.target.address}] {line}", err=True)
        return res.rc

    with fleet:
        results = fleet.map(one, [h.ip for h in hosts])
    _summarise(results, what=f"command {command!r}")


def copy_file(options: Options, src: str, dst: str, *, roles: str, ips: str, mode: int) -> None:
    """Put ``src`` at ``dst`` on every selected host; hosts whose copy has the same sha256 get nothing."""
    hosts, fleet = open_fleet(options, roles, ips)
    path = Path(src)

    def one(conn):
        sent = conn.put(path, dst, mode=mode)
        click.echo(f"[{conn.target.address}] {dst}: {'copied' if sent else 'unchanged'}")
        return 0

    with fleet:
        results = fleet.map(one, [h.ip for h in hosts])
    _summarise(results, what=f"copy to {dst}")


def _summarise(results: dict[str, object], *, what: str) -> None:
    failed = {ip: r for ip, r in results.items() if isinstance(r, BaseException) or r != 0}
    if not failed:
        return
    for r in failed.values():
        if isinstance(r, KeyboardInterrupt):
            raise r
    lines = "\n".join(
        f"  - {ip}: {r if isinstance(r, BaseException) else f'exit code {r}'}"
        for ip, r in sorted(failed.items())
    )
    only_connect = all(isinstance(r, ConnectError) for r in failed.values())
    cls = ConnectError if only_connect else StepFailed
    raise cls(f"{what} failed on {len(failed)} of {len(results)} host(s):\n{lines}")
