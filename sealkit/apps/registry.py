"""The app's container images in the embedded registry: pushed by digest, removed with the app.

Both talk to the read-write instance with the push account (``push_registry_info``; hosts only ever get
the read-only one), on every master that runs a registry. Pushing reuses
:func:`sealkit.registry.sync.sync_to_hosts` (a re-run sends nothing). Removing asks each registry to
``DELETE /v2/<repo>/manifests/<digest>`` (Distribution: ``storage.delete.enabled``, on for the read-write
instance only); a refusal is a warning naming what stays, never a failure of the remove.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sealkit.errors import SealkitError, StepFailed

#: registries asked at once when removing an app's images (one per master; masters are few)
DELETE_CONCURRENCY = 16

if TYPE_CHECKING:
    from sealkit.context import ClusterContext
    from sealkit.image.remote import RegistryClient


class RegistryImages:
    """The default image operations of the app engine (tests pass their own)."""

    def sync(self, ctx: ClusterContext, rootfs: Path) -> str:
        from sealkit.registry.service import push_registry_info
        from sealkit.registry.sync import IMAGES_SUBDIR, sync_to_hosts

        directory = rootfs / IMAGES_SUBDIR
        if not (directory / "index.json").is_file():
            return "no container images"
        # every master runs a registry and every node's mirror lists them all: sync to each, so losing
        # one master keeps the app's images pullable; a registry that is down is named, not fatal
        done = sync_to_hosts(directory, push_registry_info(ctx))
        if not done.synced:
            raise next(iter(done.failed.values()), StepFailed("no registry host to sync the app's images to"))
        for ip, err in done.failed.items():
            ctx.log.warning("app images not synced to the registry on %s: %s", ip, err.message)
        ctx.log.debug("app images: %s", done.detail())
        return done.summary()

    def delete(self, ctx: ClusterContext, names: list[str]) -> list[str]:
        """Delete ``names`` (full image names) from every master's registry; warnings for what stays."""
        from sealkit.engine.distribute import _parallel
        from sealkit.image.remote import RegistryClient
        from sealkit.registry.service import push_registry_info
        from sealkit.registry.sync import _bracket, _ca_file, _options

        if not names:
            return []
        info = push_registry_info(ctx)
        with _ca_file(info.ca_pem) as ca:

            def delete_on(host: str) -> list[str]:
                client = RegistryClient(f"{_bracket(host)}:{info.port}", _options(info, ca))
                return _delete_from(client, host, names)

            # one slow or unreachable master (connect timeout) must not hold up the others
            results = _parallel(delete_on, list(info.hosts), DELETE_CONCURRENCY)
        warnings: list[str] = []
        for host, res in results:
            if isinstance(res, (SealkitError, OSError)):  # the network or the registry: name what stays
                message = res.message if isinstance(res, SealkitError) else f"{type(res).__name__}: {res}"
                warnings.append(f"images {', '.join(names)} stay in the registry on {host}: {message}")
            elif isinstance(res, BaseException):  # a defect, not a registry's answer
                raise res
            else:
                warnings += res
        return warnings


def _delete_from(client: RegistryClient, host: str, names: list[str]) -> list[str]:
    """Delete each image's manifest (by its digest) from one registry; warnings for what stays."""
    from sealkit.image.oci import MANIFEST_ACCEPT
    from sealkit.registry.sync import target_of

    warnings = []
    for name in names:
        repo, ref = target_of(name)
        try:
            with client.request(
                "HEAD",
                f"/v2/{repo}/manifests/{ref}",
                scope=f"repository:{repo}:pull,push",
                headers={"Accept": ", ".join(MANIFEST_ACCEPT)},
                ok=(200, 404),
            ) as resp:
                digest = resp.headers.get("Docker-Content-Digest") if resp.status == 200 else None
            if not digest:
                continue
            with client.request(
                "DELETE", f"/v2/{repo}/manifests/{digest}", scope=f"repository:{repo}:delete", ok=(202, 404)
            ):
                pass
        except SealkitError as err:
            warnings.append(f"image {name} stays in the registry on {host}: {err.message}")
    return warnings
