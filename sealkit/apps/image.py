"""Finding an app image in the local store: type check, spec, ENV defaults, CMD, platforms, images."""

from __future__ import annotations

from pathlib import Path

from sealkit.apps.model import ResolvedApp
from sealkit.apps.spec import load_spec
from sealkit.errors import ImageError

TYPE_LABEL = "sealkit.io/type"


def image_type(ref: str) -> str:
    """The ``sealkit.io/type`` label of a stored image (``rootfs`` when it has none)."""
    from sealkit.image import default_store

    return default_store().labels(ref).get(TYPE_LABEL, "rootfs")


def is_app(ref: str) -> bool:
    return image_type(ref) == "app"


def resolve_app(ref: str, *, pull: bool = False) -> ResolvedApp:
    """The app image ``ref``: refused when it is not ``sealkit.io/type=app`` or its spec is wrong."""
    from sealkit.engine import images
    from sealkit.image import default_store
    from sealkit.registry.sync import IMAGES_SUBDIR, image_names

    found = images.resolve(ref, pull=pull)
    kind = found.labels.get(TYPE_LABEL, "rootfs")
    if kind != "app":
        raise ImageError(
            f"{ref} is not an app image (sealkit.io/type={kind})",
            step="app image",
            hint="app images carry LABEL sealkit.io/type=app in their Kubefile; "
            "a rootfs image is the cluster itself (sealkit run/upgrade)",
        )
    info = default_store().inspect(ref)
    arches = tuple(sorted({p["platform"].split("/")[1] for p in info["platforms"] if "/" in p["platform"]}))
    config = (info["platforms"][0]["config"].get("config") or {}) if info["platforms"] else {}
    cmd = tuple(str(c) for c in config.get("Cmd") or ())
    rootfs: Path = found.rootfs
    spec = load_spec(rootfs, image_ref=ref, labels=found.labels, cmd=cmd)
    return ResolvedApp(
        ref=ref,
        digest=found.digest,
        spec=spec,
        labels=found.labels,
        env=found.env,
        cmd=cmd,
        arches=arches,
        images=tuple(image_names(rootfs / IMAGES_SUBDIR)),
        rootfs_for=found.rootfs_for,
    )
