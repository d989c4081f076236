"""The app's container images in the embedded registry: pushed by digest, removed with the app.

Both talk to the read-write instance with the push account (``push_registry_info``; hosts only ever
get the read-only one). Pushing reuses :func:`sealkit.registry.sync.sync_layout_dir` (a re-run sends
nothing). Removing needs that instance to accept ``DELETE /v2/<repo>/manifests/<digest>``
(Distribution: ``storage.delete.enabled: true``); sealkit's registry config has it disabled today, so a
refusal is reported as a warning naming what stays, never as a failure of the remove.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sealkit.errors import SealkitError

if TYPE_CHECKING:
    from sealkit.context import ClusterContext


class RegistryImages:
    """The default image operations of the app engine (tests pass their own)."""

    def sync(self, ctx: ClusterContext, rootfs: Path) -> str:
        from sealkit.registry.service import push_registry_info
        from sealkit.registry.sync import IMAGES_SUBDIR, sync_layout_dir

        directory = rootfs / IMAGES_SUBDIR
        if not (directory / "index.json").is_file():
            return "no container images"
        return sync_layout_dir(directory, push_registry_info(ctx)).summary()

    def delete(self, ctx: ClusterContext, names: list[str]) -> list[str]:
        """Delete ``names`` (full image names) from the registry; returns warnings for what stays."""
        from sealkit.image.oci import MANIFEST_ACCEPT
        from sealkit.image.remote import RegistryClient
        from sealkit.registry.service import push_registry_info
        from sealkit.registry.sync import _bracket, _ca_file, _options, target_of

        if not names:
            return []
        info = push_registry_info(ctx)
        warnings = []
        with _ca_file(info.ca_pem) as ca:
            client = RegistryClient(f"{_bracket(info.hosts[0])}:{info.port}", _options(info, ca))
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
                        "DELETE",
                        f"/v2/{repo}/manifests/{digest}",
                        scope=f"repository:{repo}:delete",
                        ok=(202, 404),
                    ):
                        pass
                except SealkitError as err:
                    warnings.append(f"image {name} stays in the registry: {err.message}")
        return warnings
