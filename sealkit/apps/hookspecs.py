"""The app hooks: how app images are installed, checked and removed. Registered with ``add_hookspecs``.

Installers are plugins of these hooks; sealkit ships ``helm``, ``manifests`` and ``cmd`` (sealos
compatibility) as built-ins, and a third party adds one (kustomize, say) through the
``sealkit.plugins`` entry point with no core change. The app names its installer
(``installer:`` in ``sealkit-app.yaml``); an installer answers only for apps whose
``app.spec.installer`` is its own name and returns None otherwise.

Each spec's docstring starts with ``When:``, ``Scope:`` and ``Returns:`` lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealkit.hookspecs import hookspec

if TYPE_CHECKING:
    from sealkit.apps.model import AppRun, InstallOutcome
    from sealkit.apps.record import AppRecord
    from sealkit.context import ClusterContext, HostRef


@hookspec
def sealkit_app_installers() -> list[str]:
    """Name the installers this plugin provides (``helm``, ``kustomize``).

    When: before any app is installed, to refuse an app whose installer nobody provides.
    Scope: per run.
    Returns: installer names; the lists of every plugin are merged.
    """


@hookspec
def sealkit_check_app(ctx: ClusterContext, app: AppRun) -> list[str]:
    """Check an app before anything changes: its files, binaries and the cluster's capabilities.

    When: for every app of a run, before the first one is installed (a problem stops them all).
    Scope: per app; only the app's installer should answer (others return an empty list).
    Returns: problems, each a sentence naming the file or object and the fix; empty when fine.
    """


@hookspec(firstresult=True)
def sealkit_install_app(ctx: ClusterContext, app: AppRun) -> InstallOutcome | None:
    """Install or upgrade an app on the running cluster, idempotently (a re-run converges).

    When: after the app's container images are in the embedded registry and its files are on
    ``app.host`` (``app.remote_dir``); the namespace exists. The engine waits for readiness afterwards.
    Scope: per app, on one master, with the admin kubeconfig (``app.kubeconfig``); secrets only through
    ``app.sh`` (the env goes over stdin).
    Returns: an InstallOutcome (the release or the objects created, which ``remove`` deletes);
    firstresult — the installer named by ``app.spec.installer`` answers, others return None.
    """


@hookspec(firstresult=True)
def sealkit_remove_app(ctx: ClusterContext, app: AppRun, record: AppRecord, purge: bool) -> bool | None:
    """Remove exactly what the installer created for an app (the release, or the recorded objects).

    When: ``sealkit apps remove NAME``, before the engine deletes the namespace it created and the
    app's images from the registry. Volumes (PersistentVolumeClaims) are the engine's: kept unless
    ``purge``.
    Scope: per app, on one master.
    Returns: True when handled; firstresult — the installer named in the record answers.
    """


@hookspec(firstresult=True)
def sealkit_app_kubectl(ctx: ClusterContext, host: HostRef) -> str | None:
    """Give the kubectl command on a master (``/usr/local/bin/k3s kubectl``), without kubeconfig flags.

    When: before the first app step on that master.
    Scope: per master.
    Returns: the command prefix, or None to let sealkit find ``kubectl`` (PATH, the cluster image's
    ``bin/``, then ``k3s``/``k0s kubectl``); firstresult — a runtime may answer.
    """
