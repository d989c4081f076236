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

import contextlib
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
#
# Every path is resolved one component at a time from a file descriptor of the unpack root, with
# O_NOFOLLOW at each step: no symlink, whatever a layer (or an earlier entry of the same layer) put in
# place, is ever followed for a write, a link source, a removal or a chmod. That is the property the
# hostile-layer fuzz test checks; string checks of the path alone cannot give it.

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: permission bits kept from a layer: no setuid/setgid (the rootfs is shipped to hosts and runs as root)
_FILE_MODE_MASK = 0o777
_DIR_MODE_MASK = 0o1777


def _unsafe(digest: str, what: str) -> ImageError:
    return ImageError(f"layer {digest} {what}", hint="the image is malicious or broken; do not use it")


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
        root_fd = os.open(self.root, _DIR_FLAGS)
        try:
            with tarfile.open(fileobj=fileobj, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    self._member(root_fd, tar, member, created, digest)
        except (tarfile.TarError, OSError, EOFError) as exc:
            where = f"image {self.image}: " if self.image else ""
            raise ImageError(
                f"{where}layer {digest} is not a valid tar or cannot be applied: {exc}",
                hint="the image is damaged; remove it and pull or load it again",
            ) from exc
        finally:
            os.close(root_fd)

    # ---- path resolution without following links ----------------------------------------

    @staticmethod
    def _parts(name: str, digest: str) -> list[str]:
        """The components of an entry name; absolute names and ``..`` are refused."""
        if name.startswith("/"):
            raise _unsafe(digest, f"has an unsafe path {name!r} (absolute)")
        parts: list[str] = []
        for part in name.split("/"):
            if part in ("", "."):
                continue
            if part == ".." or "\0" in part:
                raise _unsafe(digest, f"has an unsafe path {name!r}")
            parts.append(part)
        return parts

    def _open_dir(self, root_fd: int, parts: list[str], digest: str, *, create: bool) -> int:
        """A new fd of the directory ``parts`` below the root, never through a symlink.

        With ``create``, missing directories are made and a file in the way is replaced (a later
        entry may change a path's type); a symlink in the way is refused.
        """
        fd = os.dup(root_fd)
        try:
            for i, part in enumerate(parts):
                try:
                    st: os.stat_result | None = os.stat(part, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    st = None
                if st is not None and stat.S_ISLNK(st.st_mode):
                    raise _unsafe(digest, f"goes through the symlink {'/'.join(parts[: i + 1])!r}")
                if st is None or not stat.S_ISDIR(st.st_mode):
                    if not create:
                        raise FileNotFoundError(f"{'/'.join(parts[: i + 1])} is not a directory")
                    if st is not None:
                        os.unlink(part, dir_fd=fd)
                    os.mkdir(part, 0o755, dir_fd=fd)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _remove_at(dir_fd: int, name: str) -> None:
        """Remove ``name`` in ``dir_fd`` whatever it is; a directory is removed fd-relative, unfollowed."""
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)

    # ---- entries -------------------------------------------------------------------------

    def _member(
        self, root_fd: int, tar: tarfile.TarFile, member: tarfile.TarInfo, created: set[str], digest: str
    ) -> None:
        parts = self._parts(member.name, digest)
        if not parts:
            return  # the root itself: its mode stays sealkit's
        name, parent = parts[-1], parts[:-1]
        rel = "/".join(parts)
        if name.startswith(WHITEOUT_PREFIX):
            self._whiteout(root_fd, parts, created, digest)
            return
        dfd = self._open_dir(root_fd, parent, digest, create=True)
        try:
            created.add(rel)
            if member.isdir():
                try:
                    st: os.stat_result | None = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                except FileNotFoundError:
                    st = None
                if st is not None and not stat.S_ISDIR(st.st_mode):
                    os.unlink(name, dir_fd=dfd)
                    st = None
                if st is None:
                    os.mkdir(name, 0o755, dir_fd=dfd)
                self.dir_modes[rel] = member.mode & _DIR_MODE_MASK
                return
            if not (member.isreg() or member.issym() or member.islnk()):
                log.warning(
                    "layer %s: skipping special file %s (devices and fifos are not unpacked)", digest, rel
                )
                return
            if member.islnk():
                self._hardlink(root_fd, dfd, name, rel, member.linkname, digest)
                return
            self._remove_at(dfd, name)
            if member.issym():
                os.symlink(member.linkname, name, dir_fd=dfd)
                return
            src = tar.extractfile(member)
            if src is None:
                raise _unsafe(digest, f"entry {rel!r} has no content")
            fd = os.open(
                name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd
            )
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fchmod(fd, member.mode & _FILE_MODE_MASK)
                os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(dfd)

    def _hardlink(self, root_fd: int, dfd: int, name: str, rel: str, linkname: str, digest: str) -> None:
        """Link ``rel`` to a regular file of the rootfs; the source is resolved without following links."""
        src_parts = self._parts(linkname, digest)
        if not src_parts:
            raise _unsafe(digest, f"hard-links {rel!r} to the root")
        try:
            sfd = self._open_dir(root_fd, src_parts[:-1], digest, create=False)
        except FileNotFoundError:
            sfd = None
        try:
            st = None
            if sfd is not None:
                with contextlib.suppress(FileNotFoundError):
                    st = os.stat(src_parts[-1], dir_fd=sfd, follow_symlinks=False)
            if sfd is None or st is None or not stat.S_ISREG(st.st_mode):
                raise ImageError(
                    f"layer {digest}: hard link {rel!r} → {linkname!r} has no regular file to point at",
                    hint="the image is malicious or broken; do not use it",
                )
            if "/".join(src_parts) == rel:
                return  # a link to itself: the file is already there
            self._remove_at(dfd, name)
            os.link(src_parts[-1], name, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
        finally:
            if sfd is not None:
                os.close(sfd)

    def _whiteout(self, root_fd: int, parts: list[str], created: set[str], digest: str) -> None:
        """``.wh..wh..opq`` empties its directory of lower content; ``.wh.NAME`` removes NAME."""
        name, parent = parts[-1], parts[:-1]
        parent_rel = "/".join(parent)
        if name == OPAQUE_WHITEOUT:
            victim = None
        else:
            victim = name[len(WHITEOUT_PREFIX) :]
            if victim in ("", ".", "..") or victim.startswith(WHITEOUT_PREFIX):
                raise _unsafe(digest, f"has an invalid whiteout {'/'.join(parts)!r}")
        try:
            dfd = self._open_dir(root_fd, parent, digest, create=False)
        except FileNotFoundError:
            return  # nothing below to hide
        try:
            if victim is not None:
                self._remove_at(dfd, victim)
                return
            for child in os.listdir(dfd):
                child_rel = f"{parent_rel}/{child}" if parent_rel else child
                if child_rel not in created:
                    self._remove_at(dfd, child)
        finally:
            os.close(dfd)

    def finish(self) -> None:
        """Apply the deferred directory modes, deepest first, to directories reached without links."""
        root_fd = os.open(self.root, _DIR_FLAGS)
        try:
            for rel in sorted(self.dir_modes, reverse=True):
                try:
                    fd = self._open_dir(root_fd, rel.split("/"), "(modes)", create=False)
                except (FileNotFoundError, ImageError, NotADirectoryError):
                    continue  # replaced by a file or a link later: nothing to chmod
                try:
                    os.fchmod(fd, self.dir_modes[rel])
                finally:
                    os.close(fd)
        finally:
            os.close(root_fd)
