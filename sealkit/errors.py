"""Error types that carry an exit code, so the CLI can map failures to DESIGN §2 without tracebacks.

Every error message should name the host (when there is one), the step, and the fix.
"""

from __future__ import annotations

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
