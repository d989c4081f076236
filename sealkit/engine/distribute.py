"""Content-addressed distribution of the cluster image's rootfs to hosts.

Peers copy everything again on a retry (sealer #823) or ask the remote for one md5 per file (#716). Here:

* the controller computes the rootfs manifest (path → sha256, size, mode) once per image digest and caches it
  next to the immutable unpacked rootfs;
* one round trip reads the host's manifest of what it already has (written only after a verified sync) and
  the sizes of the files actually present, so a deleted or truncated file is noticed;
* one more round trip streams a tar of only the missing files into a staging dir on the host, where
  ``sha256sum -c`` verifies every file before each is renamed into place; the host's manifest is replaced
  last. An interrupted copy leaves the staging dir (removed next time) and never a half-written file in place.

A re-run with nothing to send costs one round trip and 0 bytes per host.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sealkit.errors import StepFailed
from sealkit.state import atomic_write

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef

MANIFEST_NAME = ".sealkit-manifest.json"
LOCAL_MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class Entry:
    path: str
    sha256: str
    size: int
    mode: int


def local_manifest(rootfs: Path) -> dict[str, Entry]:
    """Manifest of an unpacked rootfs; cached beside it (the rootfs is immutable per image digest)."""
    cache = rootfs.with_name(rootfs.name + LOCAL_MANIFEST_SUFFIX)
    if cache.exists() and cache.stat().st_mtime >= rootfs.stat().st_mtime:
        raw = json.loads(cache.read_text())
        return {e["path"]: Entry(**e) for e in raw}
    entries: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(rootfs):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(rootfs).as_posix()
            if "\n" in rel:
                raise StepFailed(f"rootfs file name contains a newline: {rel!r}", step="distribute")
            st = full.stat()
            entries[rel] = Entry(rel, _sha256_file(full), st.st_size, st.st_mode & 0o7777)
    atomic_write(cache, json.dumps([e.__dict__ for e in entries.values()]), 0o644)
    return entries


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def plan_transfer(
    local: dict[str, Entry], remote: dict[str, str], sizes: dict[str, int]
) -> list[Entry]:
    """Files the host lacks: absent from its manifest, with another digest, or missing/resized on disk."""
    return [
        e
        for path, e in sorted(local.items())
        if remote.get(path) != e.sha256 or sizes.get(path) != e.size
    ]


def _probe_script(root: str) -> str:
    q = shlex.quote(root)
    return (
        f"mkdir -p {q} && cd {q} && rm -rf .sealkit-staging.* && "
        f"(cat {MANIFEST_NAME} 2>/dev/null || echo '{{}}') && echo '---sizes---' && "
        "find . -type f ! -name '.sealkit-*' -printf '%P\\t%s\\n'"
    )


def _parse_probe(out: str) -> tuple[dict[str, str], dict[str, int]]:
    manifest_text, _, size_text = out.partition("---sizes---")
    try:
        remote = json.loads(manifest_text.strip() or "{}")
    except json.JSONDecodeError:
        remote = {}  # a damaged manifest means "has nothing verified": everything is re-sent
    sizes = {}
    for line in size_text.strip().splitlines():
        path, _, size = line.rpartition("\t")
        if size.isdigit():
            sizes[path] = int(size)
    return remote, sizes


def _install_script(root: str, stage: str) -> str:
    """Extract into staging, verify every file, move each into place, prune, replace the manifest."""
    q, s = shlex.quote(root), shlex.quote(stage)
    return (
        f"set -e; cd {q}; mkdir -p {s}; tar -x -C {s} --no-same-owner; "
        f"if [ -s {s}/.sealkit-sums ]; then (cd {s} && sha256sum -c --quiet .sealkit-sums); fi; "
        f'while IFS= read -r p; do mkdir -p "$(dirname "$p")"; mv -f {s}/"$p" "$p"; '
        f"done < {s}/.sealkit-files; "
        f'while IFS= read -r p; do rm -f "$p"; done < {s}/.sealkit-prune; '
        f"mv -f {s}/{MANIFEST_NAME} {MANIFEST_NAME}; rm -rf {s}"
    )


def push_rootfs(ctx: ClusterContext, ip: str, rootfs: Path) -> int:
    """Bring the host's copy of the rootfs to exactly ``rootfs``; returns the bytes sent."""
    host = ctx.hosts[ip]
    root = ctx.remote_rootfs
    local = local_manifest(rootfs)
    probe = host.conn.run(_probe_script(root), timeout=300)
    remote, sizes = _parse_probe(probe.stdout)
    missing = plan_transfer(local, remote, sizes)
    prune = sorted(set(sizes) - set(local))
    if not missing and not prune and remote == {p: e.sha256 for p, e in local.items()}:
        return 0
    manifest = {p: e.sha256 for p, e in local.items()}
    stage = f".sealkit-staging.{os.getpid()}"
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as buf:
        _write_tar(buf, rootfs, missing, manifest, prune)
        size = buf.tell()
        buf.seek(0)
        try:
            host.conn.run(_install_script(root, stage), stdin=buf, timeout=None)
        except StepFailed as err:
            raise StepFailed(
                f"copying the rootfs failed: {err.message}",
                host=ip,
                step="distribute",
                hint="check free space under /var/lib/sealkit, then re-run",
            ) from err
    host.facts["bytes_sent"] = int(host.facts.get("bytes_sent", 0)) + size
    return size


def _write_tar(
    buf: IO[bytes], rootfs: Path, files: list[Entry], manifest: dict[str, str], prune: list[str]
) -> None:
    """The payload: missing files plus the control files the install script reads."""
    control = {
        ".sealkit-sums": "".join(f"{e.sha256}  {e.path}\n" for e in files),
        ".sealkit-files": "".join(f"{e.path}\n" for e in files),
        ".sealkit-prune": "".join(f"{p}\n" for p in prune),
        MANIFEST_NAME: json.dumps(manifest, sort_keys=True),
    }
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in files:
            info = tar.gettarinfo(str(rootfs / e.path), arcname=e.path)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with (rootfs / e.path).open("rb") as f:
                tar.addfile(info, f)
        for name, text in control.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))


def remove_rootfs(ctx: ClusterContext, host: HostRef) -> None:
    """Reset: the rootfs copy and sealkit's marker files go away."""
    host.conn.run(
        f"rm -rf {shlex.quote(ctx.remote_rootfs)} /var/lib/sealkit/installed && "
        "rmdir /var/lib/sealkit 2>/dev/null || true"
    )


def bytes_sent(ctx: ClusterContext) -> int:
    """Bytes of rootfs content sent to hosts in this run (0 on a re-run that had nothing to send)."""
    return sum(int(h.facts.get("bytes_sent", 0)) for h in ctx.hosts.values())
