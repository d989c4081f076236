"""The public surface for plugins: everything a runtime, HA, registry or app-installer plugin may import.

Import from here (``from sealkit.api import hookimpl, ClusterContext, StepFailed``); every other module of
sealkit is internal and may change between releases without notice. The shipped runtime plugins use this
module only (``tests/plugin_authors/test_public_surface.py`` checks their imports).

What is here, by concern:

* the hook marker: :data:`hookimpl` (the specs live in :mod:`sealkit.hookspecs`, see ``docs/hooks.md``);
* the values hooks receive and return: :class:`ClusterContext`, :class:`HostRef`, :class:`RuntimeInfo`,
  :class:`RegistryInfo`, :class:`Endpoint`, and where the cluster image lives on a host
  (:data:`REMOTE_ROOT`, :data:`INSTALLED_MARKER`);
* the connection every ``HostRef.conn`` is: :class:`HostConnection` (a typed Protocol stating what
  ``run``/``put``/``get`` do, the same for SSH and for :class:`sealkit.testing.recording.RecordingConnection`)
  and the :class:`CommandResult` it returns;
* directories a runtime fills that may hold foreign data (take-over, restore on reset): the
  :mod:`ownership` module;
* idempotent host operations: the :mod:`hostops` module (``write_file``, ``write_unit``,
  ``start_or_restart``, ``wait_until``, ``remove_paths`` …), so "write only what changed, reload only when a
  unit changed" is one mechanism for every plugin;
* errors with exit codes: :class:`StepFailed`, :class:`PluginError`, :class:`UsageError`,
  :class:`CheckFailed`, :class:`ConnectError`, :class:`SealkitError` — every one takes
  ``(message, *, host=None, step=None, hint=None)``; the CLI prints ``[host H, step S] message`` and
  ``fix: hint``;
* certificate layouts (what ``sealkit_cert_specs`` returns): :class:`Layout`, :class:`LayoutInput`,
  :class:`CASpec`, :class:`CertSpec`, :class:`KubeconfigSpec`, :class:`KeyPairSpec`, :class:`FileSpec`
  (what ``sealkit_registry_mirror_config`` returns), the modes :data:`MODE_PUBLIC` / :data:`MODE_SECRET`,
  :func:`https_url`, :func:`host_sans`, :func:`spki_sha256` and the :mod:`kubernetes` layout helpers
  (``control_plane_certs``, :data:`SERVER`);
* the embedded registry: :func:`registry_info`, :func:`registry_settings`, :data:`REGISTRY_CA_PATH`, the
  pure mirror-config renderers in :mod:`mirrors` (containerd ``hosts.toml`` under :data:`CERTS_D`, the CRI
  credentials table :func:`containerd_cri_registry_toml`, k3s ``registries.yaml``, k0s drop-ins),
  :data:`IMAGES_SUBDIR` and :func:`image_names` (the images a cluster image ships);
* the HA strategy the Clusterfile selects: :func:`strategy` (``haproxy``, ``ipvs`` or ``native``);
* Kubernetes version rules: the :mod:`versions` module (``versions.parse("v1.30.4+k3s1") == (1, 30, 4)``,
  ``plan_upgrade``, ``check_supported``), the same rules the engine applies to upgrades;
* app installers (``docs/apps.md``): :class:`AppRun` (what ``sealkit_install_app`` gets),
  :class:`InstallOutcome` and :class:`ObjectRef` (what it returns), :class:`AppRecord` (what
  ``sealkit_remove_app`` gets back) and :class:`Kube` (kubectl on a master with the admin kubeconfig).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from sealkit import hostops, ownership
from sealkit.apps.kube import Kube
from sealkit.apps.model import AppRun, InstallOutcome, ObjectRef
from sealkit.apps.record import AppRecord
from sealkit.context import (
    INSTALLED_MARKER,
    REMOTE_ROOT,
    ClusterContext,
    Endpoint,
    HostRef,
    RegistryInfo,
    RuntimeInfo,
)
from sealkit.engine import versions
from sealkit.errors import (
    CheckFailed,
    ConnectError,
    PluginError,
    SealkitError,
    StepFailed,
    UsageError,
)
from sealkit.ha.plugin import strategy
from sealkit.hookspecs import hookimpl
from sealkit.pki import kubernetes
from sealkit.pki.crypto import spki_sha256
from sealkit.pki.kubernetes import SERVER
from sealkit.pki.model import (
    MODE_PUBLIC,
    MODE_SECRET,
    CASpec,
    CertSpec,
    FileSpec,
    KeyPairSpec,
    KubeconfigSpec,
    Layout,
    LayoutInput,
    https_url,
)
from sealkit.pki.sans import host_sans
from sealkit.registry import REGISTRY_CA_PATH, mirrors
from sealkit.registry.mirrors import CERTS_D, containerd_cri_registry_toml
from sealkit.registry.service import registry_info, registry_settings
from sealkit.registry.sync import IMAGES_SUBDIR, image_names


@runtime_checkable
class CommandResult(Protocol):
    """What :meth:`HostConnection.run` returns."""

    host: str
    cmd: str
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        ...


@runtime_checkable
class HostConnection(Protocol):
    """The persistent connection of one host (``HostRef.conn``): what plugins may rely on.

    ``run(cmd)``: ``cmd`` is one POSIX shell command line, sent over SSH ``exec`` (no PTY) and run by
    ``sh -c``, so pipes, ``&&`` and redirections work; quote every word that comes from a variable
    with ``shlex.quote``. The login user runs it when that user is root; otherwise it runs as root
    through ``sudo -n -- sh -c …`` (the sudo password, when one is configured, travels on stdin,
    never in argv) unless ``sudo=False``, which runs it as the login user. With ``timeout`` the host
    kills the command after that many seconds (``timeout -s KILL``) and ``run`` raises; a non-zero exit
    raises ``StepFailed`` (its subclass ``CommandFailed``, with the stderr tail) when ``check`` is true,
    else the result carries ``rc``. ``env`` is exported in the command line — visible in ``ps``, so never
    put secrets there (write them to a 0600 file with ``put``). ``stdin`` bytes are fed to the command.
    ``idempotent=True`` says running ``cmd`` twice does no harm (a read, a probe): if the SSH link dies
    while it runs, the connection is re-dialled and ``cmd`` run again. Otherwise a lost link fails the
    step with "connection lost … may or may not have completed", and the user re-runs (stand-ins that
    take ``**kwargs`` accept it; the engine passes it only to its own reads).

    ``put(data, path, mode=0o644)``: content-addressed and atomic. Creates missing parent directories
    (``mkdir -p``), returns False without sending anything when the file already has that sha256 and
    mode (only ``chmod`` when just the mode differs), else uploads to a private temp dir beside the
    target, verifies the sha256 on the host and renames into place; True when something changed. A
    directory at ``path`` is refused. Runs under sudo on the same rule as ``run``.

    ``get(path)``: the file's bytes (read with ``cat`` under the same sudo rule); raises when missing.

    The recording stand-in in :mod:`sealkit.testing.recording` keeps these semantics for files (same
    True/False answers) but runs no shell: commands are matched against scripted regex answers.
    """

    @property
    def target(self) -> object:
        """The host's login target; ``target.address`` is the address the fleet keys it by."""
        ...

    def run(
        self,
        cmd: str,
        *,
        sudo: bool | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> CommandResult: ...

    def put(
        self, data: bytes | Path, remote_path: str, *, mode: int = 0o644, sudo: bool | None = None
    ) -> bool: ...

    def get(self, remote_path: str, *, sudo: bool | None = None) -> bytes: ...


__all__ = [
    "CERTS_D",
    "IMAGES_SUBDIR",
    "INSTALLED_MARKER",
    "MODE_PUBLIC",
    "MODE_SECRET",
    "REGISTRY_CA_PATH",
    "REMOTE_ROOT",
    "SERVER",
    "AppRecord",
    "AppRun",
    "CASpec",
    "CertSpec",
    "CheckFailed",
    "ClusterContext",
    "CommandResult",
    "ConnectError",
    "Endpoint",
    "FileSpec",
    "HostConnection",
    "HostRef",
    "InstallOutcome",
    "KeyPairSpec",
    "Kube",
    "KubeconfigSpec",
    "Layout",
    "LayoutInput",
    "ObjectRef",
    "PluginError",
    "RegistryInfo",
    "RuntimeInfo",
    "SealkitError",
    "StepFailed",
    "UsageError",
    "containerd_cri_registry_toml",
    "hookimpl",
    "host_sans",
    "hostops",
    "https_url",
    "image_names",
    "kubernetes",
    "mirrors",
    "ownership",
    "registry_info",
    "registry_settings",
    "spki_sha256",
    "strategy",
    "versions",
]
