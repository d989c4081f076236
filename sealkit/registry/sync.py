"""Sync the container images packed in the cluster image into the embedded registry, by digest.

The cluster image carries its container images as an OCI layout in ``images/oci/`` (written by
:func:`sealkit.image.containers.fetch_images`: one index.json entry per image, named by its full
reference in ``org.opencontainers.image.ref.name``, e.g. ``docker.io/library/busybox:1.36``). Each
image is pushed to the embedded registry under the repository path containerd asks a mirror for
(``library/busybox``, tag ``1.36``) — the registry part of the name is what the mirror config maps.

From the controller over HTTPS, verified against the cluster CA, with the registry credentials,
through :class:`sealkit.image.remote.RegistryClient` (no second registry client here):

* an image whose tag already resolves to the same manifest digest is skipped with one HEAD request;
* a blob the registry already has in that repository is skipped (HEAD) — so a re-run sends nothing;
* every blob is verified against its digest while it is read, and the registry verifies it again on
  upload: a corrupted blob stops the sync with an error naming the image and both digests, and is
  never stored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealkit.context import RegistryInfo
from sealkit.errors import ConnectError, ImageError, SealkitError, StepFailed
from sealkit.image.layout import OciLayout
from sealkit.image.oci import ANNOT_REF_NAME, INDEX_TYPES, MANIFEST_ACCEPT, MANIFEST_TYPES
from sealkit.image.reference import parse_reference
from sealkit.image.remote import RegistryClient, RegistryOptions
from sealkit.units import human_size

log = logging.getLogger("sealkit.registry")

#: where the container images live inside a cluster image's rootfs
IMAGES_SUBDIR = "images/oci"
#: containerd's annotation for the full image name (used when ref.name holds a bare tag)
ANNOT_CONTAINERD_NAME = "io.containerd.image.name"


@dataclass
class SyncReport:
    """What a sync did; a re-run of an unchanged layout reports nothing pushed."""

    images: list[str] = field(default_factory=list)
    images_skipped: list[str] = field(default_factory=list)
    blobs_pushed: int = 0
    blobs_skipped: int = 0
    bytes_pushed: int = 0
    manifests_pushed: int = 0

    def summary(self) -> str:
        """One short line for people (the blob and manifest counts are in :meth:`detail`, at -v)."""
        n = len(self.images)
        return f"{n} image{'' if n == 1 else 's'} in place, {human_size(self.bytes_pushed)} sent"

    def detail(self) -> str:
        return (
            f"{len(self.images)} image(s) ({len(self.images_skipped)} already up to date): "
            f"{self.blobs_pushed} blob(s) pushed ({human_size(self.bytes_pushed)}), "
            f"{self.blobs_skipped} already present, {self.manifests_pushed} manifest(s) pushed"
        )


def image_name(entry: dict[str, Any]) -> str | None:
    """The full reference an index.json entry names, or None when it names none."""
    ann = entry.get("annotations") or {}
    for key in (ANNOT_REF_NAME, ANNOT_CONTAINERD_NAME):
        name = ann.get(key)
        if name and ("/" in name or ":" in name.split("/")[-1] or "@" in name):
            return str(name)
    return None


def target_of(name: str) -> tuple[str, str]:
    """``(repository, tag-or-digest)`` in the mirror for a full image name.

    ``docker.io/library/busybox:1.36`` → ``("library/busybox", "1.36")``; ``busybox`` →
    ``("library/busybox", "latest")``; ``registry.k8s.io/pause@sha256:…`` → ``("pause",
    "sha256:…")``.
    """
    ref = parse_reference(name).remote()
    return ref.repository, ref.reference


def _options(registry: RegistryInfo, ca_file: Path) -> RegistryOptions:
    return RegistryOptions(
        ca_file=ca_file, username=registry.username, password=registry.password, timeout=120.0
    )


@contextlib.contextmanager
def _ca_file(pem: bytes) -> Iterator[Path]:
    """The cluster CA as a temp file for the TLS context (removed afterwards)."""
    if not pem:
        raise ConnectError(
            "the registry's CA certificate is empty",
            step="registry-sync",
            hint="build it with sealkit.registry.service.registry_info (it adds the CA)",
        )
    fd, name = tempfile.mkstemp(prefix="sealkit-registry-ca-", suffix=".crt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _post_order(
    layout: OciLayout, desc: dict[str, Any], image: str, seen: set[str]
) -> Iterator[dict[str, Any]]:
    """Blobs and child manifests before the manifests that reference them, each digest once."""
    media = desc["mediaType"]
    if media in INDEX_TYPES or media in MANIFEST_TYPES:
        doc = layout.read_json(desc["digest"], desc.get("size"), image=image)
        if media in INDEX_TYPES:
            children = list(doc.get("manifests", []))
        else:
            children = [doc["config"], *doc.get("layers", [])]
        for child in children:
            if child["digest"] not in seen:
                yield from _post_order(layout, child, image, seen)
    if desc["digest"] not in seen:
        seen.add(desc["digest"])
        yield desc


def _remote_digest(client: RegistryClient, repo: str, reference: str) -> str | None:
    """The manifest digest the registry serves for ``repo:reference`` (None when it has none)."""
    headers = {"Accept": ", ".join(MANIFEST_ACCEPT)}
    with client.request(
        "HEAD",
        f"/v2/{repo}/manifests/{reference}",
        scope=f"repository:{repo}:pull,push",
        headers=headers,
        ok=(200, 404),
    ) as resp:
        if resp.status == 404:
            return None
        return resp.headers.get("Docker-Content-Digest")


def sync_image(
    client: RegistryClient, layout: OciLayout, entry: dict[str, Any], name: str, report: SyncReport
) -> None:
    """Push one image (its tree under ``entry``) to the registry, skipping what is there."""
    repo, reference = target_of(name)
    root = {k: v for k, v in entry.items() if k != "annotations"}
    if _remote_digest(client, repo, reference) == root["digest"]:
        report.images_skipped.append(name)
        report.images.append(name)
        log.debug("registry %s already serves %s as %s", client.host, name, root["digest"])
        return
    for desc in _post_order(layout, root, name, set()):
        media = desc["mediaType"]
        digest, size = desc["digest"], desc.get("size")
        if media in INDEX_TYPES or media in MANIFEST_TYPES:
            if desc["digest"] == root["digest"]:
                continue
            data = layout.read_blob(digest, size, what="manifest", image=name)
            client.put_manifest(repo, digest, data, media)
            report.manifests_pushed += 1
            continue
        if size is None:
            raise ImageError(f"image {name}: descriptor of {digest} has no size")
        sent = client.upload_blob(
            repo, digest, size, lambda d=digest, s=size: layout.open_blob(d, s, image=name)
        )
        if sent:
            report.blobs_pushed += 1
            report.bytes_pushed += size
        else:
            report.blobs_skipped += 1
    data = layout.read_blob(root["digest"], root.get("size"), what="manifest", image=name)
    client.put_manifest(repo, reference, data, root["mediaType"])
    report.manifests_pushed += 1
    report.images.append(name)


def sync_layout(
    layout: OciLayout,
    registry: RegistryInfo,
    *,
    endpoint: str | None = None,
    images: list[str] | None = None,
) -> SyncReport:
    """Push every named image of ``layout`` (or only ``images``) to the embedded registry.

    ``endpoint`` is the ``host:port`` the controller dials (default: the first registry host's IP
    and the registry port; its certificate carries that IP as a SAN).
    """
    if not registry.hosts and endpoint is None:
        raise ConnectError("the embedded registry has no host", step="registry-sync")
    address = endpoint or f"{_bracket(registry.hosts[0])}:{registry.port}"
    entries = []
    for entry in layout.read_index()["manifests"]:
        name = image_name(entry)
        if name is None:
            raise ImageError(
                f"{layout.root}/index.json has an image without a full name "
                f"(annotations {entry.get('annotations') or {}})",
                hint="name every image by its full reference in org.opencontainers.image.ref.name "
                "(e.g. docker.io/library/busybox:1.36); sealkit build does this",
            )
        if images is None or name in images:
            entries.append((name, entry))
    report = SyncReport()
    wait_listening(address)
    verify_ours(address, registry.ca_pem)
    with _ca_file(registry.ca_pem) as ca:
        client = RegistryClient(address, _options(registry, ca))
        for name, entry in entries:
            try:
                sync_image(client, layout, entry, name, report)
            except SealkitError as err:
                err.step = err.step or "registry-sync"
                raise
    return report


def image_names(directory: Path) -> list[str]:
    """Full names of the images in an OCI layout directory (empty when there is no layout): what a
    runtime plugin passes to :func:`sealkit.registry.mirrors.upstreams_for`."""
    layout = OciLayout(Path(directory))
    if not layout.exists():
        return []
    names = (image_name(e) for e in layout.read_index()["manifests"])
    return sorted({n for n in names if n})


def sync_layout_dir(directory: Path, registry: RegistryInfo, **kw: Any) -> SyncReport:
    """:func:`sync_layout` for an OCI layout directory (``<rootfs>/images/oci``)."""
    layout = OciLayout(Path(directory))
    if not layout.exists():
        raise ImageError(
            f"{directory} is not an OCI image layout",
            hint="the cluster image keeps its container images in images/oci/",
        )
    return sync_layout(layout, registry, **kw)


def wait_listening(address: str, timeout: float = 30.0) -> None:
    """Wait (bounded) until ``host:port`` accepts TCP connections: right after ``systemctl restart``
    the registry needs a moment before it listens."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=3):
                return
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    raise ConnectError(
        f"the embedded registry at {address} does not accept connections ({last})",
        step="registry-sync",
        hint="check `systemctl status sealkit-registry.service` and "
        "`journalctl -u sealkit-registry.service` on the registry host, and that the controller "
        "can reach it on that port",
    )


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def verify_ours(address: str, ca_pem: bytes, timeout: float = 10.0) -> None:
    """Refuse to push unless the service at ``host:port`` is OUR registry: it must complete a TLS
    handshake with a certificate the cluster CA signed for that address. Another service holding the
    port (plain HTTP, or TLS with its own certificate) is named as such, never used."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    with _ca_file(ca_pem) as ca:
        tls = ssl.create_default_context(cafile=str(ca))
    tls.check_hostname = True
    try:
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as raw,
            tls.wrap_socket(raw, server_hostname=host),
        ):
            return
    except ssl.SSLCertVerificationError as exc:
        why = f"its certificate is not one this cluster's CA issued for {host} ({exc.verify_message})"
    except ssl.SSLError as exc:
        why = f"it does not complete a TLS handshake ({exc.reason or exc})"
    except OSError as exc:
        raise ConnectError(
            f"the embedded registry at {address} does not answer ({exc})",
            host=host,
            step="registry-verify",
            hint="check `systemctl status sealkit-registry-push.service` on the host",
        ) from None
    raise StepFailed(
        f"the service answering on {address} is not sealkit's registry: {why}; nothing was pushed to it",
        host=host,
        step="registry-verify",
        hint=f"find what listens there (`ss -ltnp 'sport = :{port}'` on the host), stop it or set "
        "spec.registry.port to a free port, then re-run",
    )


@dataclass
class HostsSync:
    """What a sync to several registries did: a report per registry that took the images, the error
    of each that did not."""

    synced: dict[str, SyncReport] = field(default_factory=dict)
    failed: dict[str, SealkitError] = field(default_factory=dict)

    def summary(self) -> str:
        """``images synced to the registry on 10.0.0.1, 10.0.0.2 (1 image in place, 0 B sent)``: one line
        when every registry took the same, else a part per registry; each one that failed named."""
        reports = {r.summary() for r in self.synced.values()}
        if len(reports) == 1:
            parts = [f"images synced to the registry on {', '.join(self.synced)} ({reports.pop()})"]
        else:
            parts = [f"{ip}: {r.summary()}" for ip, r in self.synced.items()]
        parts += [f"{ip}: NOT synced ({err.message})" for ip, err in self.failed.items()]
        return "; ".join(parts) or "no registry host"

    def detail(self) -> str:
        return "; ".join(f"{ip}: {r.detail()}" for ip, r in self.synced.items())


def sync_to_hosts(
    directory: Path, registry: RegistryInfo, *, port: int | None = None, **kw: Any
) -> HostsSync:
    """Push the layout to the registry on EVERY host of ``registry.hosts`` (``ip:port``, port defaults to
    ``registry.port``), each independently: registries share no storage, and each skips what it has.
    Every host is tried; the result says which took the images and why the others did not."""
    out = HostsSync()
    for ip in registry.hosts:
        try:
            out.synced[ip] = sync_layout_dir(
                directory, registry, endpoint=f"{_bracket(ip)}:{port or registry.port}", **kw
            )
        except SealkitError as err:
            err.host = err.host or ip
            out.failed[ip] = err
    return out
