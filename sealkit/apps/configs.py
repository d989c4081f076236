"""sealos ``Config`` documents of a Clusterfile: patch a file of an app image before it is installed.

Semantics taken from sealos (labring/sealos, pkg/config/config.go, ``Dumper.WriteFiles``,
``getMergeConfigData``, ``getAppendOrInsertConfigData``; strategies from pkg/types/v1beta1/config.go):

* ``spec.match``: empty applies to every image, else only to the image named exactly so;
* ``spec.path``: relative to the image root;
* ``spec.strategy``: ``override`` (or empty) writes ``spec.data`` as the file; ``merge`` deep-merges the
  YAML mapping of ``spec.data`` into every ``---``-separated document of the file (data wins, empty
  values included; a missing file counts as one empty document); ``insert`` puts data before the
  file's content and ``append`` after it, joined by a newline.

Unlike sealos, the patched copy is a new directory: the unpacked image stays immutable, and a path
that leaves the image is refused.
"""

from __future__ import annotations

import posixpath
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sealkit.errors import UsageError

STRATEGIES = ("merge", "override", "insert", "append")


@dataclass(frozen=True)
class ConfigPatch:
    name: str
    path: str
    data: str
    strategy: str = "override"
    match: str = ""


def from_documents(documents: Iterable[dict[str, Any]]) -> list[ConfigPatch]:
    """The ``kind: Config`` documents kept with a Clusterfile, validated."""
    out = []
    for doc in documents:
        if not isinstance(doc, dict) or doc.get("kind") != "Config":
            continue
        name = str((doc.get("metadata") or {}).get("name", "?"))
        spec = doc.get("spec")
        where = f"Config {name!r}"
        if not isinstance(spec, dict):
            raise UsageError(f"{where}: spec must be a mapping")
        unknown = sorted(set(spec) - {"path", "data", "strategy", "match"})
        if unknown:
            raise UsageError(
                f"{where}: spec.{unknown[0]}: unknown field", hint="fields: path, data, strategy, match"
            )
        path, data = spec.get("path"), spec.get("data", "")
        if not isinstance(path, str) or not path:
            raise UsageError(f"{where}: spec.path must name a file of the image")
        if not isinstance(data, str):
            raise UsageError(f"{where}: spec.data must be a string (a YAML block)")
        strategy = spec.get("strategy") or "override"
        if strategy not in STRATEGIES:
            raise UsageError(
                f"{where}: spec.strategy {strategy!r} is unknown", hint=f"use {', '.join(STRATEGIES)}"
            )
        out.append(ConfigPatch(name, path, data, strategy, str(spec.get("match") or "")))
    return out


def applicable(patches: Iterable[ConfigPatch], image_ref: str) -> list[ConfigPatch]:
    return [p for p in patches if not p.match or p.match == image_ref]


def patched_text(current: str | None, patch: ConfigPatch) -> str:
    """The file's new content under ``patch``."""
    if patch.strategy == "override":
        return patch.data
    if patch.strategy in ("insert", "append"):
        parts = [patch.data, current or ""] if patch.strategy == "insert" else [current or "", patch.data]
        return "\n".join(parts)
    try:
        overlay = yaml.safe_load(patch.data) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"Config {patch.name!r}: spec.data is not YAML: {exc}") from None
    if not isinstance(overlay, dict):
        raise UsageError(f"Config {patch.name!r}: merge needs spec.data to be a YAML mapping")
    docs = (current or "").split("---\n")
    merged = []
    for raw in docs:
        try:
            base = yaml.safe_load(raw) or {}
        except yaml.YAMLError as exc:
            raise UsageError(f"Config {patch.name!r}: {patch.path} is not YAML: {exc}") from None
        if not isinstance(base, dict):
            raise UsageError(f"Config {patch.name!r}: {patch.path} holds a document that is not a mapping")
        merged.append(yaml.safe_dump(deep_merge(base, overlay), sort_keys=False))
    return "\n---\n".join(merged)


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_patches(rootfs: Path, patches: list[ConfigPatch], dest: Path) -> Path:
    """A copy of ``rootfs`` at ``dest`` with ``patches`` applied (``rootfs`` itself when none apply)."""
    if not patches:
        return rootfs
    for p in patches:
        norm = posixpath.normpath(p.path)
        if norm.startswith(("/", "..")) or norm == ".":
            raise UsageError(f"Config {p.name!r}: spec.path {p.path!r} is not inside the image")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(rootfs, dest, symlinks=True)
    for p in patches:
        target = dest / posixpath.normpath(p.path)
        if target.is_symlink() or not target.resolve().is_relative_to(dest.resolve()):
            raise UsageError(f"Config {p.name!r}: {p.path} is a link in the image; refused")
        current = target.read_text() if target.is_file() else None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(patched_text(current, p))
    return dest
