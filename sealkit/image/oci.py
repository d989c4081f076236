"""OCI / Docker media types, digests, platforms and canonical JSON.

Kept in one small module so every other part of ``sealkit.image`` agrees on the exact bytes it
hashes: a digest is only stable if the JSON it covers is serialised the same way every time.
"""

from __future__ import annotations

import hashlib
import json
import platform as _platform
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sealkit.errors import ImageError

OCI_LAYOUT_VERSION = "1.0.0"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
GZIP_LAYERS = frozenset({OCI_LAYER_GZIP, DOCKER_LAYER_GZIP})
PLAIN_LAYERS = frozenset({OCI_LAYER, "application/vnd.docker.image.rootfs.diff.tar"})
#: What we accept when fetching a manifest: OCI first, Docker schema2 for older registries/images.
MANIFEST_ACCEPT = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)

ANNOT_REF_NAME = "org.opencontainers.image.ref.name"
ANNOT_CREATED = "org.opencontainers.image.created"

LABEL_TYPE = "sealkit.io/type"
LABEL_RUNTIME = "sealkit.io/runtime"
LABEL_VERSION = "sealkit.io/version"
IMAGE_TYPES = ("rootfs", "app", "patch")

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")

#: ``uname -m`` / Python names → OCI (GOARCH) names.
_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "arm": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed sha256 digest; a path built from it is then safe."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise ImageError(
            f"unsupported or malformed digest {digest!r}", hint="only sha256 digests are supported"
        )
    return digest


def canonical_json(obj: Any) -> bytes:
    """Serialise with sorted keys and no spaces so a rebuild yields the same bytes and digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def descriptor(
    media_type: str,
    data_or_digest: bytes | str,
    size: int | None = None,
    *,
    platform: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build an OCI content descriptor from bytes, or from a digest and a size."""
    if isinstance(data_or_digest, bytes):
        digest, size = sha256_digest(data_or_digest), len(data_or_digest)
    else:
        digest = check_digest(data_or_digest)
        if size is None:
            raise ValueError("size is required with a digest")
    desc: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    if platform:
        desc["platform"] = dict(platform)
    if annotations:
        desc["annotations"] = dict(sorted(annotations.items()))
    return desc


def normalize_arch(arch: str) -> str:
    """Map ``x86_64``/``aarch64``… to the OCI names ``amd64``/``arm64``…"""
    return _ARCH_ALIASES.get(arch.lower(), arch.lower())


def host_arch() -> str:
    """The OCI architecture name of this machine."""
    return normalize_arch(_platform.machine())


def parse_platform(text: str) -> dict[str, str]:
    """``linux/arm64[/v8]`` or just ``arm64`` → an OCI platform object."""
    parts = [p for p in text.strip().split("/") if p]
    if not parts or len(parts) > 3:
        raise ImageError(f"invalid platform {text!r}", hint="use OS/ARCH[/VARIANT], e.g. linux/amd64")
    if len(parts) == 1:
        parts = ["linux", parts[0]]
    plat = {"os": parts[0], "architecture": normalize_arch(parts[1])}
    if len(parts) == 3:
        plat["variant"] = parts[2]
    return plat


def format_platform(plat: Mapping[str, str]) -> str:
    """Inverse of :func:`parse_platform`."""
    text = f"{plat.get('os', 'linux')}/{plat.get('architecture', '?')}"
    return text + (f"/{plat['variant']}" if plat.get("variant") else "")


def parse_platforms(platforms: str | Iterable[str] | None) -> list[dict[str, str]]:
    """``"linux/amd64,linux/arm64"`` or a list → unique platforms, in the given order."""
    if platforms is None:
        return [{"os": "linux", "architecture": host_arch()}]
    items = platforms.split(",") if isinstance(platforms, str) else list(platforms)
    out: list[dict[str, str]] = []
    for item in items:
        plat = parse_platform(item)
        if plat not in out:
            out.append(plat)
    if not out:
        raise ImageError("no platform given", hint="use --platform linux/amd64[,linux/arm64]")
    return out


def select_manifest(index: Mapping[str, Any], arch: str | None = None) -> dict[str, Any]:
    """The manifest descriptor of ``index`` for ``arch`` (default: this host's), OS linux.

    ``arch`` may be ``arm64``, ``aarch64`` or ``linux/arm64[/v8]``. Raises ImageError listing what
    the index offers when the architecture is missing, so the user sees which image to build.
    """
    want = parse_platform(arch or host_arch())
    manifests = [m for m in index.get("manifests", []) if m.get("mediaType") in MANIFEST_TYPES]
    candidates = []
    for desc in manifests:
        plat = desc.get("platform") or {}
        if plat.get("os", "linux") != want["os"]:
            continue
        if normalize_arch(plat.get("architecture", "")) != want["architecture"]:
            continue
        if "variant" in want and plat.get("variant") not in (None, want["variant"]):
            continue
        candidates.append(desc)
    if not candidates:
        offered = sorted({format_platform(m.get("platform") or {}) for m in manifests})
        raise ImageError(
            f"image has no manifest for platform {format_platform(want)} "
            f"(it offers: {', '.join(offered) or 'nothing'})",
            hint=f"build or pull the image with --platform {format_platform(want)}",
        )
    return dict(candidates[0])
