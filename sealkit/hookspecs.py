"""The plugin contract: every hook sealkit calls, typed and documented.

Runtime plugins (kubeadm, k3s, k0s, binary, or a third party's), HA strategies, the embedded registry and the
default PKI are all plugins of these hooks. Rules that hold for every hook:

* hooks are called with keyword arguments only;
* ``ctx`` is the :class:`sealkit.context.ClusterContext` of the current run (cluster model, state, SSH fleet,
  image, PKI store); ``host`` is a :class:`sealkit.context.HostRef` (ip, roles, hostname, arch, connection);
* "per cluster" hooks fire once per run, "per host" hooks fire once for each host concerned, possibly
  concurrently on different hosts (so implementations must not share mutable state between calls);
* ``firstresult`` hooks answer "who handles this?": the first implementation returning something other than
  ``None`` wins, and returning ``None`` means "not mine, ask the next plugin". The engine treats "nobody
  answered" as an error naming the hook, so a runtime that forgets a hook fails loudly;
* every hook must be idempotent: a re-run after a failure calls it again on hosts where it may have half-run.

Each spec's docstring has ``When:``, ``Scope:`` and ``Returns:`` lines. ``docs/hooks.md`` is generated from
this module (``python -m sealkit.testing.hookdoc``) and a test fails when they disagree;
``docs/plugins.md`` is the plugin author's guide. Plugins import what they need from :mod:`sealkit.api`,
not from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from sealkit.context import (
        ClusterContext,
        Endpoint,
        HostRef,
        RegistryInfo,
        RuntimeInfo,
    )
    from sealkit.hostops import Expectations
    from sealkit.pki.model import FileSpec, Layout

PROJECT = "sealkit"

#: hooks a runtime plugin (entry-point group ``sealkit.runtimes``) must implement itself; the contract
#: suite (:class:`sealkit.testing.contract.RuntimeContract`) fails when one is missing. Every other hook is
#: optional for a runtime: built-in plugins answer HA, certificate installation and the registry.
RUNTIME_REQUIRED_HOOKS: tuple[str, ...] = (
    "sealkit_runtime_info",
    "sealkit_init_cluster",
    "sealkit_join_master",
    "sealkit_join_node",
    "sealkit_drain_host",
    "sealkit_reset_host",
    "sealkit_upgrade_host",
    "sealkit_get_kubeconfig",
    "sealkit_runtime_version",
    "sealkit_cert_specs",
    "sealkit_registry_mirror_config",
)

#: hooks an application installer (entry-point group ``sealkit.plugins``) implements
APP_INSTALLER_HOOKS: tuple[str, ...] = (
    "sealkit_app_installers",
    "sealkit_check_app",
    "sealkit_install_app",
    "sealkit_remove_app",
)

#: hooks an HA strategy (entry-point group ``sealkit.plugins``) implements to replace the built-in one
HA_STRATEGY_HOOKS: tuple[str, ...] = (
    "sealkit_apiserver_endpoint",
    "sealkit_configure_lb",
    "sealkit_lb_status",
)

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------- boot
@hookspec(firstresult=True)
def sealkit_runtime_info() -> RuntimeInfo:
    """Describe the active runtime: its name, ports, binaries, default HA strategy and supported releases.

    When: once when the runtime plugin is loaded, before any host is contacted; an image whose
    ``sealkit.io/version`` is outside ``oldest_version``…``newest_version`` is refused there.
    Scope: per cluster.
    Returns: a RuntimeInfo whose ``name`` is the entry-point name (the release installed is the cluster
    image's ``sealkit.io/version``, not the plugin's); firstresult — only the selected runtime answers.
    """


@hookspec
def sealkit_preflight(ctx: ClusterContext, host: HostRef) -> list[str]:
    """Check a host before anything is changed on it.

    When: in the ``preflight`` phase of run/apply/add, after connecting and gathering facts.
    Scope: per host, concurrently.
    Returns: a list of problems (empty when fine); every plugin's lists are merged and any problem stops the
    run before a single change is made.
    """


@hookspec
def sealkit_prepare_host(ctx: ClusterContext, host: HostRef) -> None:
    """Install what this plugin needs on a host before it joins: binaries, units, config files.

    When: in the ``prepare`` phase, after the cluster image's rootfs is on the host and before init/join.
    Scope: per host, concurrently; every plugin is called.
    Returns: nothing; raise StepFailed on failure. Optional: a runtime with nothing to install before
    init/join does not implement it.
    """


@hookspec(firstresult=True)
def sealkit_init_cluster(ctx: ClusterContext, host: HostRef) -> bool:
    """Bootstrap the control plane on the first master.

    When: in the ``init`` phase, once, unless the journal shows the cluster was already initialised.
    Scope: per cluster (``host`` is the first master).
    Returns: True when handled; firstresult — exactly one runtime answers. None means "not mine": when no
    plugin answers, the engine stops with "no plugin implements sealkit_init_cluster". Called again after a
    failed run, it must converge and return True.
    """


@hookspec(firstresult=True)
def sealkit_join_master(ctx: ClusterContext, host: HostRef) -> bool:
    """Join one more master (control-plane member) to the running cluster.

    When: in the ``join-masters`` phase; masters join one at a time so etcd keeps quorum.
    Scope: per host, sequentially.
    Returns: True when handled; firstresult.
    """


@hookspec(firstresult=True)
def sealkit_join_node(ctx: ClusterContext, host: HostRef) -> bool:
    """Join a worker node through the HA endpoint.

    When: in the ``join-nodes`` phase, after the node's local load balancer is configured.
    Scope: per host, concurrently (sliding window of ``--concurrency``).
    Returns: True when handled; firstresult.
    """


@hookspec(firstresult=True)
def sealkit_drain_host(ctx: ClusterContext, host: HostRef) -> bool:
    """Remove a host from the cluster's view (drain, delete the node, leave etcd) before it is reset.

    When: in the ``delete`` phase, before ``sealkit_reset_host`` on the same host; runs against a master
    that stays.
    Scope: per host, sequentially for masters.
    Returns: True when handled; firstresult.
    """


@hookspec
def sealkit_reset_host(ctx: ClusterContext, host: HostRef) -> None:
    """Remove everything this plugin put on a host: services, units, files, mounts, processes.

    When: on ``reset`` and after a host is drained by ``delete``.
    Scope: per host, concurrently; every plugin is called and cleans up its own things.
    Returns: nothing; a failure raises and names what is left behind. On a host where the plugin never
    installed anything it must succeed and do the same thing every time.
    """


@hookspec(firstresult=True)
def sealkit_upgrade_host(ctx: ClusterContext, host: HostRef, from_version: str, to_version: str) -> bool:
    """Upgrade the runtime on one host to the version of the new cluster image.

    When: in the ``upgrade`` phase: masters one by one, then workers in batches; the engine has already
    refused downgrades and skipped minors.
    Scope: per host.
    Returns: True when handled; firstresult.
    """


@hookspec(firstresult=True)
def sealkit_get_kubeconfig(ctx: ClusterContext) -> str:
    """Give an admin kubeconfig for the controller, pointing at an endpoint the controller can reach.

    When: after init, for ``sealkit kubeconfig``, ``status`` and checks.
    Scope: per cluster.
    Returns: the kubeconfig YAML text (a secret: never logged) whose ``clusters[].cluster.server`` is an
    https URL the controller reaches (not ``127.0.0.1``); firstresult.
    """


@hookspec(firstresult=True)
def sealkit_runtime_version(ctx: ClusterContext, host: HostRef) -> str | None:
    """Report the runtime version installed on a host (for status, resume and upgrade planning).

    When: during facts gathering and ``status``.
    Scope: per host.
    Returns: a version like ``v1.30.4`` or None when nothing is installed (never raise for a host without
    the runtime); firstresult.
    """


@hookspec
def sealkit_host_expectations(ctx: ClusterContext, host: HostRef) -> Expectations | None:
    """Declare what must hold on a joined host for this plugin's part of it: the systemd units that must be
    active and enabled, and the files sealkit rendered there (``hostops.ExpectedFile``: path, the content
    sealkit would write now, mode, units to restart when it is repaired, the fix when it cannot be).

    Why: a re-run converges on the hosts' real state, not on the journal: a stopped unit or a deleted
    rendered file is found and repaired. The digests of the files are recorded when the host joins, so a
    re-run compares with what sealkit wrote; a file whose current rendering differs from that record (the
    host's context changed since) is reported with ``fix`` rather than overwritten.
    When: when a host has joined (the digests are recorded), and on every ``run``/``apply`` for each joined
    host the plan does not otherwise touch, before it is contacted (``host.hostname`` is the one recorded
    at join; other facts may be empty).
    Scope: per host; every plugin is called and the answers are merged. Pure: no I/O.
    Returns: an ``hostops.Expectations``, or None when this plugin put nothing on that host.
    """


# ----------------------------------------------------------------------------------------------- HA
@hookspec(firstresult=True)
def sealkit_apiserver_endpoint(ctx: ClusterContext) -> Endpoint:
    """The apiserver address workers use: a VIP or a node-local LB address and port.

    When: before certificates are generated (it is a SAN) and before workers join.
    Scope: per cluster.
    Returns: an Endpoint; firstresult — the built-in ``builtin:ha`` plugin answers (``trylast``) for every
    strategy: the VIP for ``haproxy``/``ipvs``, the first master for ``native``. A runtime or HA add-on
    answers only to override it.
    """


@hookspec(firstresult=True)
def sealkit_configure_lb(ctx: ClusterContext, host: HostRef, backends: list[Endpoint]) -> bool:
    """Write (or re-sync) the node-local load balancer on a worker so it fronts every apiserver.

    When: before a worker joins, and on every node after a master is added or deleted.
    Scope: per host, concurrently. Must touch only the LB config and reload only the LB when it changed.
    Returns: True when handled; firstresult — ``builtin:ha`` answers (``trylast``): it writes haproxy or
    IPVS on workers, and returns True without touching the host on masters and for ``native`` (the plan
    keeps ``configure-lb`` steps; a runtime with its own client-side LB does that work in its join hooks).
    """


@hookspec
def sealkit_lb_status(ctx: ClusterContext, host: HostRef) -> dict[str, str] | None:
    """Report which apiserver backends a node's load balancer sees as healthy.

    When: ``sealkit status`` and ``sealkit check``.
    Scope: per host.
    Returns: a mapping backend → state (``UP``/``DOWN``), or None when this plugin runs no LB there.
    """


# --------------------------------------------------------------------------------------- image sync
@hookspec(firstresult=True)
def sealkit_registry_mirror_config(
    ctx: ClusterContext, host: HostRef, registry: RegistryInfo
) -> list[FileSpec]:
    """Render the container runtime's mirror config so original image names pull from the embedded registry.

    When: in the ``registry`` phase, on every host, after the registry is up.
    Scope: per host. Pure: returns files, the engine writes them (content-addressed).
    Returns: a list of FileSpec to write (containerd ``certs.d/<registry>/hosts.toml``, k3s
    ``registries.yaml``, …), ``[]`` when the runtime needs none on that host — never None, which reads as
    "nobody answered"; firstresult — the runtime answers.
    """


@hookspec
def sealkit_sync_images(ctx: ClusterContext, registry: RegistryInfo) -> None:
    """Copy the container images packed in the cluster image into the embedded registry, by digest.

    When: in the ``registry`` phase, after the registry service is running.
    Scope: per cluster.
    Returns: nothing; blobs the registry already has are skipped.
    """


# --------------------------------------------------------------------------------------------- certs
@hookspec(firstresult=True)
def sealkit_cert_specs(ctx: ClusterContext, host: HostRef) -> Layout:
    """Say which CAs, certificates, kubeconfigs and key pairs the runtime needs on a host, and where.

    When: in the ``certs`` phase and on ``cert renew`` / ``cert --alt-names``.
    Scope: per host. Pure: no I/O.
    Returns: a Layout (``Layout()`` when the runtime places no certificate on that host — never None, which
    reads as "nobody answered"); the PKI signs it with the cluster's long-lived CAs; firstresult — the
    runtime answers.
    """


@hookspec(firstresult=True)
def sealkit_install_certs(ctx: ClusterContext, host: HostRef, files: list[FileSpec]) -> bool:
    """Put the rendered certificate files on a host.

    When: in the ``certs`` phase, after the PKI rendered the host's Layout.
    Scope: per host, concurrently.
    Returns: True when handled; firstresult — the built-in PKI plugin writes the files (content-addressed).
    """


@hookspec
def sealkit_update_cert_config(ctx: ClusterContext, host: HostRef) -> bool:
    """Rewrite the runtime configuration from which the runtime mints its own serving certificates.

    Why: some runtimes sign the apiserver's serving certificate themselves at start (k3s ``tls-san``, k0s
    ``spec.api.sans``); new SANs reach them only through their configuration and a restart.
    When: on ``cert renew`` and ``cert --alt-names``, after the certificate files are written, before any
    restart.
    Scope: per host; a host where the runtime is not installed yet is left alone.
    Returns: True when a file changed, which restarts the host through ``sealkit_restart_after_certs``;
    runtimes whose certificates sealkit signs in full need not implement it.
    """


@hookspec(firstresult=True)
def sealkit_renew_minted_certs(ctx: ClusterContext, host: HostRef) -> bool | None:
    """Make the runtime sign anew the leaves it mints itself on a host (``Layout.minted``), and serve them.

    Why: ``cert renew`` re-signs what sealkit signed; leaves a runtime mints (k3s, k0s) are renewed only
    by that runtime, typically by removing them while it is stopped and starting it again.
    When: on ``cert renew``, after sealkit's own files are written; masters first, one at a time.
    Scope: per host whose layout lists minted leaves.
    Returns: True when the leaves were renewed and the runtime restarted (``sealkit_restart_after_certs``
    is then not called for that host); firstresult — the runtime answers.
    """


@hookspec
def sealkit_restart_after_certs(ctx: ClusterContext, host: HostRef) -> None:
    """Restart what must pick up renewed certificates on a host.

    When: after ``cert renew`` or ``cert --alt-names`` wrote new files; masters one at a time.
    Scope: per host.
    Returns: nothing.
    """


# ---------------------------------------------------------------------------------------------- apps
# The app installer hooks (sealkit_app_installers, sealkit_check_app, sealkit_install_app,
# sealkit_remove_app) live in sealkit.apps.hookspecs, added to every manager by sealkit.plugins.


# ----------------------------------------------------------------------------------------- lifecycle
@hookspec
def sealkit_pre_phase(ctx: ClusterContext, phase: str, hosts: list[HostRef]) -> None:
    """Observe or extend a phase before it starts (add-ons: extra files, notifications).

    When: before every engine phase (``preflight``, ``distribute``, ``certs``, ``registry``, ``init``, …).
    Scope: per cluster.
    Returns: nothing; raising aborts the run before the phase changes anything.
    """


@hookspec
def sealkit_post_phase(ctx: ClusterContext, phase: str, hosts: list[HostRef]) -> None:
    """Observe a phase after it finished on every host.

    When: after every engine phase that succeeded.
    Scope: per cluster.
    Returns: nothing.
    """


@hookspec
def sealkit_host_checks(ctx: ClusterContext) -> list[str]:
    """Contribute pytest-testinfra check modules for ``sealkit check``.

    When: ``sealkit check``.
    Scope: per cluster.
    Returns: paths of test modules; their tests receive the ``host`` (testinfra), ``sealkit_host`` and
    ``sealkit_ctx`` fixtures.
    """
