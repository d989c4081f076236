"""Built-in plugin: the embedded registry on its hosts, its name and CA everywhere, images synced
into it.

Runtime plugins answer ``sealkit_registry_mirror_config`` themselves (it is firstresult and the
format is theirs) by calling the renderers in :mod:`sealkit.registry.mirrors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sealkit.errors import StepFailed
from sealkit.hookspecs import hookimpl
from sealkit.registry import hosts as hostsfile
from sealkit.registry import service
from sealkit.registry.sync import IMAGES_SUBDIR, sync_to_hosts

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef, RegistryInfo


class RegistryPlugin:
    """``binary`` overrides the registry executable on the hosts (default: the cluster image's
    ``bin/registry`` under the rootfs); tests pass Debian's ``/usr/bin/docker-registry``.
    ``images_dir`` overrides where the OCI layout to sync lives on the controller (default:
    ``<local rootfs>/images/oci``)."""

    def __init__(self, binary: str | None = None, images_dir: Path | None = None) -> None:
        self.binary = binary
        self.images_dir = images_dir

    @hookimpl
    def sealkit_prepare_host(self, ctx: ClusterContext, host: HostRef) -> None:
        """Every host: the stable name in /etc/hosts (every registry host) and the cluster CA;
        registry hosts: the service."""
        info = service.registry_info(ctx)
        hostsfile.ensure_hosts_entry(host, service.hosts_entries(info, host.ip))
        hostsfile.install_ca(host, info.ca_pem)
        if host.ip in info.hosts:
            service.ensure_service(ctx, host, binary=self.binary)

    @hookimpl
    def sealkit_sync_images(self, ctx: ClusterContext, registry: RegistryInfo) -> None:
        """Push the cluster image's container images to the registry on every host of
        ``registry.hosts``, by digest; every host is tried, and a failure on any of them is an error
        naming each (the engine leaves hosts it cannot reach out of ``registry.hosts``)."""
        directory = self.images_dir
        if directory is None:
            if ctx.local_rootfs is None:
                ctx.log.info("registry: no cluster image rootfs on the controller; nothing to sync")
                return
            directory = Path(ctx.local_rootfs) / IMAGES_SUBDIR
        if not (directory / "index.json").is_file():
            ctx.log.info("registry: %s holds no OCI layout; no container images to sync", directory)
            return
        result = sync_to_hosts(directory, registry)
        ctx.log.info("registry: %s", result.summary())
        ctx.log.debug("registry: %s", result.detail())
        if result.failed:
            lines = "\n".join(f"  - {ip}: {err}" for ip, err in result.failed.items())
            raise StepFailed(
                f"images were not synced to the registry on {len(result.failed)} host(s):\n{lines}",
                step="registry-sync",
                hint="fix the registry on the hosts named above (their messages say how), then re-run: "
                "images already synced are not sent again",
            )

    @hookimpl
    def sealkit_reset_host(self, ctx: ClusterContext, host: HostRef) -> None:
        """Remove the service and its data (where present), the mirror config sealkit rendered, the
        /etc/hosts block and the CA file."""
        service.remove_service(host)
        hostsfile.remove_mirror_config(host)
        hostsfile.remove_hosts_entry(host)
        hostsfile.remove_ca(host)
