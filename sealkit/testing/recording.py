"""A recording host connection for unit tests of plugins: commands and files in, scripted results out."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sealkit.errors import StepFailed


@dataclass
class RecordedResult:
    host: str
    cmd: str
    rc: int = 0
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class _Target:
    address: str
    port: int = 22
    user: str = "root"


@dataclass
class RecordingConnection:
    """Stands in for :class:`sealkit.ssh.Connection` (the :class:`sealkit.api.HostConnection` protocol);
    keeps every command and every file written.

    Files behave as on a host: ``put`` answers False for the same content and mode, parents need no
    creating, ``get`` fails for a missing file. Commands run no shell: each is matched against ``responses``.

    ``responses`` maps a regular expression to ``(rc, stdout)`` or to a callable taking the command; the first
    matching pattern answers, everything else succeeds with empty output.
    """

    address: str
    user: str = "root"
    responses: list[tuple[str, tuple[int, str] | Callable[[str], tuple[int, str]]]] = field(
        default_factory=list
    )
    commands: list[str] = field(default_factory=list)
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)

    @property
    def target(self) -> _Target:
        return _Target(self.address, user=self.user)

    def answer(self, pattern: str, rc: int = 0, stdout: str = "") -> None:
        self.responses.append((pattern, (rc, stdout)))

    def run(
        self,
        cmd: str,
        *,
        sudo: bool | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdin: object = None,
        env: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> RecordedResult:
        self.commands.append(cmd)
        rc, out = 0, ""
        for pattern, response in self.responses:
            if re.search(pattern, cmd):
                rc, out = response(cmd) if callable(response) else response
                break
        result = RecordedResult(self.address, cmd, rc, out, "" if rc == 0 else "scripted failure")
        if check and rc != 0:
            raise StepFailed(f"command failed (rc={rc}): {cmd}", host=self.address)
        return result

    def put(
        self, data: bytes | Path, remote_path: str, *, mode: int = 0o644, sudo: bool | None = None
    ) -> bool:
        content = data.read_bytes() if isinstance(data, Path) else data
        old = self.files.get(remote_path)
        if (
            old is not None
            and hashlib.sha256(old[0]).digest() == hashlib.sha256(content).digest()
            and old[1] == mode
        ):
            return False
        self.files[remote_path] = (content, mode)
        return True

    def get(self, remote_path: str, *, sudo: bool | None = None) -> bytes:
        """A file written with ``put``; a missing one fails like the SSH connection's ``cat`` does."""
        if remote_path not in self.files:
            raise StepFailed(f"command failed (rc=1): cat -- {remote_path}: No such file", host=self.address)
        return self.files[remote_path][0]

    def close(self) -> None:
        return None


@dataclass
class RecordingFleet:
    """Stands in for :class:`sealkit.ssh.Fleet`: one RecordingConnection per address, run serially."""

    conns: dict[str, RecordingConnection] = field(default_factory=dict)

    def conn(self, address: str) -> RecordingConnection:
        return self.conns.setdefault(address, RecordingConnection(address))

    def map(self, fn: Callable[[RecordingConnection], object], addresses: list[str]) -> dict[str, object]:
        out: dict[str, object] = {}
        for a in addresses:
            try:
                out[a] = fn(self.conn(a))
            except Exception as err:  # noqa: BLE001 - mirrors Fleet.map: errors are returned per host
                out[a] = err
        return out

    def close(self) -> None:
        return None

    def __enter__(self) -> RecordingFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
