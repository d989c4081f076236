"""Host key checking with OpenSSH semantics (sealos, KubeKey and k3sup skip this entirely).

``accept-new`` (the default): a host seen for the first time is pinned into the cluster's own
known_hosts file; a host whose key differs from a pinned or user-known one is refused. ``strict``:
the key must already be known. Files use the OpenSSH known_hosts format, so ``ssh-keygen -R`` and
``ssh -o UserKnownHostsFile=`` work on them unchanged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import re
import shlex
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import paramiko

from sealkit.errors import ConnectError, HostKeyChanged, UsageError

log = logging.getLogger("sealkit.ssh")

Mode = Literal["accept-new", "strict"]
_MODES = ("accept-new", "strict")

# Host key algorithms paramiko may negotiate for a known key type (RSA keys sign with SHA-2).
_ALGOS_FOR_TYPE = {
    "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
}


class UnknownHostKey(ConnectError):
    """``strict`` mode met a host whose key is in no known_hosts file."""


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH files a host under: ``host`` for port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(blob: bytes) -> str:
    """SHA256 fingerprint of a public key blob, formatted like ``ssh-keygen -l``."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


@dataclass(frozen=True)
class KnownKey:
    """One key line of a known_hosts file."""

    keytype: str
    blob: bytes
    source: str
    lineno: int
    revoked: bool = False

    @property
    def fingerprint(self) -> str:
        """SHA256 fingerprint, as ``ssh-keygen -l`` prints it."""
        return fingerprint(self.blob)


@dataclass(frozen=True)
class _Entry:
    patterns: tuple[str, ...]
    key: KnownKey

    def matches(self, name: str) -> bool:
        hit = False
        for pat in self.patterns:
            if pat.startswith("|1|"):
                if _hashed_match(pat, name):
                    hit = True
                continue
            negated = pat.startswith("!")
            if _wildcard_match(pat[1:] if negated else pat, name):
                if negated:
                    return False
                hit = True
        return hit


def _wildcard_match(pattern: str, name: str) -> bool:
    """OpenSSH patterns: only ``*`` and ``?`` are special (not ``[`` as in ``[host]:port``)."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == name.lower()
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, name, flags=re.IGNORECASE) is not None


def _hashed_match(pattern: str, name: str) -> bool:
    try:
        _, _, salt_b64, hash_b64 = pattern.split("|", 3)
        salt = base64.b64decode(salt_b64)
        want = base64.b64decode(hash_b64)
    except (ValueError, binascii.Error):
        return False
    got = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(got, want)


def _parse(path: Path, text: str) -> list[_Entry]:
    """Parse known_hosts text; unparsable lines are logged and skipped, as OpenSSH does."""
    entries: list[_Entry] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        revoked = False
        if fields[0].startswith("@"):
            if fields[0] != "@revoked":  # @cert-authority: host certificates are not supported
                continue
            revoked = True
            fields = fields[1:]
        if len(fields) < 3:
            log.debug("%s:%d: skipping malformed known_hosts line", path, lineno)
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except binascii.Error:
            log.debug("%s:%d: skipping known_hosts line with bad base64", path, lineno)
            continue
        key = KnownKey(fields[1], blob, str(path), lineno, revoked)
        entries.append(_Entry(tuple(fields[0].split(",")), key))
    return entries


class _KnownHostsFile:
    """A known_hosts file parsed once and re-read only when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._entries: list[_Entry] = []

    def entries(self) -> list[_Entry]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._entries = None, []
            return []
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp != self._stamp:
            self._entries = _parse(self.path, self.path.read_text(errors="replace"))
            self._stamp = stamp
        return self._entries

    def lookup(self, name: str) -> list[KnownKey]:
        return [e.key for e in self.entries() if e.matches(name)]


class HostKeyPolicy:
    """Decides whether a host key is trusted, and pins new ones.

    Thread-safe: many connections verify at once; pinning takes a process-wide ``flock`` on
    ``<pinned_path>.lock`` (so two sealkit processes cannot lose each other's pins) and replaces the
    file atomically (a crash never leaves it half-written).
    """

    def __init__(
        self,
        pinned_path: str | os.PathLike[str],
        mode: Mode = "accept-new",
        user_known_hosts: str | os.PathLike[str] | None = "~/.ssh/known_hosts",
    ) -> None:
        if mode not in _MODES:
            raise UsageError(f"unknown host key mode {mode!r}", hint=f"use one of {', '.join(_MODES)}")
        self.pinned_path = Path(pinned_path).expanduser()
        self.mode: Mode = mode
        self.user_known_hosts = Path(user_known_hosts).expanduser() if user_known_hosts is not None else None
        self._lock = threading.Lock()
        self._pinned = _KnownHostsFile(self.pinned_path)
        self._user = _KnownHostsFile(self.user_known_hosts) if self.user_known_hosts else None

    def __repr__(self) -> str:
        return f"HostKeyPolicy({str(self.pinned_path)!r}, mode={self.mode!r})"

    def known_keys(self, name: str) -> list[KnownKey]:
        """Keys for ``name`` (see :func:`known_hosts_name`) in the pinned and the user's file."""
        with self._lock:
            found = self._pinned.lookup(name)
            if self._user is not None:
                found += self._user.lookup(name)
        return found

    def preferred_algorithms(self, name: str) -> list[str]:
        """Host key algorithms to offer first, so the server shows the key type we already know."""
        algos: list[str] = []
        for key in self.known_keys(name):
            if key.revoked:
                continue
            for algo in _ALGOS_FOR_TYPE.get(key.keytype, [key.keytype]):
                if algo not in algos:
                    algos.append(algo)
        return algos

    def verify(self, name: str, key: paramiko.PKey, *, host: str | None = None) -> None:
        """Accept ``key`` for ``name`` or raise; pins it on first contact in ``accept-new`` mode.

        Raises :class:`HostKeyChanged` when a known key differs (also when only keys of another type
        are known: a server that suddenly stops offering its known key type is treated as changed),
        and :class:`UnknownHostKey` in ``strict`` mode for a host in no known_hosts file.
        """
        blob = key.asbytes()
        keytype = key.get_name()
        label = host or name
        known = self.known_keys(name)
        self._check_against(name, label, keytype, blob, known)
        if _trusted(known):
            return
        if self.mode == "strict":
            raise UnknownHostKey(
                f"host key for {name} is not in {self.pinned_path}"
                + (f" or {self.user_known_hosts}" if self.user_known_hosts else "")
                + f" and strict host key checking is on (it offered {keytype} {fingerprint(blob)})",
                host=label,
                step="host-key",
                hint=self._strict_hint(name),
            )
        self._pin(name, label, keytype, blob)

    def _check_against(self, name: str, label: str, keytype: str, blob: bytes, known: list[KnownKey]) -> None:
        for k in known:
            if k.revoked and k.blob == blob:
                raise HostKeyChanged(
                    f"host key {fingerprint(blob)} of {name} is marked @revoked in {k.source}:{k.lineno}",
                    host=label,
                    step="host-key",
                    hint="the host must get a new host key; do not connect until it has",
                )
        trusted = _trusted(known)
        if not trusted or any(k.blob == blob for k in trusted):
            return
        same_type = [k for k in trusted if k.keytype == keytype]
        stale = same_type[0] if same_type else trusted[0]
        raise HostKeyChanged(
            f"REMOTE HOST KEY CHANGED for {name}: known {stale.keytype} key {stale.fingerprint} "
            f"({stale.source}:{stale.lineno}), but the host offered {keytype} {fingerprint(blob)}. "
            "Someone could be intercepting the connection, or the host was reinstalled.",
            host=label,
            step="host-key",
            hint=(
                "if the change is expected, forget the old key and retry: "
                f"ssh-keygen -f {shlex.quote(stale.source)} -R '{name}'"
            ),
        )

    def _strict_hint(self, name: str) -> str:
        host, port = name, "22"
        if name.startswith("[") and "]:" in name:
            host, port = name[1:].split("]:", 1)
        return (
            "check the fingerprint out of band, then pin it with "
            f"ssh-keyscan -p {port} {shlex.quote(host)} >> {shlex.quote(str(self.pinned_path))} "
            "(or drop --strict-host-keys to pin on first contact)"
        )

    def _pin(self, name: str, label: str, keytype: str, blob: bytes) -> None:
        line = f"{name} {keytype} {base64.b64encode(blob).decode()}\n"
        self.pinned_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.pinned_path.with_name(self.pinned_path.name + ".lock")
        with self._lock, open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                # Re-check under the lock: another thread or process may have pinned it meanwhile.
                known = self._pinned.lookup(name)
                if self._user is not None:
                    known += self._user.lookup(name)
                self._check_against(name, label, keytype, blob, known)
                if any(k.blob == blob for k in _trusted(known)):
                    return
                old = self.pinned_path.read_bytes() if self.pinned_path.exists() else b""
                if old and not old.endswith(b"\n"):
                    old += b"\n"
                _atomic_write(self.pinned_path, old + line.encode())
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        log.info("pinned host key %s %s for %s in %s", keytype, fingerprint(blob), name, self.pinned_path)


def _trusted(known: list[KnownKey]) -> list[KnownKey]:
    """The keys that vouch for a host: a ``@revoked`` line only ever refuses its own key, so a host known
    only through revoked lines is unknown (refused in strict mode, pinned on first contact otherwise)."""
    return [k for k in known if not k.revoked]


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via temp file + rename in the same directory: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
