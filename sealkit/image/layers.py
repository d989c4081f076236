"""Layer tars: deterministic writing for builds, safe applying (with whiteouts) for unpack.

Writing: entries sorted by path, mtime 0, owner 0:0 with empty user/group names, permission bits
kept, gzip header without name or time. The same context therefore produces byte-identical layers
and the same digests on every rebuild, which is what makes content-addressed distribution skip
work.

Applying follows the OCI image-spec changeset rules: ``.wh.NAME`` deletes NAME from lower layers,
``.wh..wh..opq`` empties a directory of lower-layer content; paths that escape the target (``..``,
absolute paths, writing through a symlink) are refused.
"""

from __future__ import annotations

import glob
import gzip
import logging
import os
import shutil
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from sealkit.errors import ImageError, UsageError
from sealkit.image.kubefile import CopyStep
from sealkit.image.layout import HashingWriter
from sealkit.image.oci import GZIP_LAYERS, OCI_LAYER_ZSTD, PLAIN_LAYERS

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class LayerFile:
    """One entry of a layer: its path inside the image and where its content comes from."""

    arcname: str
    source: Path | None  # None: a directory created to hold others
    chmod: int | None = None


@dataclass(frozen=True)
class LayerInfo:
    """A finished layer tar: digest and size of the compressed blob, diff_id of the tar."""

    path: Path
    digest: str
    size: int
    diff_id: str


# ---- COPY → entries -------------------------------------------------------------------------


def _clean_rel(path: str, what: str, where: str) -> str:
    """Normalise a path that must stay inside its root; '' means the root itself."""
    parts: list[str] = []
    for part in PurePosixPath("/" + path).parts[1:]:
        if part == "..":
            if not parts:
                raise UsageError(
                    f"{where}: {what} {path!r} points outside the build context",
                    hint="sources and destinations must stay inside it",
                )
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def copy_entries(step: CopyStep, context: Path, where: str) -> list[LayerFile]:
    """Expand one COPY into layer entries, Docker-style.

    A directory source copies its *contents*; a file goes to ``dest`` or, when ``dest`` ends with
    ``/`` or there are several sources, into it. Globs match dotfiles too.
    """
    context = context.resolve()
    sources: list[Path] = []
    for pattern in step.sources:
        rel = _clean_rel(pattern, "source", where)
        if _GLOB_CHARS & set(rel):
            matches = sorted(glob.glob(rel, root_dir=context, include_hidden=True))
            if not matches:
                raise UsageError(f"{where}: COPY {pattern!r} matches no file in {context}")
            sources.extend(context / m for m in matches)
        else:
            path = context / rel if rel else context
            if not os.path.lexists(path):
                raise UsageError(f"{where}: COPY source {pattern!r} not found in {context}")
            sources.append(path)
    dest_raw = step.dest
    dest = _clean_rel(dest_raw, "destination", where)
    dest_is_dir = dest_raw.endswith("/") or dest in ("",) or dest_raw in (".", "./") or len(sources) > 1
    if len(sources) > 1 and not (dest_raw.endswith("/") or dest == ""):
        raise UsageError(
            f"{where}: COPY with several sources needs a directory destination ending in /",
            hint=f"write COPY ... {dest_raw}/",
        )
    entries: dict[str, LayerFile] = {}

    def add(arc: str, src: Path | None) -> None:
        entries[arc] = LayerFile(arc, src, step.chmod)

    for src in sources:
        if src.is_dir() and not src.is_symlink():
            base = dest
            if base:
                add(base, src)
            for dirpath, dirnames, filenames in os.walk(src):
                dirnames.sort()
                rel_dir = os.path.relpath(dirpath, src)
                for name in sorted(dirnames + filenames):
                    rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                    add(f"{base}/{rel}" if base else rel, Path(dirpath) / name)
        elif dest_is_dir:
            add(f"{dest}/{src.name}" if dest else src.name, src)
        else:
            add(dest, src)
    # parent directories of everything, so the tar is self-contained
    for arc in list(entries):
        parent = PurePosixPath(arc).parent
        while str(parent) not in (".", ""):
            entries.setdefault(str(parent), LayerFile(str(parent), None))
            parent = parent.parent
    return [entries[k] for k in sorted(entries)]


# ---- writing --------------------------------------------------------------------------------


def write_layer(entries: Iterable[LayerFile], out_path: Path) -> LayerInfo:
    """Write a deterministic ``tar+gzip`` layer to ``out_path``."""
    with open(out_path, "wb") as raw:
        compressed = HashingWriter(raw)
        with gzip.GzipFile(
            filename="",
            mode="wb",
            fileobj=compressed,
            mtime=0,  # type: ignore[arg-type]
            compresslevel=6,
        ) as gz:
            plain = HashingWriter(gz)  # type: ignore[arg-type]
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for entry in sorted(entries, key=lambda e: e.arcname):
                    _add_entry(tar, entry)
            diff_id = plain.digest
        raw.flush()
        os.fsync(raw.fileno())
    return LayerInfo(out_path, compressed.digest, compressed.size, diff_id)


def _add_entry(tar: tarfile.TarFile, entry: LayerFile) -> None:
    info = tarfile.TarInfo(entry.arcname)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.source is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    st = os.lstat(entry.source)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(entry.source)
        info.mode = 0o777
        tar.addfile(info)
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = entry.chmod if entry.chmod is not None else mode
        tar.addfile(info)
    elif stat.S_ISREG(st.st_mode):
        info.type = tarfile.REGTYPE
        info.mode = entry.chmod if entry.chmod is not None else mode
        info.size = st.st_size
        with open(entry.source, "rb") as fh:
            tar.addfile(info, fh)
    else:
        raise UsageError(
            f"cannot put {entry.source} into a layer: not a file, dir or symlink",
            hint="remove sockets, fifos and devices from the build context",
        )


# ---- applying -------------------------------------------------------------------------------


class LayerApplier:
    """Applies layers in order onto ``root``; directory modes are set last so 0555 dirs work."""

    def __init__(self, root: Path, image: str | None) -> None:
        self.root = root
        self.image = image
        self.dir_modes: dict[str, int] = {}

    def apply(self, stream: BinaryIO, media_type: str, digest: str) -> None:
        if media_type == OCI_LAYER_ZSTD or media_type.endswith("+zstd"):
            raise ImageError(
                f"layer {digest} is zstd-compressed, which sealkit cannot unpack",
                hint="rebuild or re-push the image with gzip layers",
            )
        if media_type in GZIP_LAYERS:
            fileobj: IO[bytes] = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[arg-type]
        elif media_type in PLAIN_LAYERS:
            fileobj = stream  # type: ignore[assignment]
        else:
            raise ImageError(f"layer {digest} has unsupported media type {media_type}")
        created: set[str] = set()
        try:
            with tarfile.open(fileobj=fileobj, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    self._member(tar, member, created, digest)
        except (tarfile.TarError, OSError, EOFError) as exc:
            where = f"image {self.image}: " if self.image else ""
            raise ImageError(
                f"{where}layer {digest} is not a valid tar: {exc}",
                hint="the image is damaged; remove it and pull or load it again",
            ) from exc

    def _safe(self, name: str, digest: str) -> str:
        parts: list[str] = []
        for part in PurePosixPath("/" + name).parts[1:]:
            if part == "..":
                raise ImageError(
                    f"layer {digest} has an unsafe path {name!r}",
                    hint="the image is malicious or broken; do not use it",
                )
            if part != ".":
                parts.append(part)
        return "/".join(parts)

    def _parent_ok(self, rel: str, digest: str) -> Path:
        """Create parents of ``rel`` as needed, refusing to write through a symlink."""
        path = self.root
        for part in PurePosixPath(rel).parts[:-1]:
            path = path / part
            if path.is_symlink():
                raise ImageError(
                    f"layer {digest} writes {rel!r} through the symlink {part!r}",
                    hint="the image is malicious or broken; do not use it",
                )
            if not path.exists():
                path.mkdir(mode=0o755)
            elif not path.is_dir():
                path.unlink()
                path.mkdir(mode=0o755)
        return self.root / rel

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo, created: set[str], digest: str) -> None:
        rel = self._safe(member.name, digest)
        if not rel:
            return
        name = PurePosixPath(rel).name
        parent_rel = str(PurePosixPath(rel).parent)
        parent_rel = "" if parent_rel == "." else parent_rel
        if name == OPAQUE_WHITEOUT:
            target_dir = self._parent_ok(rel, digest).parent
            if target_dir.is_dir():
                for child in target_dir.iterdir():
                    child_rel = f"{parent_rel}/{child.name}" if parent_rel else child.name
                    if child_rel not in created:
                        self._remove(child)
            return
        if name.startswith(WHITEOUT_PREFIX):
            victim = self._parent_ok(rel, digest).parent / name[len(WHITEOUT_PREFIX) :]
            self._remove(victim)
            return
        target = self._parent_ok(rel, digest)
        created.add(rel)
        if member.isdir():
            if os.path.lexists(target) and not (target.is_dir() and not target.is_symlink()):
                self._remove(target)
            target.mkdir(mode=0o755, exist_ok=True)
            self.dir_modes[rel] = member.mode & 0o7777
            return
        self._remove(target)
        if member.isreg():
            src = tar.extractfile(member)
            assert src is not None
            with open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            os.chmod(target, member.mode & 0o7777)
            os.utime(target, (member.mtime, member.mtime))
        elif member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            link_src = self.root / self._safe(member.linkname, digest)
            if not link_src.is_file() or link_src.is_symlink():
                raise ImageError(
                    f"layer {digest}: hard link {rel!r} → {member.linkname!r} has no regular file to point at"
                )
            os.link(link_src, target)
        else:
            log.warning(
                "layer %s: skipping special file %s (devices and fifos are not unpacked)",
                digest,
                rel,
            )

    def finish(self) -> None:
        for rel in sorted(self.dir_modes, reverse=True):
            path = self.root / rel
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, self.dir_modes[rel])
