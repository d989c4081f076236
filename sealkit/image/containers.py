"""Container images carried inside a cluster image (``images/oci/``), for offline installs.

:func:`collect_images` finds what a rootfs (or build context) needs: ``images/shim/*`` lists (one
reference a line, ``#`` comments — the sealos convention), ``image:`` fields in
``manifests/**/*.y*ml`` and the images named by Helm ``values*.yaml`` under ``charts/``.
:func:`fetch_images` copies them into an OCI layout from a registry or from a local OCI layout;
blobs are content-addressed, so a layer shared by several images is stored once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from sealkit.errors import ImageError
from sealkit.image.layout import OciLayout
from sealkit.image.oci import ANNOT_REF_NAME, INDEX_TYPES, MANIFEST_TYPES, select_manifest
from sealkit.image.reference import Reference, parse_reference
from sealkit.image.remote import RegistryOptions, pull_to_layout

log = logging.getLogger(__name__)

_IMAGE_LINE = re.compile(r"""^\s*-?\s*image:\s*["']?([^"'\s#]+)""", re.MULTILINE)
_YAML_SUFFIXES = (".yaml", ".yml")


def collect_images(rootfs_dir: Path) -> list[str]:
    """Sorted, de-duplicated image references a rootfs or build context needs."""
    root = Path(rootfs_dir)
    found: set[str] = set()
    shim = root / "images" / "shim"
    if shim.is_dir():
        for path in sorted(p for p in shim.rglob("*") if p.is_file()):
            for line in path.read_text().splitlines():
                text = line.split("#", 1)[0].strip()
                if text:
                    found.add(text)
    manifests = root / "manifests"
    if manifests.is_dir():
        for path in sorted(manifests.rglob("*")):
            if path.is_file() and path.suffix in _YAML_SUFFIXES:
                found.update(_manifest_images(path))
    charts = root / "charts"
    if charts.is_dir():
        for path in sorted(charts.rglob("values*.y*ml")):
            if path.is_file() and "templates" not in path.relative_to(charts).parts:
                found.update(_chart_images(path))
    refs = set()
    for text in found:
        if "{{" in text or "$" in text:
            log.warning("skipping templated image reference %r", text)
            continue
        parse_reference(text)  # raise early, naming the bad reference
        refs.add(text)
    return sorted(refs)


def _load_yaml(path: Path) -> list[Any] | None:
    try:
        return list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError:
        return None


def _manifest_images(path: Path) -> set[str]:
    docs = _load_yaml(path)
    if docs is None:
        # not plain YAML (e.g. a Go template): fall back to the image: lines
        log.info("%s is not plain YAML; scanning its image: lines", path)
        return set(_IMAGE_LINE.findall(path.read_text()))
    return {v for doc in docs for v in _walk_image_fields(doc)}


def _walk_image_fields(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                yield value
            else:
                yield from _walk_image_fields(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_image_fields(item)


def _chart_images(path: Path) -> set[str]:
    docs = _load_yaml(path)
    if docs is None:
        return set(_IMAGE_LINE.findall(path.read_text()))
    app_version = _app_version(path.parent)
    out: set[str] = set()
    for doc in docs:
        out.update(_walk_values(doc, app_version))
    return out


def _app_version(chart_dir: Path) -> str | None:
    chart = chart_dir / "Chart.yaml"
    if chart.is_file():
        docs = _load_yaml(chart)
        if docs and isinstance(docs[0], Mapping) and docs[0].get("appVersion"):
            return str(docs[0]["appVersion"])
    return None


def _walk_values(node: Any, app_version: str | None) -> Iterator[str]:
    """Helm conventions: ``image: ref``, ``image: {registry, repository, tag}``, or
    ``repository`` + ``tag`` side by side; an empty tag means the chart's appVersion."""
    if isinstance(node, Mapping):
        repo = node.get("repository")
        if isinstance(repo, str) and repo and ("tag" in node or "registry" in node):
            ref = _join_image(node.get("registry"), repo, node.get("tag"), node.get("digest"), app_version)
            if ref:
                yield ref
        for key, value in node.items():
            if key == "image" and isinstance(value, str) and value:
                yield value
            elif isinstance(value, Mapping | list):
                yield from _walk_values(value, app_version)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_values(item, app_version)


def _join_image(registry: Any, repo: str, tag: Any, digest: Any, app_version: str | None) -> str | None:
    name = f"{registry}/{repo}" if isinstance(registry, str) and registry else repo
    if isinstance(digest, str) and digest.startswith("sha256:"):
        return f"{name}@{digest}"
    tag_text = str(tag) if tag not in (None, "") else app_version
    return f"{name}:{tag_text}" if tag_text else name


def fetch_images(
    refs: Iterable[str],
    dest_layout_dir: Path,
    *,
    source: Path | RegistryOptions | None = None,
    platform: str | None = None,
) -> list[str]:
    """Copy ``refs`` into the OCI layout at ``dest_layout_dir``; return the names recorded.

    ``source`` is a local OCI layout directory (``--images-from DIR``: its index.json names the
    images by ``org.opencontainers.image.ref.name``) or the registry options used to pull from
    each reference's own registry. With ``platform`` each image is narrowed to that platform's
    manifest, so a per-architecture rootfs carries only what its hosts can run.
    """
    layout = OciLayout(Path(dest_layout_dir)).ensure()
    names: list[str] = []
    with layout.writing():
        for text in sorted(set(refs)):
            ref = parse_reference(text)
            name = str(ref.remote())
            if isinstance(source, Path):
                root = copy_from_layout(OciLayout(source), ref, layout, platform=platform)
            else:
                root = pull_to_layout(ref, layout, source or RegistryOptions(), platform=platform)
            _record(layout, name, root)
            names.append(name)
    return names


def _record(layout: OciLayout, name: str, root: Mapping[str, Any]) -> None:
    with layout.lock():
        index = layout.read_index()
        entries = [m for m in index["manifests"] if (m.get("annotations") or {}).get(ANNOT_REF_NAME) != name]
        desc = {k: v for k, v in root.items() if k != "annotations"}
        desc["annotations"] = {ANNOT_REF_NAME: name}
        entries.append(desc)
        entries.sort(key=lambda m: m["annotations"][ANNOT_REF_NAME])
        index["manifests"] = entries
        layout.write_index(index)


def find_in_layout(layout: OciLayout, ref: Reference) -> dict[str, Any] | None:
    """The index.json entry of ``layout`` that names ``ref`` (several spellings accepted)."""
    wanted = {str(ref), str(ref.with_default_tag()), str(ref.remote())}
    if ref.tag and not ref.registry:
        wanted.add(ref.tag)  # skopeo/umoci write bare tags as ref.name
    for entry in layout.read_index()["manifests"]:
        name = (entry.get("annotations") or {}).get(ANNOT_REF_NAME)
        if name in wanted or (ref.digest and entry.get("digest") == ref.digest):
            return dict(entry)
    if ref.digest and layout.has_blob(ref.digest):
        data = layout.read_blob(ref.digest, what="manifest", image=str(ref))
        media = json.loads(data).get("mediaType") or "application/vnd.oci.image.manifest.v1+json"
        return {"mediaType": media, "digest": ref.digest, "size": len(data)}
    return None


def copy_from_layout(
    src: OciLayout, ref: Reference, dst: OciLayout, *, platform: str | None = None
) -> dict[str, Any]:
    """Copy one image (and only the blobs ``dst`` lacks) between two OCI layouts."""
    entry = find_in_layout(src, ref)
    if entry is None:
        raise ImageError(
            f"image {ref} is not in the OCI layout {src.root}",
            hint=f"add it there (e.g. skopeo copy docker://{ref} oci:{src.root}:{ref})",
        )
    root = {k: v for k, v in entry.items() if k != "annotations"}
    if platform and root["mediaType"] in INDEX_TYPES:
        index = src.read_json(root["digest"], root.get("size"), image=str(ref))
        root = {k: v for k, v in select_manifest(index, platform).items() if k != "annotations"}
    for desc in src.walk(root, image=str(ref)):
        if dst.has_blob(desc["digest"]):
            continue
        with src.open_blob(desc["digest"], desc.get("size"), image=str(ref)) as reader:
            dst.ingest(reader, desc["digest"], desc.get("size"), image=str(ref))
    if root["mediaType"] not in INDEX_TYPES | MANIFEST_TYPES:
        raise ImageError(f"{ref} in {src.root} is not an image (media type {root['mediaType']})")
    return root
