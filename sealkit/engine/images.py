"""Resolving the cluster image of a run: local store (pulling only when allowed), labels, unpacked rootfs.

A rootfs is unpacked once per (image digest, arch) under ``$SEALKIT_HOME/rootfs`` and never changed after,
which is what lets distribution cache its manifest beside it. Several sealkit processes may need the same
new rootfs at once: a lock file beside it makes the second wait for the first instead of crashing.

A missing image is pulled only when its reference names a registry (``reg.example:5000/k3s:v1``,
``localhost/…``) or the operator asked for it (``--pull``): a bare ``k3s:v1.29`` with a typo would
otherwise install whatever the public owner of that Docker Hub name published, and its scripts run as root
on every host (issue 14 item 10).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sealkit.errors import ImageError
from sealkit.image.reference import parse_reference
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


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An exclusive flock held by this process (another sealkit process waits for it)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: architectures a rootfs may be unpacked for: the name becomes part of a path on the controller, and it
#: comes from what a host says (``uname -m``), so nothing outside this set is ever used
KNOWN_ARCHES = frozenset(
    {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"}
)


def _unpacked(ref: str, digest: str, arch: str | None) -> Path:
    from sealkit.image import default_store, host_arch
    from sealkit.image.oci import check_digest, normalize_arch

    arch = normalize_arch(arch) if arch else host_arch()
    if arch not in KNOWN_ARCHES:
        raise ImageError(
            f"unknown architecture {arch!r} for image {ref}",
            hint=f"sealkit unpacks images for {', '.join(sorted(KNOWN_ARCHES))} only",
        )
    check_digest(digest)
    dest = home() / "rootfs" / f"{digest.removeprefix('sha256:')[:24]}-{arch}"
    if dest.is_dir():
        return dest
    with _exclusive(dest.with_name(f".{dest.name}.lock")):
        if not dest.is_dir():  # another process may have finished it while this one waited
            default_store().unpack(ref, dest, arch=arch)
    return dest


def names_registry(ref: str) -> bool:
    """True when ``ref`` names its registry explicitly (first component with ``.``/``:`` or ``localhost``)."""
    try:
        return parse_reference(ref).registry is not None
    except ImageError:
        return False


def resolve(ref: str, arch: str | None = None, *, pull: bool = False) -> ResolvedImage:
    """Find ``ref`` in the local store, unpack it once per digest, return its facts.

    A missing image is pulled only when ``ref`` names a registry or ``pull`` is set (``--pull``).
    """
    from sealkit.image import default_store

    store = default_store()
    try:
        found = store.resolve(ref)
    except ImageError:
        if not (pull or names_registry(ref)):
            raise ImageError(
                f"cluster image {ref!r} is not in the local store, and its reference names no registry, "
                "so sealkit does not pull it from the default registry (Docker Hub) on its own",
                hint=f"pull it first (sealkit pull {ref}), load it (sealkit load -i FILE), "
                f"build it (sealkit build -t {ref} DIR), or pass --pull to fetch it from Docker Hub",
            ) from None
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
