"""The local cluster-image store: an OCI layout under ``$SEALKIT_HOME/images``.

Images are named by ``org.opencontainers.image.ref.name`` annotations in index.json (the full
reference, e.g. ``k3s:v1.29`` or ``reg.local:5000/k3s:v1.29``), so ``skopeo`` and ``umoci`` can
read the store directly (``oci:$SEALKIT_HOME/images:k3s:v1.29``). Blobs are shared between images
and removed by ``rmi`` only when nothing references them any more.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sealkit.errors import ImageError, UsageError, controller_io
from sealkit.image import builder
from sealkit.image.kubefile import Kubefile
from sealkit.image.layers import LayerApplier
from sealkit.image.layout import MAX_JSON_BYTES, OciLayout
from sealkit.image.oci import (
    ANNOT_CREATED,
    ANNOT_REF_NAME,
    INDEX_TYPES,
    MANIFEST_TYPES,
    canonical_json,
    format_platform,
    host_arch,
    normalize_arch,
    parse_platform,
    parse_platforms,
    select_manifest,
)
from sealkit.image.reference import parse_reference
from sealkit.image.remote import RegistryOptions, pull_to_layout, push_from_layout

log = logging.getLogger("sealkit.image")


def sealkit_home() -> Path:
    """``$SEALKIT_HOME`` or ``~/.sealkit``; read on every call so tests can point it elsewhere."""
    from sealkit.state import home

    return home()


def default_store() -> ImageStore:
    """The store of this controller (``$SEALKIT_HOME/images``)."""
    return ImageStore(sealkit_home() / "images")


@dataclass(frozen=True)
class ImageSummary:
    """One row of ``sealkit images``."""

    name: str
    tag: str
    digest: str
    size: int
    created: str
    labels: dict[str, str] = field(default_factory=dict)
    platforms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Resolved:
    name: str | None
    desc: dict[str, Any]
    by_digest: bool = False


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _registry_options(
    insecure: bool,
    ca_file: Path | str | None,
    username: str | None,
    password: str | None,
    chunk_size: int | None,
    token_hosts: Iterable[str] = (),
) -> RegistryOptions:
    if (username is None) != (password is None):
        raise UsageError("give both --username and --password, or neither")
    return RegistryOptions(
        insecure=insecure,
        ca_file=Path(ca_file) if ca_file else None,
        username=username,
        password=password,
        chunk_size=chunk_size,
        token_hosts=frozenset(token_hosts),
    )


class ImageStore:
    """Build, name, move and unpack cluster images kept in one OCI layout."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else sealkit_home() / "images"
        self.layout = OciLayout(self.root)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the writers' lock; if the operation fails, collect the blobs it left behind.

        An OSError of the store itself (disk full, read-only) becomes a ControllerError naming the store,
        so ``sealkit load`` on a full disk says "free space", not "internal error".
        """
        with controller_io("writing the image store at", self.root, step="image"):
            self.layout.ensure()
            try:
                with self.layout.writing():
                    yield
            except BaseException:
                self._collect()
                raise

    def _collect(self) -> None:
        """Drop the blobs a failed write left; a failure here is logged, never hides the first error."""
        try:
            with self.layout.collecting():
                self.layout.gc()
        except OSError as exc:
            log.warning("warning: could not collect leftover blobs in %s: %s", self.root, exc)

    # ---- names -----------------------------------------------------------------------------

    @staticmethod
    def _name(text: str) -> str:
        ref = parse_reference(text)
        if ref.digest:
            raise UsageError(f"{text!r} pins a digest; a name needs a tag", hint="use NAME:TAG")
        return str(ref.with_default_tag())

    def _entries(self) -> list[dict[str, Any]]:
        return self.layout.read_index()["manifests"] if self.layout.exists() else []

    def resolve(self, ref: str) -> _Resolved:
        """Find an image by name, ``name@digest``, full digest or digest prefix (≥ 12 hex)."""
        text = ref.strip()
        entries = self._entries()
        hexpart = text[7:] if text.startswith("sha256:") else text
        if len(hexpart) >= 12 and all(c in "0123456789abcdef" for c in hexpart):
            matches = [e for e in entries if e["digest"][7:].startswith(hexpart)]
            if len({e["digest"] for e in matches}) > 1:
                raise ImageError(f"{text} is ambiguous", hint="give more digest characters")
            if matches:
                return _Resolved(_ref_name(matches[0]), _strip(matches[0]), by_digest=True)
        parsed = parse_reference(text)
        want = parsed.remote()
        for entry in entries:
            name = _ref_name(entry)
            if name is None:
                continue
            try:
                candidate = parse_reference(name).remote()
            except ImageError:
                continue
            if parsed.digest:
                if entry["digest"] == parsed.digest and candidate.name == want.name:
                    return _Resolved(name, _strip(entry), by_digest=True)
            elif candidate == want:
                return _Resolved(name, _strip(entry))
        if parsed.digest:
            for entry in entries:
                if entry["digest"] == parsed.digest:
                    return _Resolved(_ref_name(entry), _strip(entry), by_digest=True)
        raise ImageError(
            f"image {text} is not in the local store ({self.root})",
            hint=f"build, pull or load it first: sealkit pull {text}",
        )

    def _record(
        self, name: str, desc: Mapping[str, Any], annotations: Mapping[str, str] | None = None
    ) -> None:
        """Point ``name`` at ``desc`` in index.json (replacing what it named before)."""
        with self.layout.lock():
            index = self.layout.read_index()
            entries = [e for e in index["manifests"] if _ref_name(e) != name]
            entry = _strip(desc)
            notes = {ANNOT_CREATED: _now(), **(annotations or {}), ANNOT_REF_NAME: name}
            entry["annotations"] = dict(sorted(notes.items()))
            entries.append(entry)
            entries.sort(key=lambda e: _ref_name(e) or "")
            index["manifests"] = entries
            self.layout.write_index(index)

    # ---- build / list / inspect ------------------------------------------------------------

    def build(
        self,
        kubefile: Path,
        context: Path,
        tag: str,
        platforms: str | Sequence[str] | None = None,
        *,
        build_args: Mapping[str, str] | None = None,
        images_from: Path | None = None,
        registry: RegistryOptions | None = None,
        fetch_images: bool = True,
    ) -> str:
        """Build a Kubefile in ``context``; name the result ``tag``; return the index digest.

        ``platforms``: ``"linux/amd64,linux/arm64"`` or a list; default this host's. Container
        images listed in the context (:func:`collect_images`) are fetched into ``images/oci``,
        from ``images_from`` (an OCI layout dir) if given, else from their registries.
        """
        name = self._name(tag)
        parsed = Kubefile.load(Path(kubefile))
        plats = parse_platforms(platforms)
        with self._writing():
            desc = builder.build(
                self.layout,
                parsed,
                Path(context),
                plats,
                base_image=self._base_image,
                build_args=build_args,
                images_from=Path(images_from) if images_from else None,
                registry=registry,
                fetch=fetch_images,
            )
            self._record(name, desc)
        return str(desc["digest"])

    def _base_image(self, ref: str, platform: dict[str, str], where: str) -> builder.BaseImage:
        try:
            found = self.resolve(ref)
        except ImageError as exc:
            raise ImageError(
                f"{where}: FROM {ref}: {exc.message}",
                hint=f"pull or build the base first: sealkit pull {ref}",
            ) from exc
        image = found.name or ref
        manifest_desc = self._platform_manifest(found.desc, format_platform(platform), image)
        manifest = self.layout.read_json(manifest_desc["digest"], manifest_desc.get("size"), image=image)
        config = self.layout.read_json(
            manifest["config"]["digest"], manifest["config"]["size"], what="config", image=image
        )
        return builder.BaseImage(config=config, manifest=manifest)

    def _platform_manifest(self, desc: Mapping[str, Any], arch: str | None, image: str) -> dict[str, Any]:
        """The manifest descriptor for ``arch`` (default host) below ``desc``."""
        if desc["mediaType"] in INDEX_TYPES:
            index = self.layout.read_json(desc["digest"], desc.get("size"), image=image)
            return select_manifest(index, arch)
        if desc["mediaType"] not in MANIFEST_TYPES:
            raise ImageError(f"{image} is not an image (media type {desc['mediaType']})")
        if arch:
            manifest = self.layout.read_json(desc["digest"], desc.get("size"), image=image)
            config = self.layout.read_json(
                manifest["config"]["digest"],
                manifest["config"].get("size"),
                what="config",
                image=image,
            )
            want = parse_platform(arch)["architecture"]
            have = normalize_arch(config.get("architecture", ""))
            if have and have != want:
                raise ImageError(
                    f"image {image} is for {have}, not {want}",
                    hint=f"pull or build it with --platform linux/{want}",
                )
        return dict(desc)

    def _platforms(self, desc: Mapping[str, Any], image: str) -> list[tuple[str, dict[str, Any]]]:
        """(platform text, manifest descriptor) for every manifest of an image."""
        if desc["mediaType"] in INDEX_TYPES:
            index = self.layout.read_json(desc["digest"], desc.get("size"), image=image)
            return [
                (format_platform(m.get("platform") or {}), dict(m))
                for m in index.get("manifests", [])
                if m.get("mediaType") in MANIFEST_TYPES
            ]
        manifest = self.layout.read_json(desc["digest"], desc.get("size"), image=image)
        config = self.layout.read_json(
            manifest["config"]["digest"], manifest["config"].get("size"), what="config", image=image
        )
        plat = {"os": config.get("os", "linux"), "architecture": config.get("architecture", "?")}
        return [(format_platform(plat), dict(desc))]

    def list(self) -> list[ImageSummary]:
        """Every named image, sorted by name."""
        rows = []
        for entry in self._entries():
            name = _ref_name(entry)
            if name is None:
                continue
            ref = parse_reference(name)
            desc = _strip(entry)
            blobs = {d["digest"]: d.get("size", 0) for d in self.layout.walk(desc, image=name)}
            plats = self._platforms(desc, name)
            rows.append(
                ImageSummary(
                    name=ref.name,
                    tag=ref.tag or "",
                    digest=desc["digest"],
                    size=sum(blobs.values()),
                    created=(entry.get("annotations") or {}).get(ANNOT_CREATED, ""),
                    labels=self._labels_of(desc, name, None, plats),
                    platforms=[p for p, _ in plats],
                )
            )
        return rows

    def _labels_of(
        self,
        desc: Mapping[str, Any],
        image: str,
        arch: str | None,
        plats: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> dict[str, str]:
        return dict(self._config_of(desc, image, arch, plats).get("Labels") or {})

    def _config_of(
        self,
        desc: Mapping[str, Any],
        image: str,
        arch: str | None,
        plats: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        """The ``config`` object of the image config (Labels, Env, Cmd) for ``arch``."""
        if arch is None and desc["mediaType"] in INDEX_TYPES:
            plats = plats or self._platforms(desc, image)
            host = [m for p, m in plats if p.split("/")[1:2] == [host_arch()]]
            manifest_desc = host[0] if host else (plats[0][1] if plats else None)
            if manifest_desc is None:
                return {}
        else:
            manifest_desc = self._platform_manifest(desc, arch, image)
        manifest = self.layout.read_json(manifest_desc["digest"], manifest_desc.get("size"), image=image)
        config = self.layout.read_json(
            manifest["config"]["digest"], manifest["config"].get("size"), what="config", image=image
        )
        return dict(config.get("config") or {})

    def env(self, ref: str, arch: str | None = None) -> dict[str, str]:
        """The image's ``ENV`` (Kubefile) as a dict: the defaults of the cluster env."""
        found = self.resolve(ref)
        pairs = self._config_of(found.desc, found.name or ref, arch).get("Env") or []
        return dict(p.split("=", 1) for p in pairs if "=" in p)

    def labels(self, ref: str, arch: str | None = None) -> dict[str, str]:
        """Labels of ``ref`` (``sealkit.io/type``, ``/runtime``, ``/version``…) for ``arch``."""
        found = self.resolve(ref)
        return self._labels_of(found.desc, found.name or ref, arch)

    def inspect(self, ref: str) -> dict[str, Any]:
        """Everything about an image as plain data (for ``-o json|yaml``)."""
        found = self.resolve(ref)
        image = found.name or ref
        desc = found.desc
        entry = next(
            (e for e in self._entries() if e["digest"] == desc["digest"] and _ref_name(e) == found.name),
            {},
        )
        platforms = []
        for text, manifest_desc in self._platforms(desc, image):
            manifest = self.layout.read_json(manifest_desc["digest"], manifest_desc.get("size"), image=image)
            config = self.layout.read_json(
                manifest["config"]["digest"],
                manifest["config"].get("size"),
                what="config",
                image=image,
            )
            platforms.append(
                {
                    "platform": text,
                    "digest": manifest_desc["digest"],
                    "layers": manifest.get("layers", []),
                    "annotations": manifest.get("annotations", {}),
                    "config": config,
                }
            )
        blobs = {d["digest"]: d.get("size", 0) for d in self.layout.walk(desc, image=image)}
        return {
            "name": image,
            "digest": desc["digest"],
            "mediaType": desc["mediaType"],
            "size": sum(blobs.values()),
            "created": (entry.get("annotations") or {}).get(ANNOT_CREATED, ""),
            "labels": self._labels_of(desc, image, None),
            "platforms": platforms,
        }

    # ---- naming and removal ----------------------------------------------------------------

    def tag(self, src: str, dst: str) -> None:
        """Give the image ``src`` another name ``dst``."""
        found = self.resolve(src)
        self._record(self._name(dst), found.desc)

    def rmi(self, ref: str) -> list[str]:
        """Remove a name (or, given a digest, every name of that image); collect unused blobs."""
        found = self.resolve(ref)
        by_digest = found.by_digest or found.name is None
        with self.layout.collecting():
            with self.layout.lock():
                index = self.layout.read_index()
                if by_digest:
                    gone = [e for e in index["manifests"] if e["digest"] == found.desc["digest"]]
                else:
                    gone = [e for e in index["manifests"] if _ref_name(e) == found.name]
                index["manifests"] = [e for e in index["manifests"] if e not in gone]
                self.layout.write_index(index)
            self.layout.gc()
        return [n for n in (_ref_name(e) for e in gone) if n]

    # ---- save / load -----------------------------------------------------------------------

    def save(self, refs: Iterable[str], path: Path) -> None:
        """Write an OCI archive (the layout, tarred) with ``refs``; same content → same bytes."""
        entries: dict[str, dict[str, Any]] = {}
        for ref in refs:
            found = self.resolve(ref)
            for entry in self._entries():
                if _ref_name(entry) == found.name and entry["digest"] == found.desc["digest"]:
                    entries[found.name] = entry
                    break
            else:
                entries[ref] = {**found.desc, "annotations": {ANNOT_REF_NAME: ref}}
        if not entries:
            raise UsageError("save needs at least one image")
        ordered = [entries[k] for k in sorted(entries)]
        digests: dict[str, int] = {}
        owners: dict[str, str | None] = {}
        for entry in ordered:
            name = _ref_name(entry)
            for desc in self.layout.walk(_strip(entry), image=name):
                digests[desc["digest"]] = desc["size"]
                owners.setdefault(desc["digest"], name)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": ordered,
        }
        path = Path(path)
        with controller_io("writing the archive", path, step="save"):
            self._save_to(path, index, digests, owners)

    def _save_to(
        self, path: Path, index: dict[str, Any], digests: dict[str, int], owners: dict[str, str | None]
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(fd)
        try:
            with tarfile.open(tmp_name, "w", format=tarfile.PAX_FORMAT) as tar:
                _tar_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
                _tar_bytes(tar, "index.json", canonical_json(index))
                _tar_dir(tar, "blobs")
                _tar_dir(tar, "blobs/sha256")
                for digest in sorted(digests):
                    info = _tar_info(f"blobs/sha256/{digest[7:]}")
                    info.size = digests[digest]
                    with self.layout.open_blob(digest, digests[digest], image=owners[digest]) as reader:
                        tar.addfile(info, reader)  # type: ignore[arg-type]
                        reader.verify()
            os.replace(tmp_name, path)
        finally:
            Path(tmp_name).unlink(missing_ok=True)

    def load(self, path: Path) -> list[str]:
        """Import an OCI archive (``save`` output, ``skopeo … oci-archive:``); return its names.

        Every blob is verified before it is stored; if anything is wrong nothing is named and the
        blobs already copied are collected again.
        """
        path = Path(path)
        index: dict[str, Any] | None = None
        has_marker = False
        with self._writing():
            try:
                tar = tarfile.open(path, "r|*")  # noqa: SIM115 - closed below
            except (OSError, tarfile.TarError) as exc:
                raise ImageError(
                    f"cannot read archive {path}: {exc}",
                    hint="pass a file written by sealkit save",
                ) from exc
            with tar:
                try:
                    for member in tar:
                        name = str(PurePosixPath("/" + member.name)).lstrip("/")
                        if member.isdir():
                            continue
                        if name == "manifest.json" and index is None:
                            raise ImageError(
                                f"{path} is a docker-archive, not an OCI archive",
                                hint=f"convert: skopeo copy docker-archive:{path} "
                                "oci-archive:NEW.tar:NAME:TAG",
                            )
                        if name == "oci-layout":
                            has_marker = True
                        elif name == "index.json":
                            if member.size > MAX_JSON_BYTES:
                                raise ImageError(
                                    f"{path}: index.json is {member.size} bytes, more than the "
                                    f"{MAX_JSON_BYTES} sealkit reads",
                                    hint="the archive is malformed or hostile; do not load it",
                                )
                            fh = tar.extractfile(member)
                            assert fh is not None
                            index = json.loads(fh.read(MAX_JSON_BYTES + 1))
                        elif name.startswith("blobs/sha256/") and member.isreg():
                            digest = "sha256:" + name.rsplit("/", 1)[1]
                            fh = tar.extractfile(member)
                            assert fh is not None
                            if self.layout.has_blob(digest):
                                continue
                            self.layout.ingest(
                                fh,
                                digest,
                                member.size,  # type: ignore[arg-type]
                                image=f"{path}",
                            )
                except (tarfile.TarError, OSError, ValueError) as exc:
                    raise ImageError(
                        f"archive {path} is damaged: {exc}",
                        hint="write it again with sealkit save",
                    ) from exc
            if not has_marker or not isinstance(index, dict):
                raise ImageError(
                    f"{path} is not an OCI archive (no oci-layout/index.json)",
                    hint="pass a file written by sealkit save",
                )
            entries = index.get("manifests", [])
            if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("digest"), str) for e in entries
            ):
                raise ImageError(
                    f"{path}: index.json is not an OCI image index", hint="write it again with sealkit save"
                )
            names = []
            for entry in index.get("manifests", []):
                name = _ref_name(entry)
                if not name:
                    raise ImageError(
                        f"{path}: image {entry.get('digest')} has no name ({ANNOT_REF_NAME})",
                        hint="save it again with a name",
                    )
                self._name(name)
                for _desc in self.layout.walk(_strip(entry), image=name):
                    if not self.layout.has_blob(_desc["digest"]):
                        raise ImageError(
                            f"{path}: blob {_desc['digest']} of {name} is missing",
                            hint="the archive is incomplete; save it again",
                        )
                names.append(name)
            with self.layout.lock():
                current = self.layout.read_index()
                kept = [e for e in current["manifests"] if _ref_name(e) not in names]
                current["manifests"] = sorted(
                    kept + [dict(e) for e in index["manifests"]],
                    key=lambda e: _ref_name(e) or "",
                )
                self.layout.write_index(current)
            return names

    # ---- registry --------------------------------------------------------------------------

    def push(
        self,
        ref: str,
        dest_ref: str | None = None,
        *,
        insecure: bool = False,
        ca_file: Path | str | None = None,
        username: str | None = None,
        password: str | None = None,
        chunk_size: int | None = None,
        token_hosts: Iterable[str] = (),
    ) -> str:
        """Push ``ref`` to ``dest_ref`` (default: ``ref`` itself, which must name a registry).

        ``token_hosts``: hosts besides the registry's own whose https token server may receive the
        credentials (see :class:`RegistryOptions`)."""
        found = self.resolve(ref)
        dest = parse_reference(dest_ref or found.name or ref)
        if not dest.registry:
            raise UsageError(
                f"{dest} names no registry",
                hint=f"push {ref} REGISTRY/NAME:TAG, e.g. 127.0.0.1:5000/{dest}",
            )
        if dest.digest and dest.digest != found.desc["digest"]:
            raise UsageError(f"{dest} pins a digest that is not the digest of {ref}")
        options = _registry_options(insecure, ca_file, username, password, chunk_size, token_hosts)
        return push_from_layout(self.layout, found.desc, dest, options, image=found.name or ref)

    def pull(
        self,
        ref: str,
        *,
        platform: str | None = None,
        insecure: bool = False,
        ca_file: Path | str | None = None,
        username: str | None = None,
        password: str | None = None,
        token_hosts: Iterable[str] = (),
    ) -> str:
        """Pull ``ref`` (by tag or digest) into the store; return the digest stored under it.

        Without ``platform`` the whole index is pulled; with it, only that platform's manifest
        (which is then what the name points at).
        """
        parsed = parse_reference(ref)
        if not parsed.registry:
            parsed = parsed.remote()
        options = _registry_options(insecure, ca_file, username, password, None, token_hosts)
        with self._writing():
            root = pull_to_layout(parsed, self.layout, options, platform=platform)
            name = str(parse_reference(ref).with_default_tag())
            self._record(name, root)
        return str(root["digest"])

    # ---- unpack ----------------------------------------------------------------------------

    def unpack(self, ref: str, dest_dir: Path, arch: str | None = None) -> Path:
        """Apply the layers of ``ref`` for ``arch`` (default: host) into a new ``dest_dir``.

        Unpacks into a sibling temp directory and renames it into place only when every layer
        verified, so a corrupted image never leaves a half-filled rootfs behind.
        """
        found = self.resolve(ref)
        image = found.name or ref
        dest = Path(dest_dir)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise UsageError(
                f"unpack target {dest} exists and is not empty",
                hint="remove it or choose another directory",
            )
        manifest_desc = self._platform_manifest(found.desc, arch, image)
        manifest = self.layout.read_json(manifest_desc["digest"], manifest_desc.get("size"), image=image)
        with controller_io("unpacking the image into", dest, step="unpack"):
            return self._unpack_into(dest, manifest, image)

    def _unpack_into(self, dest: Path, manifest: Mapping[str, Any], image: str) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.unpack-"))
        try:
            applier = LayerApplier(work, image)
            for layer in manifest.get("layers", []):
                with self.layout.open_blob(
                    layer["digest"], layer.get("size"), what="layer", image=image
                ) as reader:
                    applier.apply(reader, layer["mediaType"], layer["digest"])  # type: ignore[arg-type]
                    reader.verify()
            applier.finish()
            os.chmod(work, 0o755)
            try:
                os.replace(work, dest)  # over an empty dir too; a non-empty one was filled meanwhile
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                    raise
                raise UsageError(
                    f"unpack target {dest} was filled by another process while this one unpacked",
                    hint="use that copy, or remove it and unpack again",
                ) from exc
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return dest


def _ref_name(entry: Mapping[str, Any]) -> str | None:
    return (entry.get("annotations") or {}).get(ANNOT_REF_NAME)


def _strip(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A descriptor without the store's own annotations (name, local creation time)."""
    return {k: v for k, v in entry.items() if k != "annotations"}


def _tar_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    return info


def _tar_dir(tar: tarfile.TarFile, name: str) -> None:
    info = _tar_info(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _tar_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = _tar_info(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
