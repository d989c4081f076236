"""An OCI image layout on disk: ``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``.

Blobs are content-addressed and therefore shared between every image in the layout. Writes go to a
temp file that is hashed while written and renamed into place only when its digest matches, so a
crash or a bad download never leaves a blob whose name lies about its content. Every read is
verified too: disks and copies rot, and a corrupted layer must fail loudly, naming the image.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, BinaryIO

from sealkit.errors import ImageError
from sealkit.image.oci import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_LAYOUT_VERSION,
    canonical_json,
    check_digest,
    sha256_digest,
)

CHUNK = 1 << 20
#: the largest JSON blob (manifest, index, config) read into memory; larger ones are refused
MAX_JSON_BYTES = 16 << 20


def corrupted_hint(image: str | None) -> str:
    """The fix for a blob whose content does not match its digest."""
    if image:
        return (
            f"remove and fetch the image again: sealkit rmi {image} && sealkit pull {image} "
            "(or sealkit load the archive it came from)"
        )
    return "remove the image and pull or load it again"


class VerifyingReader:
    """A read-only stream over a blob that checks size and digest when the end is reached.

    Callers that may stop early (``tarfile`` stops at the end-of-archive marker) call
    :meth:`verify`, which drains the rest and raises ImageError on a mismatch.
    """

    def __init__(self, raw: BinaryIO, digest: str, size: int | None, *, what: str, image: str | None) -> None:
        self._raw = raw
        self._digest = digest
        self._size = size
        self._hash = hashlib.sha256()
        self._read = 0
        self._what = what
        self._image = image
        self._checked = False

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._hash.update(data)
            self._read += len(data)
        elif n != 0:
            self._check()
        return data

    def readable(self) -> bool:
        return True

    def verify(self) -> None:
        """Read to the end and raise ImageError if the content does not match the digest."""
        while self.read(CHUNK):
            pass
        self._check()

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._digest or (self._size is not None and self._read != self._size):
            where = f"image {self._image}: " if self._image else ""
            raise ImageError(
                f"{where}{self._what} {self._digest} is corrupted: expected digest "
                f"{self._digest} ({self._size if self._size is not None else '?'} bytes), "
                f"got {actual} ({self._read} bytes)",
                hint=corrupted_hint(self._image),
            )

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HashingWriter:
    """File-like sink that hashes and counts what passes through to ``out``."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


class OciLayout:
    """One OCI image layout directory; safe for several sealkit processes (index.json is locked)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs" / "sha256"
        self.tmp = self.root / ".tmp"

    # ---- setup -----------------------------------------------------------------------------

    def ensure(self) -> OciLayout:
        """Create an empty layout if there is none (idempotent)."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        marker = self.root / "oci-layout"
        if not marker.exists():
            self._atomic_write(marker, canonical_json({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
        if not (self.root / "index.json").exists():
            self.write_index(
                {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [],
                }
            )
        return self

    def exists(self) -> bool:
        return (self.root / "oci-layout").is_file() and (self.root / "index.json").is_file()

    @contextlib.contextmanager
    def _flock(self, name: str, mode: int) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "a+b") as fh:
            fcntl.flock(fh, mode)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Short exclusive lock for a read-modify-write of index.json."""
        return self._flock(".index.lock", fcntl.LOCK_EX)

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Shared lock held from the first new blob until index.json names it.

        Several builds/pulls may write at once; garbage collection waits for all of them, so it
        never deletes a blob that a writer has stored but not yet referenced.
        """
        return self._flock(".gc.lock", fcntl.LOCK_SH)

    def collecting(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock for :meth:`gc`: no writer is between blob and index update."""
        return self._flock(".gc.lock", fcntl.LOCK_EX)

    # ---- index.json ------------------------------------------------------------------------

    def read_index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            index = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {"schemaVersion": 2, "manifests": []}
        except (OSError, ValueError) as exc:
            raise ImageError(
                f"cannot read {path}: {exc}",
                hint=f"restore or remove {path} (it lists the stored images)",
            ) from exc
        if not isinstance(index, dict) or not isinstance(index.get("manifests", []), list):
            raise ImageError(f"{path} is not an OCI image index", hint=f"restore or remove {path}")
        index.setdefault("manifests", [])
        return index

    def write_index(self, index: Mapping[str, Any]) -> None:
        self._atomic_write(self.root / "index.json", canonical_json(index))

    # ---- blobs -----------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        return self.blobs / check_digest(digest).split(":", 1)[1]

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def write_blob(self, data: bytes) -> str:
        """Store ``data``; return its digest. A blob that is already there is not rewritten."""
        digest = sha256_digest(data)
        if not self.has_blob(digest):
            self.ingest(_BytesSource(data), digest, len(data), what="blob")
        return digest

    def ingest(
        self,
        stream: BinaryIO,
        digest: str | None = None,
        size: int | None = None,
        *,
        what: str = "blob",
        image: str | None = None,
    ) -> tuple[str, int]:
        """Copy ``stream`` into the layout; verify it against ``digest``/``size`` when given.

        The content lands under its real digest only after it is complete and verified.
        """
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="blob-")
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would follow the blob into layers and hosts
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                sink = HashingWriter(out)
                while chunk := stream.read(CHUNK if size is None else min(CHUNK, size + 1 - sink.size)):
                    sink.write(chunk)
                    if size is not None and sink.size > size:
                        break  # longer than announced: stop reading now, fail below
                out.flush()
                os.fsync(out.fileno())
            actual = sink.digest
            if (digest is not None and actual != digest) or (size is not None and sink.size != size):
                where = f"image {image}: " if image else ""
                raise ImageError(
                    f"{where}{what} {digest} failed verification: expected digest {digest} "
                    f"({size if size is not None else '?'} bytes), "
                    f"got {actual} ({sink.size} bytes)",
                    hint="the source is corrupted or was changed while copying; fetch it again",
                )
            os.replace(tmp, self.blob_path(actual))
            return actual, sink.size
        finally:
            tmp.unlink(missing_ok=True)

    def ingest_file(self, path: Path, *, what: str = "blob") -> tuple[str, int]:
        """Store a finished file (e.g. a layer tar written to a temp file); return digest, size."""
        with open(path, "rb") as fh:
            return self.ingest(fh, what=what)

    def open_blob(
        self, digest: str, size: int | None = None, *, what: str = "blob", image: str | None = None
    ) -> VerifyingReader:
        """Open a blob for streaming; the digest is checked when the stream is read to the end."""
        path = self.blob_path(digest)
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by VerifyingReader
        except FileNotFoundError:
            where = f"image {image}: " if image else ""
            raise ImageError(
                f"{where}{what} {digest} is missing from {self.root}", hint=corrupted_hint(image)
            ) from None
        return VerifyingReader(raw, digest, size, what=what, image=image)

    def read_blob(
        self,
        digest: str,
        size: int | None = None,
        *,
        what: str = "blob",
        image: str | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """Whole blob, verified; with ``max_bytes``, a larger one (declared or on disk) is refused unread."""
        if max_bytes is not None:
            on_disk = self.blob_path(digest).stat().st_size if self.has_blob(digest) else 0
            if max(size or 0, on_disk) > max_bytes:
                raise ImageError(
                    f"{what} {digest} is {max(size or 0, on_disk)} bytes, more than the {max_bytes} "
                    "sealkit reads",
                    hint="the image is malformed or hostile; do not use it",
                )
        with self.open_blob(digest, size, what=what, image=image) as reader:
            data = reader.read()
            reader.verify()
        return data

    def read_json(
        self,
        digest: str,
        size: int | None = None,
        *,
        what: str = "manifest",
        image: str | None = None,
    ) -> dict[str, Any]:
        """A verified JSON blob (manifest, index or config), at most :data:`MAX_JSON_BYTES`."""
        data = self.read_blob(digest, size, what=what, image=image, max_bytes=MAX_JSON_BYTES)
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise ImageError(f"{what} {digest} is not valid JSON: {exc}", hint=corrupted_hint(image)) from exc
        if not isinstance(obj, dict):
            raise ImageError(f"{what} {digest} is not a JSON object", hint=corrupted_hint(image))
        return obj

    # ---- reachability / gc -----------------------------------------------------------------

    def walk(
        self, desc: Mapping[str, Any], *, image: str | None = None, missing_ok: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Yield ``desc`` and every descriptor below it (manifests, configs, layers)."""
        yield dict(desc)
        media = desc.get("mediaType")
        digest = desc["digest"]
        if media not in INDEX_TYPES and media not in MANIFEST_TYPES:
            return
        if missing_ok and not self.has_blob(digest):
            return
        doc = self.read_json(digest, desc.get("size"), image=image)
        if media in INDEX_TYPES:
            for child in doc.get("manifests", []):
                yield from self.walk(child, image=image, missing_ok=missing_ok)
        else:
            if "config" in doc:
                yield dict(doc["config"])
            for layer in doc.get("layers", []):
                yield dict(layer)

    def reachable(self, roots: Iterable[Mapping[str, Any]], *, missing_ok: bool = True) -> set[str]:
        """Digests of every blob reachable from ``roots``."""
        seen: set[str] = set()
        for root in roots:
            for desc in self.walk(root, missing_ok=missing_ok):
                seen.add(desc["digest"])
        return seen

    def gc(self) -> list[str]:
        """Delete blobs no index.json entry reaches; return their digests.

        Call under :meth:`collecting` so that no writer is mid-way.
        """
        keep = self.reachable(self.read_index()["manifests"])
        removed = []
        if self.blobs.is_dir():
            for path in sorted(self.blobs.iterdir()):
                digest = f"sha256:{path.name}"
                if digest not in keep:
                    path.unlink()
                    removed.append(digest)
        if self.tmp.is_dir():
            for path in self.tmp.iterdir():
                path.unlink()
        return removed

    def tidy(self) -> None:
        """Remove sealkit's lock and temp files, leaving a pure OCI layout (before packing it)."""
        for name in (".index.lock", ".gc.lock"):
            (self.root / name).unlink(missing_ok=True)
        if self.tmp.is_dir():
            for path in self.tmp.iterdir():
                path.unlink()
            self.tmp.rmdir()

    # ---- helpers ---------------------------------------------------------------------------

    def _atomic_write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.fchmod(fd, 0o644)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, path)
        finally:
            Path(tmp_name).unlink(missing_ok=True)


class _BytesSource:
    """Minimal readable over bytes (io.BytesIO would do; this avoids copying large payloads)."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n < 0 else min(len(self._view), self._pos + n)
        chunk = bytes(self._view[self._pos : end])
        self._pos = end
        return chunk
