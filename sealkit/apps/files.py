"""The app's files on the master that runs its installer: ``/var/lib/sealkit/apps/<name>/``.

Only what the installer reads goes there (the image root without ``images/``: container images go to
the registry, not to the master), content-addressed through :mod:`sealkit.engine.distribute`, so a
re-run sends nothing. The directory stays until ``apps remove`` (helm needs its chart and binary then).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sealkit.apps.configs import ConfigPatch, apply_patches
from sealkit.context import REMOTE_APPS

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef

KUBECONFIG = f"{REMOTE_APPS}/.kubeconfig"
#: where kubectl and helm keep their caches and config on the master: under sealkit's own dir, not in the
#: login user's home (~/.kube/cache, ~/.cache/helm …), so reset takes them away with the rest
TOOL_DIR = f"{REMOTE_APPS}/.tools"
KUBE_CACHE_DIR = f"{TOOL_DIR}/kube-cache"
TOOL_ENV = {
    "KUBECACHEDIR": KUBE_CACHE_DIR,
    "HELM_CACHE_HOME": f"{TOOL_DIR}/helm-cache",
    "HELM_CONFIG_HOME": f"{TOOL_DIR}/helm-config",
    "HELM_DATA_HOME": f"{TOOL_DIR}/helm-data",
}
SKIP = ("images",)


def remote_dir(name: str) -> str:
    return f"{REMOTE_APPS}/{name}"


def staged(rootfs: Path, patches: list[ConfigPatch], cache: Path) -> Path:
    """The files to send: ``rootfs`` minus ``images/``, Config patches applied; built once per input."""
    key = hashlib.sha256(f"{rootfs.resolve()}|{[p.__dict__ for p in patches]}".encode()).hexdigest()[:24]
    dest = cache / key
    if dest.is_dir():
        return dest
    tmp = cache / f".{key}.{os.getpid()}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for entry in sorted(rootfs.iterdir()):
        if entry.name in SKIP:
            continue
        target = tmp / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True)
        else:
            shutil.copy2(entry, target, follow_symlinks=False)
    patched = apply_patches(tmp, patches, cache / f".{key}.patched.tmp")
    if patched != tmp:
        shutil.rmtree(tmp)
        patched.rename(tmp)
    tmp.rename(dest)
    return dest


def push(ctx: ClusterContext, host: HostRef, local: Path, name: str) -> int:
    """Bring ``host``'s copy of the app's files to exactly ``local``; returns the bytes sent."""
    from sealkit.engine import distribute

    app_ctx = replace(ctx, remote_rootfs=remote_dir(name))
    return distribute.push_rootfs(app_ctx, host.ip, local)
