"""What one invocation asks for, and how to log in to a host: light on imports, so ``exec``/``scp`` do not pay
for the engine (plugins, PKI, images) they never use."""

from __future__ import annotations

from dataclasses import dataclass

from sealkit.cluster import Host
from sealkit.ssh import Target


@dataclass(frozen=True)
class Options:
    """Global options of one CLI invocation (or one library call)."""

    runtime: str | None = None
    cluster: str = "default"
    concurrency: int = 32
    strict_host_keys: bool = False
    dry_run: bool = False
    force: bool = False
    output: str = "table"
    #: pull a cluster/app image missing from the local store even when its reference names no registry
    #: explicitly (``--pull``); without it only fully qualified references are pulled
    pull: bool = False


def target_for(host: Host) -> Target:
    ssh = host.ssh
    return Target(
        address=host.ip,
        port=host.port,
        user=ssh.user,
        password=ssh.passwd,
        key_path=ssh.pk,
        key_data=ssh.pk_data,
        key_passphrase=ssh.pk_passwd,
        sudo_password=ssh.sudo_passwd,
        label=host.ip,
    )
