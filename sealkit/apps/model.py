"""The values the app engine and the installer plugins exchange (see sealkit.apps.hookspecs)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealkit.apps import files
from sealkit.apps.spec import AppSpec
from sealkit.errors import StepFailed
from sealkit.image.reference import parse_reference
from sealkit.ssh.quoting import env_on_stdin

if TYPE_CHECKING:
    from sealkit.context import HostRef


@dataclass(frozen=True)
class ResolvedApp:
    """An app image found in the local store: its identity, spec, ENV defaults, CMD and platforms."""

    ref: str
    digest: str
    spec: AppSpec
    labels: dict[str, str]
    env: dict[str, str]
    cmd: tuple[str, ...]
    #: architectures the image has (``amd64``, ``arm64``)
    arches: tuple[str, ...]
    #: container images it carries (``images/oci``), by full name
    images: tuple[str, ...]
    #: the unpacked rootfs for an architecture (unpacked once per digest and arch)
    rootfs_for: Callable[[str | None], Path] = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def repository(self) -> str:
        """The image name without tag or digest: an upgrade keeps it, another image changes it."""
        return parse_reference(self.ref).name

    @property
    def version(self) -> str:
        return self.labels.get("sealkit.io/version") or parse_reference(self.ref).tag or self.digest[:19]


@dataclass(frozen=True)
class ObjectRef:
    """One Kubernetes object an installer created (``apiVersion``, ``kind``, ``namespace``, ``name``)."""

    kind: str
    name: str
    namespace: str = ""
    api_version: str = "v1"

    def resource(self) -> str:
        """What kubectl names it by: ``deployment.apps``, ``service`` (the group keeps CRDs unambiguous)."""
        group = self.api_version.split("/")[0] if "/" in self.api_version else ""
        return f"{self.kind.lower()}.{group}" if group else self.kind.lower()

    def key(self) -> str:
        return f"{self.kind.lower()}/{self.name}" + (f"@{self.namespace}" if self.namespace else "")

    def to_dict(self) -> dict[str, str]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectRef:
        return cls(
            str(d["kind"]), str(d["name"]), str(d.get("namespace", "")), str(d.get("apiVersion", "v1"))
        )


@dataclass(frozen=True)
class InstallOutcome:
    """What an installer created: a helm release, or the objects it applied (both may be empty for CMD)."""

    release: str = ""
    objects: tuple[ObjectRef, ...] = ()


@dataclass
class AppRun:
    """One app being installed or removed, as an installer plugin sees it.

    ``env`` holds secrets: use :meth:`sh`, which sends it over stdin, never in a command line.
    """

    name: str
    namespace: str
    spec: AppSpec
    ref: str
    digest: str
    host: HostRef
    #: the app's files on ``host`` (the image root, patched by Config documents)
    remote_dir: str
    #: kubectl on ``host`` with the admin kubeconfig, ready to take arguments
    kubectl: str
    #: path of the admin kubeconfig on ``host`` (0600)
    kubeconfig: str
    env: dict[str, str] = field(default_factory=dict, repr=False)
    #: helm on ``host`` (from the app image or the cluster image), "" when neither ships it
    helm: str = ""
    cmd: tuple[str, ...] = ()
    local_rootfs: Path | None = None
    timeout: int = 600

    def sh(
        self,
        cmd: str,
        *,
        timeout: float | None = None,
        check: bool = True,
        what: str = "",
        extra_env: dict[str, str] | None = None,
    ) -> Any:
        """Run ``cmd`` in the app's directory on the master, the app env and KUBECONFIG from stdin."""
        env = {**self.env, **(extra_env or {}), **files.TOOL_ENV, "KUBECONFIG": self.kubeconfig}
        line, stdin = env_on_stdin(f"cd {shlex.quote(self.remote_dir)} && {cmd}", env)
        res = self.host.conn.run(line, stdin=stdin, check=False, timeout=timeout or self.timeout)
        if check and res.rc != 0:
            tail = " | ".join((res.stderr or res.stdout).strip().splitlines()[-5:])
            raise StepFailed(
                f"app {self.name}: {what or cmd.split()[0]} exited {res.rc}: {tail}",
                host=self.host.ip,
                step=f"install app {self.name}",
                hint=f"the app's files are in {self.remote_dir} on {self.host.ip}",
            )
        return res


@dataclass(frozen=True)
class AppResult:
    """The outcome of one app of a run: what ``-o json`` prints under ``apps[]``."""

    name: str
    image: str
    version: str
    changed: bool
    action: str  # install | upgrade | unchanged
    endpoints: tuple[str, ...] = ()
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image": self.image,
            "version": self.version,
            "action": self.action,
            "changed": self.changed,
            "endpoints": list(self.endpoints),
            "credentials": dict(self.credentials),
            "warnings": list(self.warnings),
        }

    def sentence(self) -> str:
        """The one line a person reads after ``sealkit run``."""
        return sentence(self.to_dict())


def sentence(result: dict[str, Any]) -> str:
    """One line for a person from an ``apps[]`` entry: where to connect, with which credentials."""
    verbs = {"upgrade": "was upgraded and is ready", "unchanged": "is ready (unchanged)"}
    text = f"{result['name']} {verbs.get(result.get('action', ''), 'is ready')}"
    creds = " and ".join(f"{k} {v}" for k, v in (result.get("credentials") or {}).items())
    endpoints = result.get("endpoints") or []
    if endpoints:
        text += f": connect to {endpoints[0]}" + (f" with {creds}" if creds else "")
        if len(endpoints) > 1:
            text += f" (also {', '.join(endpoints[1:])})"
    elif creds:
        text += f": {creds}"
    return text + "."
