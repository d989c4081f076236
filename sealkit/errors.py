"""Error types that carry an exit code, so the CLI can map failures to DESIGN §2 without tracebacks.

Every error message should name the host (when there is one), the step, and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from typing import Any

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_CONNECT = 4
EXIT_CHECK_FAILED = 5
EXIT_INTERRUPTED = 130


class SealkitError(Exception):
    """Base of all expected failures; ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_INTERNAL

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        step: str | None = None,
        hint: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.step = step
        self.hint = hint
        #: what the verb did before it failed (``check``'s per-check results, ``exec``'s per-host output):
        #: printed with the error on ``-o json|yaml``
        self.result = result

    def __str__(self) -> str:
        where = []
        if self.host:
            where.append(f"host {self.host}")
        if self.step:
            where.append(f"step {self.step}")
        text = f"[{', '.join(where)}] {self.message}" if where else self.message
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


class UsageError(SealkitError):
    """Invalid input: flags, Clusterfile, Kubefile. Raised before any host is contacted."""

    exit_code = EXIT_USAGE


class ValidationError(UsageError):
    """A Clusterfile field is wrong; ``path`` is the dotted field path (``spec.hosts[1].ips[0]``)."""

    def __init__(self, path: str, value: object, why: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {value!r} is invalid: {why}", hint=hint)
        self.path = path
        self.value = value
        self.why = why


class PluginError(UsageError):
    """A plugin is missing, fails to import, or breaks the hook contract."""


class StepFailed(SealkitError):
    """A command or step failed on a host."""

    exit_code = EXIT_STEP_FAILED


class ConnectError(SealkitError):
    """Could not connect or authenticate to a host (includes a changed host key)."""

    exit_code = EXIT_CONNECT


class HostKeyChanged(ConnectError):
    """The host presented a key that differs from the pinned one: possible man-in-the-middle."""


class CheckFailed(SealkitError):
    """A post-install check (``sealkit check``) or preflight check failed."""

    exit_code = EXIT_CHECK_FAILED


class ImageError(UsageError):
    """A cluster image is missing, malformed, or failed digest verification."""


class ControllerError(StepFailed):
    """A step failed on the controller itself: its disk, its state directory, its own files.

    Exit code 1 (``EXIT_STEP_FAILED``), not 3 or 4: the input was valid (not 2), sealkit has no bug (not 3,
    which asks for a report), and no host was involved (not 4, whose fix is on a host or the network). The
    step failed where it ran, on the controller; the message names the path and the fix, and the same
    command can be re-run once the controller is fixed. ``host`` stays None so nobody blames a host.
    """


#: errnos of a dead or unreachable peer: an OSError carrying one is about the network, never the disk
NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
        errno.EPIPE,
        errno.ENOTCONN,
    }
)


#: errnos only a local disk gives (never a socket, never paramiko's SFTP client, which maps a remote
#: failure to ENOENT, EACCES or no errno): a raw OSError with one is the controller's wherever it surfaces
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def is_controller_io(exc: BaseException) -> bool:
    """True for an OSError of the controller's own files (disk full, read-only, permission, I/O error),
    False for a socket error: only these may become :class:`ControllerError`."""
    if not isinstance(exc, OSError) or type(exc).__module__.startswith(("socket", "ssl")):
        return False
    if isinstance(exc, TimeoutError | ConnectionError):
        return False
    return exc.errno not in NETWORK_ERRNOS


def _io_hint(exc: OSError, path: str) -> str:
    """The fix for this errno: a full disk needs space, a read-only one a remount, not the other way round."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        what = "space" if code == errno.ENOSPC else "space under your disk quota"
        return f"free {what} on the controller's filesystem holding {path} (df -h), then re-run"
    if code == errno.EROFS:
        return (
            f"{path} is on a read-only filesystem: remount it read-write, or point SEALKIT_HOME at a "
            "writable directory, then re-run"
        )
    if code in (errno.EACCES, errno.EPERM):
        return f"make {path} writable by the user running sealkit (or set SEALKIT_HOME), then re-run"
    if code == errno.EIO:
        return f"the controller's disk reported an I/O error at {path}: check the disk (dmesg), then re-run"
    if code in (errno.EMFILE, errno.ENFILE):
        return "raise the controller's open-file limit (ulimit -n), then re-run"
    if code == errno.ENOENT:
        return f"{path} or its directory went missing on the controller: restore it, then re-run"
    return f"check {path} on the controller, then re-run"


def controller_io_error(
    exc: OSError, *, doing: str, path: str | os.PathLike[str] | None = None, step: str | None = None
) -> ControllerError:
    """``exc`` as a :class:`ControllerError`: "no space left on device writing PATH on the controller".

    ``doing`` is a verb phrase ("writing", "appending to", "reading"); ``path`` defaults to the one the
    OSError carries (``os.write`` carries none, so callers that know the file pass it).
    """
    where = str(path) if path is not None else (str(exc.filename) if exc.filename else "its state files")
    why = (exc.strerror or type(exc).__name__).lower()
    err = ControllerError(f"{why} {doing} {where} on the controller", step=step, hint=_io_hint(exc, where))
    err.__cause__ = exc
    return err


@contextlib.contextmanager
def controller_io(doing: str, path: str | os.PathLike[str], *, step: str | None = None) -> Iterator[None]:
    """Turn an OSError of the controller's files inside the block into a :class:`ControllerError` naming
    ``path`` (the file the caller meant: an OSError names a temp file, or nothing at all for ``os.write``).

    A SealkitError passes through unchanged; a socket error is not the controller's disk and passes too.
    """
    try:
        yield
    except OSError as exc:
        if not is_controller_io(exc):
            raise
        raise controller_io_error(exc, doing=doing, path=path, step=step) from exc
