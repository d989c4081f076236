"""Resolving the cluster image of a run: local store (pulling when missing), labels, unpacked rootfs.

A rootfs is unpacked once per (image digest, arch) under ``$SEALKIT_HOME/rootfs`` and never changed after,
which is what lets distribution cache its manifest beside it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from sealkit.errors import ImageError
from sealkit.state import home


@dataclass(frozen=True)
class ResolvedImage:
    ref: str
    digest: str
    labels: dict[str, str]
    rootfs: Path
    #: the image's ENV: defaults of the cluster env (the Clusterfile's spec.env and -e override them)
    env: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def version(self) -> str:
        return self.labels.get("sealkit.io/version", "")

    def rootfs_for(self, arch: str | None) -> Path:
        """The rootfs for a host's architecture (unpacked on first use)."""
        if not arch or self.rootfs.name.endswith(f"-{arch}"):
            return self.rootfs
        with self._lock:
            return _unpacked(self.ref, self.digest, arch)


def _unpacked(ref: str, digest: str, arch: str | None) -> Path:
    from sealkit.image import default_store, host_arch

    arch = arch or host_arch()
    dest = home() / "rootfs" / f"{digest.removeprefix('sha256:')[:24]}-{arch}"
    if not dest.is_dir():
        default_store().unpack(ref, dest, arch=arch)
    return dest


def resolve(ref: str, arch: str | None = None) -> ResolvedImage:
    """Find ``ref`` in the local store (or pull it), unpack it once per digest, return its facts."""
    from sealkit.image import default_store

    store = default_store()
    try:
        found = store.resolve(ref)
    except ImageError:
        try:
            store.pull(ref)
        except ImageError as err:
            raise ImageError(
                f"cluster image {ref!r} is not in the local store and could not be pulled: {err.message}",
                hint=f"sealkit build -t {ref} DIR, sealkit load -i FILE, or sealkit pull {ref}",
            ) from err
        found = store.resolve(ref)
    digest = str(found.desc["digest"])
    labels = store.labels(ref, arch=arch)
    return ResolvedImage(
        ref=ref,
        digest=digest,
        labels=labels,
        rootfs=_unpacked(ref, digest, arch),
        env=store.env(ref, arch=arch),
    )
