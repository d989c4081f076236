"""Build tiny, runnable container images into an OCI layout, offline (no registry, no umoci).

The image is Debian's static busybox as ``/bin/busybox`` (+ ``/bin/sh`` link), with a ``Cmd`` that
prints a marker, so a test can prove which bytes a runtime pulled and ran.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

from sealkit.image.layout import OciLayout
from sealkit.image.oci import (
    ANNOT_REF_NAME,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    canonical_json,
    descriptor,
    host_arch,
)

BUSYBOX = Path("/bin/busybox")


def _tar(files: dict[str, bytes], links: dict[str, str]) -> bytes:
    """A deterministic tar: fixed mtimes/owners, sorted entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(p).parent) for p in [*files, *links]} - {"."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
        for name in sorted(links):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, links[name], 0o777, 0
            tar.addfile(info)
    return buf.getvalue()


def busybox_image(
    layout_dir: Path,
    name: str,
    *,
    marker: str = "hello from the sealkit registry",
    extra_file: bytes | None = None,
) -> dict[str, Any]:
    """Write a busybox image named ``name`` (full reference) into ``layout_dir``; return its entry.

    ``extra_file`` adds ``/marker.txt`` (a different layer digest per content).
    """
    layout = OciLayout(layout_dir).ensure()
    files = {"bin/busybox": BUSYBOX.read_bytes()}
    if extra_file is not None:
        files["marker.txt"] = extra_file
    raw = _tar(files, {"bin/sh": "busybox"})
    gz = gzip.compress(raw, mtime=0)
    layer = descriptor(OCI_LAYER_GZIP, gz)
    layout.write_blob(gz)
    config = {
        "architecture": host_arch(),
        "os": "linux",
        "config": {"Cmd": ["/bin/busybox", "echo", marker], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    }
    cfg = canonical_json(config)
    layout.write_blob(cfg)
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, cfg),
            "layers": [layer],
        }
    )
    layout.write_blob(manifest)
    entry = descriptor(OCI_MANIFEST, manifest, annotations={ANNOT_REF_NAME: name})
    with layout.lock():
        index = layout.read_index()
        index["manifests"] = [
            m for m in index["manifests"] if (m.get("annotations") or {}).get(ANNOT_REF_NAME) != name
        ] + [entry]
        layout.write_index(index)
    return entry


def layer_digest(layout_dir: Path, entry: dict[str, Any]) -> str:
    """Digest of the (single) layer of the image ``entry`` points at."""
    layout = OciLayout(layout_dir)
    return layout.read_json(entry["digest"])["layers"][0]["digest"]
