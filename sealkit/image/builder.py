"""Kubefile → OCI image index (one manifest per platform), written into an OCI layout.

Reproducible by construction: layers are deterministic tars, JSON is canonical, and the config's
``created`` is ``SOURCE_DATE_EPOCH`` (or the epoch) rather than the wall clock, so building the
same context twice gives the same digests and pushing it again uploads nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sealkit.errors import SealkitError, UsageError
from sealkit.image.containers import collect_images, fetch_images
from sealkit.image.kubefile import BuildPlan, CopyStep, Kubefile
from sealkit.image.layers import copy_entries, write_layer
from sealkit.image.layout import OciLayout
from sealkit.image.oci import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    canonical_json,
    descriptor,
    format_platform,
)
from sealkit.image.remote import RegistryOptions

IMAGES_OCI_DIR = "images/oci"


@dataclass(frozen=True)
class BaseImage:
    """What FROM contributes for one platform: its config and manifest (layers)."""

    config: dict[str, Any]
    manifest: dict[str, Any]


def created_timestamp() -> str:
    """``SOURCE_DATE_EPOCH`` as RFC 3339, else the epoch: never the wall clock (reproducible)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "0").strip() or "0"
    try:
        seconds = int(raw)
    except ValueError as exc:
        raise UsageError(f"SOURCE_DATE_EPOCH={raw!r} is not an integer") from exc
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(
    layout: OciLayout,
    kubefile: Kubefile,
    context: Path,
    platforms: Sequence[dict[str, str]],
    *,
    base_image: Callable[[str, dict[str, str], str], BaseImage],
    build_args: Mapping[str, str] | None = None,
    images_from: Path | None = None,
    registry: RegistryOptions | None = None,
    fetch: bool = True,
) -> dict[str, Any]:
    """Build every platform; return the image index descriptor (not yet named in index.json).

    ``base_image(ref, platform, where)`` resolves FROM for a platform. The caller holds
    ``layout.writing()`` so garbage collection cannot remove the new blobs before they are named.
    """
    context = Path(context)
    if not context.is_dir():
        raise UsageError(f"build context {context} is not a directory")
    image_refs = collect_images(context) if fetch else []
    if image_refs and (context / IMAGES_OCI_DIR).exists():
        raise UsageError(
            f"the build context has both image lists and a prebuilt {IMAGES_OCI_DIR}/",
            hint=f"remove {context / IMAGES_OCI_DIR} (build fetches the listed images into it) "
            "or build without fetching images",
        )
    manifests: list[dict[str, Any]] = []
    label_sets: list[dict[str, str]] = []
    created = created_timestamp()
    with tempfile.TemporaryDirectory(prefix="sealkit-build-") as tmp:
        scratch = Path(tmp)
        for platform in platforms:
            bases: dict[str, BaseImage] = {}

            def base_config(
                ref: str,
                line: int,
                _plat: dict[str, str] = platform,
                _bases: dict[str, BaseImage] = bases,
            ) -> dict[str, Any]:
                where = f"{kubefile.path}:{line}"
                _bases[ref] = base_image(ref, _plat, where)
                return _bases[ref].config

            plan = kubefile.plan(platform, build_args, base_config)
            base = bases.get(plan.base) if plan.base else None
            layers = list(base.manifest.get("layers", [])) if base else []
            diff_ids = list((base.config.get("rootfs") or {}).get("diff_ids", [])) if base else []
            history = list(base.config.get("history", [])) if base else []
            for step in plan.copies:
                where = f"{kubefile.path}:{step.line}"
                entries = copy_entries(step, context, where)
                layer = write_layer(entries, scratch / "layer.tar.gz")
                layout.ingest_file(layer.path, what="layer")
                layers.append(descriptor(OCI_LAYER_GZIP, layer.digest, layer.size))
                diff_ids.append(layer.diff_id)
                history.append(
                    {"created": created, "created_by": f"COPY {' '.join(step.sources)} {step.dest}"}
                )
            if image_refs:
                layer_desc, diff_id = _images_layer(
                    image_refs, scratch, platform, images_from, registry, layout
                )
                layers.append(layer_desc)
                diff_ids.append(diff_id)
                history.append(
                    {
                        "created": created,
                        "created_by": f"sealkit: {len(image_refs)} container images",
                    }
                )
            manifest_desc = _write_manifest(layout, plan, layers, diff_ids, history, created)
            manifests.append(manifest_desc)
            label_sets.append(plan.labels)
    common = {k: v for k, v in label_sets[0].items() if all(s.get(k) == v for s in label_sets)}
    index: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    if common:
        index["annotations"] = dict(sorted(common.items()))
    data = canonical_json(index)
    layout.write_blob(data)
    return descriptor(OCI_INDEX, data)


def _write_manifest(
    layout: OciLayout,
    plan: BuildPlan,
    layers: list[dict[str, Any]],
    diff_ids: list[str],
    history: list[dict[str, Any]],
    created: str,
) -> dict[str, Any]:
    inner: dict[str, Any] = {}
    if plan.env:
        inner["Env"] = [f"{k}={v}" for k, v in plan.env.items()]
    if plan.labels:
        inner["Labels"] = dict(sorted(plan.labels.items()))
    if plan.cmd:
        inner["Cmd"] = plan.cmd
    config: dict[str, Any] = {
        "created": created,
        "architecture": plan.platform["architecture"],
        "os": plan.platform.get("os", "linux"),
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if plan.platform.get("variant"):
        config["variant"] = plan.platform["variant"]
    config_bytes = canonical_json(config)
    layout.write_blob(config_bytes)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config_bytes),
        "layers": layers,
    }
    if plan.labels:
        manifest["annotations"] = dict(sorted(plan.labels.items()))
    manifest_bytes = canonical_json(manifest)
    layout.write_blob(manifest_bytes)
    return descriptor(OCI_MANIFEST, manifest_bytes, platform=plan.platform)


def _images_layer(
    refs: list[str],
    scratch: Path,
    platform: dict[str, str],
    images_from: Path | None,
    registry: RegistryOptions | None,
    layout: OciLayout,
) -> tuple[dict[str, Any], str]:
    """Fetch the listed container images for ``platform`` into ``images/oci`` as one layer."""
    root = scratch / "images-rootfs"
    if root.exists():
        shutil.rmtree(root)
    oci_dir = root / IMAGES_OCI_DIR
    try:
        fetch_images(
            refs,
            oci_dir,
            source=images_from or registry or RegistryOptions(),
            platform=format_platform(platform),
        )
    except SealkitError as exc:
        if images_from is None:
            offline = "offline? pass --images-from DIR (an OCI layout holding the images)"
            exc.hint = f"{exc.hint}; {offline}" if exc.hint else offline
        raise
    OciLayout(oci_dir).tidy()
    step = CopyStep(sources=[IMAGES_OCI_DIR], dest=IMAGES_OCI_DIR + "/", line=0)
    entries = copy_entries(step, root, "container images")
    layer = write_layer(entries, scratch / "images-layer.tar.gz")
    layout.ingest_file(layer.path, what="layer")
    return descriptor(OCI_LAYER_GZIP, layer.digest, layer.size), layer.diff_id
