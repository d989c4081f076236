"""Cluster state on the controller: ``<home>/clusters/<name>/``.

Holds what a later run needs to continue safely: the Clusterfile as applied (0600, it may hold
passwords), pinned host keys, the PKI, a journal of steps for resume, and a lock so that two sealkit
runs never act on one cluster at once. Nothing here touches the network.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sealkit.errors import SealkitError, UsageError, controller_io

if TYPE_CHECKING:
    from sealkit.cluster import Cluster

DIR_MODE = 0o700
SECRET_MODE = 0o600
CLUSTERFILE = "Clusterfile"
STATUSES = ("started", "done", "failed")
#: the ``step`` named by an I/O failure of the state directory (exit 1, see errors.ControllerError)
STEP = "state"
Status = Literal["started", "done", "failed"]


def home() -> Path:
    """The state root: ``$SEALKIT_HOME`` or ``~/.sealkit``."""
    env = os.environ.get("SEALKIT_HOME")
    return Path(os.path.expanduser(env)) if env else Path(os.path.expanduser("~")) / ".sealkit"


def _default_home() -> Path:
    # parameters named ``home`` shadow the function inside ClusterState and list_clusters
    return home()


def _mkdir_private(path: Path) -> None:
    """Create ``path`` (and parents) 0700, and tighten it if it already existed looser."""
    with controller_io("creating", path, step=STEP):
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if path.stat().st_mode & 0o777 != DIR_MODE:
            path.chmod(DIR_MODE)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old or the new file, never half of one.

    The temp file lives in the same directory (same filesystem, so ``os.replace`` is atomic), is
    created 0600 and gets ``mode`` before it is renamed (a secret is never briefly world-readable),
    is fsynced, and the directory is fsynced after the rename so the new name survives a crash.
    On any failure the temp file is removed and the original is left untouched; an OSError (disk full,
    read-only) becomes a ControllerError naming ``path``, so the CLI says what to fix instead of "internal
    error".
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with controller_io("writing", target, step=STEP):
        _atomic_write(target, payload, mode)


def _atomic_write(target: Path, payload: bytes, mode: int) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


# ------------------------------------------------------------------------------------------ journal


@dataclass(frozen=True)
class JournalEntry:
    """One journal line. ``host`` is None for cluster-wide steps."""

    ts: str
    run_id: str
    phase: str
    host: str | None
    step: str
    status: str
    detail: str = ""


def new_run_id() -> str:
    """A sortable, unique id for one sealkit invocation: UTC time plus randomness."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


class Journal:
    """Append-only JSONL log of steps; ``done()`` tells a resumed run what it may skip.

    Each record is written with a single ``write`` on an ``O_APPEND`` descriptor and fsynced before
    ``record`` returns. A line torn by a crash mid-write is ignored when reading and cut off before
    the next append, so it never glues onto a new record. A malformed line anywhere else is real
    corruption and raises. Thread-safe within one process; the cluster lock keeps other processes
    out.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._mutex = threading.Lock()
        self._fd: int | None = None
        #: latest status per (phase, host, step), built on first use and kept current by record()
        self._latest: dict[tuple[str, str | None, str], str] | None = None

    # -- reading

    def _read(self) -> tuple[list[JournalEntry], int, bool]:
        """Entries; the byte length of the intact prefix (a torn tail starts there); and whether the
        last record is whole but lacks its newline (so the next append must add one first)."""
        with controller_io("reading", self.path, step="journal"):
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return [], 0, False
        entries: list[JournalEntry] = []
        intact = 0
        lines = raw.split(b"\n")
        for lineno, line in enumerate(lines, start=1):
            is_last = lineno == len(lines)
            if is_last and not line:
                break  # the file ends with a newline: nothing after it
            try:
                entries.append(_decode(line))
            except ValueError as exc:
                if is_last:
                    break  # torn last line: the controller died mid-write
                raise SealkitError(
                    f"journal {self.path} is corrupt at line {lineno}: {exc}",
                    hint=f"move {self.path} aside to start over (steps will be re-checked)",
                ) from None
            if is_last:
                return entries, len(raw), True
            intact += len(line) + 1
        return entries, intact, False

    def entries(self, run_id: str | None = None) -> list[JournalEntry]:
        """All entries in order, or those of one run."""
        with self._mutex:
            entries, _, _ = self._read()
        return [e for e in entries if run_id is None or e.run_id == run_id]

    def runs(self) -> list[str]:
        """Run ids in the order they first appear."""
        return list(dict.fromkeys(e.run_id for e in self.entries()))

    def done(self, phase: str, host: str | None, step: str) -> bool:
        """True if the latest record of this step, in any run, says ``done``."""
        with self._mutex:
            if self._latest is None:
                entries, _, _ = self._read()
                self._latest = {(e.phase, e.host, e.step): e.status for e in entries}
            return self._latest.get((phase, host, step)) == "done"

    # -- writing

    def _open(self) -> int:
        if self._fd is None:
            _mkdir_private(self.path.parent)
            _, intact, needs_newline = self._read()
            with controller_io("opening", self.path, step="journal"):
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, SECRET_MODE)
            try:
                with controller_io("repairing the tail of", self.path, step="journal"):
                    if needs_newline:
                        os.write(fd, b"\n")
                    elif os.fstat(fd).st_size > intact:
                        os.ftruncate(fd, intact)  # drop the torn tail before appending
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        return self._fd

    def record(
        self,
        *,
        run_id: str,
        phase: str,
        step: str,
        status: Status,
        host: str | None = None,
        detail: str = "",
    ) -> JournalEntry:
        """Append one record and fsync it; returns what was written."""
        if status not in STATUSES:
            raise ValueError(f"journal status must be one of {STATUSES}, not {status!r}")
        entry = JournalEntry(
            ts=datetime.now(UTC).isoformat(timespec="milliseconds"),
            run_id=run_id,
            phase=phase,
            host=host,
            step=step,
            status=status,
            detail=detail,
        )
        line = json.dumps(asdict(entry), ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._mutex:
            fd = self._open()
            data = line.encode("utf-8")
            with controller_io("appending to", self.path, step="journal"):
                while data:
                    written = os.write(fd, data)
                    data = data[written:]
                os.fsync(fd)
            if self._latest is not None:
                self._latest[(phase, host, step)] = status
        return entry

    def close(self) -> None:
        with self._mutex:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decode(line: bytes) -> JournalEntry:
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    try:
        entry = JournalEntry(**obj)
    except TypeError as exc:
        raise ValueError(f"unexpected fields: {exc}") from None
    if entry.status not in STATUSES:
        raise ValueError(f"unknown status {entry.status!r}")
    return entry


# ------------------------------------------------------------------------------------ cluster state


def _check_name(name: str) -> None:
    from sealkit.cluster import NAME_RE  # cluster imports nothing from here; keep state light

    if not NAME_RE.match(name) or name in (".", ".."):
        raise UsageError(
            f"invalid cluster name {name!r}",
            hint="use letters, digits, '.', '_', '-' (at most 63, starting with a letter or digit)",
        )


class ClusterState:
    """The state directory of one cluster. Constructing it touches nothing on disk."""

    def __init__(self, name: str, home: str | os.PathLike[str] | None = None) -> None:
        _check_name(name)
        self.name = name
        self.home = Path(home) if home is not None else _default_home()
        self.dir = self.home / "clusters" / name
        self.clusterfile_path = self.dir / CLUSTERFILE
        #: OpenSSH known_hosts format; the SSH layer pins host keys here
        self.known_hosts = self.dir / "known_hosts"
        self.pki_dir = self.dir / "pki"
        self.journal_path = self.dir / "journal.jsonl"
        self.lock_path = self.dir / "lock"
        self.journal = Journal(self.journal_path)
        #: serialises read-modify-write of state files (applied.json) by the steps of one run, which
        #: run on parallel threads: without it two workers joining at once lose one's "joined"
        self.mutex = threading.Lock()

    def __repr__(self) -> str:
        return f"ClusterState({self.name!r}, home={str(self.home)!r})"

    def exists(self) -> bool:
        """True once a Clusterfile has been saved (the cluster was applied at least once)."""
        return self.clusterfile_path.is_file()

    def ensure(self) -> Path:
        """Create the cluster dir and ``pki/`` (0700, tightened if looser); returns the dir."""
        _mkdir_private(self.home)
        _mkdir_private(self.home / "clusters")
        _mkdir_private(self.dir)
        _mkdir_private(self.pki_dir)
        return self.dir

    def save_clusterfile(self, cluster: Cluster) -> Path:
        """Write the Clusterfile as applied, 0600 (it may hold passwords)."""
        self.ensure()
        atomic_write(self.clusterfile_path, cluster.to_yaml(), mode=SECRET_MODE)
        return self.clusterfile_path

    def load_clusterfile(self) -> Cluster:
        """The Clusterfile as last applied; UsageError if this cluster has none."""
        from sealkit.cluster import load_clusterfile

        if not self.exists():
            raise unknown_cluster(self.name, self.home)
        with controller_io("reading", self.clusterfile_path, step=STEP):
            return load_clusterfile(self.clusterfile_path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the cluster's exclusive lock; UsageError naming the holder's PID if it is taken.

        An ``flock`` dies with its process, so a crashed run never leaves a stale lock behind.
        """
        self.ensure()
        with controller_io("opening", self.lock_path, step=STEP):
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, SECRET_MODE)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                holder = _read_pid(fd)
                who = f"PID {holder}" if holder else "another process"
                raise UsageError(
                    f"cluster {self.name!r} is locked by another sealkit run ({who})",
                    hint="wait for that run to finish; the lock is released when it exits",
                ) from None
            with controller_io("writing", self.lock_path, step=STEP):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def secret(self, name: str, make: Callable[[], str]) -> str:
        """The cluster secret ``name`` (a join token, a password): made once by ``make``, kept 0600.

        Hosts are prepared concurrently, so creation is a hard link of a finished temp file: the
        first writer wins and every caller, in any thread or process, reads the same value.
        """
        _check_name(name)
        path = self.dir / "secrets" / name
        if not path.exists():
            self.ensure()
            _mkdir_private(path.parent)
            tmp = path.with_name(f".{name}.{secrets.token_hex(4)}")
            atomic_write(tmp, make().strip() + "\n", mode=SECRET_MODE)
            with controller_io("writing", path, step=STEP):
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass  # another step created it first: its value is the cluster's
                finally:
                    tmp.unlink()
        with controller_io("reading", path, step=STEP):
            return path.read_text().strip()

    def remove(self) -> None:
        """Delete this cluster's state (after ``sealkit reset``); the caller holds no lock on it."""
        self.journal.close()
        if self.dir.exists():
            with controller_io("removing", self.dir, step=STEP):
                shutil.rmtree(self.dir)


def _read_pid(fd: int) -> int | None:
    # the holder writes its PID right after locking; give it a moment if we raced that write
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        time.sleep(0.01)
    return None


def list_clusters(home: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the clusters that have a saved Clusterfile, sorted."""
    root = (Path(home) if home is not None else _default_home()) / "clusters"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CLUSTERFILE).is_file())


def unknown_cluster(name: str, home: str | os.PathLike[str] | None = None) -> UsageError:
    """The error for a cluster name with no state: names the clusters that do exist, and how to pick one."""
    root = Path(home) if home is not None else _default_home()
    known = list_clusters(root)
    if known:
        hint = f"clusters here: {', '.join(known)}; pick one with --cluster NAME (`sealkit clusters`)"
    else:
        hint = "no clusters yet: `sealkit run IMAGE --masters IP` or `sealkit apply -f FILE` makes one"
    return UsageError(f"no cluster named {name!r} under {root}", hint=hint)
