"""The cluster operations behind the CLI verbs: plan (desired vs applied), then execute in phases.

Every operation validates all input before contacting a host, holds the cluster's state lock, journals each
step, and records host-level milestones in the applied state as they happen, so a re-run after any failure
resumes from there and converges.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from sealkit.cluster import SSH, Cluster, Host, cluster_from_flags, load_clusterfile, validate
from sealkit.context import ClusterContext, HostRef
from sealkit.engine import certs as certs_phase
from sealkit.engine import distribute, dryrun, images, scripts, verify, versions
from sealkit.engine.applied import Applied, AppliedHost
from sealkit.engine.runner import CLUSTER, PARALLEL, SERIAL, Phase, Plan, Step, execute, for_each_host
from sealkit.engine.session import Options, gather_facts, open_context, select_runtime
from sealkit.errors import (
    CheckFailed,
    ConnectError,
    HostKeyChanged,
    PluginError,
    SealkitError,
    StepFailed,
    UsageError,
)
from sealkit.registry.service import REMOVING_LABEL
from sealkit.state import ClusterState, unknown_cluster

log = logging.getLogger("sealkit.engine")


# --------------------------------------------------------------------------------------------- entry
def run(
    options: Options,
    *,
    images: list[str],
    masters: str,
    nodes: str,
    user: str | None,
    password: str | None,
    key: str | None,
    key_passphrase: str | None,
    port: int | None,
    env: list[str],
    save_secrets: bool = False,
) -> dict[str, Any]:
    """``sealkit run IMAGE…``: cluster images converge the cluster, then app images install on it, in order.

    ``run APP…`` on an existing cluster touches only the apps; ``run ROOTFS APP…`` does both in one go. In a
    run with app images ``-e`` belongs to the apps (never to the cluster env); the apps' install takes the
    cluster lock itself, after the cluster's converge released it.
    """
    from sealkit.apps import ops as app_ops

    cluster_images, app_images = app_ops.split_images(images, pull=options.pull)
    report: dict[str, Any] = {}
    # the cluster converges unless the run names only apps for a cluster that exists (a bare re-run
    # converges the saved cluster)
    if cluster_images or masters or nodes or not app_images or not ClusterState(options.cluster).exists():
        report = _run_cluster(
            options,
            images=cluster_images,
            masters=masters,
            nodes=nodes,
            user=user,
            password=password,
            key=key,
            key_passphrase=key_passphrase,
            port=port,
            env=[] if app_images else env,
            save_secrets=save_secrets,
        )
    if app_images:
        apps = app_ops.install_apps(options, app_images, env=env)
        if options.dry_run:
            report.setdefault("phases", []).extend(apps["phases"])
        else:
            report["apps"] = apps["apps"]
    return report


def _run_cluster(
    options: Options,
    *,
    images: list[str],
    masters: str,
    nodes: str,
    user: str | None,
    password: str | None,
    key: str | None,
    key_passphrase: str | None,
    port: int | None,
    env: list[str],
    save_secrets: bool = False,
) -> dict[str, Any]:
    """Build the desired cluster from flags (or the saved Clusterfile) and converge.

    The saved Clusterfile is read under the cluster lock, like in every command that changes a cluster.
    Passwords are saved only with ``save_secrets`` (see :func:`_without_secrets`).
    """
    state = ClusterState(options.cluster)
    flags = (
        cluster_from_flags(
            masters=masters,
            nodes=nodes,
            user=user,
            password=password,
            key=key,
            key_passphrase=key_passphrase,
            port=port,
            env=env,
            images=images,
            name=options.cluster,
            runtime=options.runtime,
        )
        if masters or nodes
        else None
    )
    if flags is None and not state.exists():
        raise _no_hosts(options)
    with state.lock():
        if flags is not None:
            desired = _merge_into_saved(state, flags) if state.exists() else flags
            desired = _with_env_password(desired, password)
        elif state.exists():
            desired = _load_saved(state)
            desired = replace(desired, images=_merge_images(desired.images, images))
        else:  # removed by a reset that held the lock meanwhile
            raise _no_hosts(options)
        return _converge_locked(options, desired, state, save_secrets=save_secrets)


def _no_hosts(options: Options) -> UsageError:
    return UsageError(
        "no hosts given and no cluster named " + repr(options.cluster) + " exists",
        hint="pass --masters IP[,IP…] (and --nodes …), or --cluster NAME",
    )


def apply(options: Options, *, clusterfile: str, save_secrets: bool = False) -> dict[str, Any]:
    """``sealkit apply -f``: make the cluster match the file (install, scale up/down, upgrade)."""
    desired = _with_env_password(load_clusterfile(clusterfile))
    name = options.cluster if options.cluster != "default" else (desired.name or "default")
    state = ClusterState(name)
    options = replace(options, cluster=name)
    with state.lock():
        return _converge_locked(options, desired, state, save_secrets=save_secrets)


def add(
    options: Options,
    *,
    masters: str,
    nodes: str,
    user: str | None,
    password: str | None,
    key: str | None,
    key_passphrase: str | None,
    port: int | None,
    save_secrets: bool = False,
) -> dict[str, Any]:
    """``sealkit add``: append hosts to the saved Clusterfile and converge (only new hosts change).

    A host that a failed ``add`` left pending (saved, never joined) may be given again: this finishes it.
    """
    state = _existing_state(options)
    with state.lock():
        return _add_locked(
            options, state, masters, nodes, user, password, key, key_passphrase, port, save_secrets
        )


def _add_locked(
    options: Options,
    state: ClusterState,
    masters: str,
    nodes: str,
    user: str | None,
    password: str | None,
    key: str | None,
    key_passphrase: str | None,
    port: int | None,
    save_secrets: bool = False,
) -> dict[str, Any]:
    saved = _with_env_password(_saved(options, state), password)
    extra = cluster_from_flags(
        masters=masters,
        nodes=nodes,
        user=user,
        password=password,
        key=key,
        key_passphrase=key_passphrase,
        port=port,
        env=[],
        images=list(saved.images),
        name=saved.name,
        runtime=saved.runtime,
    )
    if user is None and password is None and key is None and key_passphrase is None:
        # no login flags: new hosts log in like the cluster's existing ones (spec.ssh)
        extra = replace(
            extra,
            hosts=[
                replace(h, ssh=replace(saved.ssh, port=h.port if port is None else port)) for h in extra.hosts
            ],
        )
    applied = Applied.load(state.dir)
    dup = [h.ip for h in extra.hosts if applied.joined(h.ip)]
    if dup:
        raise UsageError(
            f"already in cluster {options.cluster}: {', '.join(dup)}",
            hint="sealkit status lists the cluster's hosts",
        )
    # a host a failed add left pending is finished by the same command: its new spec replaces the saved one
    retried = {h.ip for h in extra.hosts}
    desired = replace(saved, hosts=[*[h for h in saved.hosts if h.ip not in retried], *extra.hosts])
    return _converge_locked(options, desired, state, save_secrets=save_secrets)


def delete(options: Options, *, masters: str, nodes: str) -> dict[str, Any]:
    """``sealkit delete``: drain and reset the given hosts; the rest of the cluster is left alone."""
    state = _existing_state(options)
    gone = set(_ips(masters)) | set(_ips(nodes))
    with state.lock():
        return _delete_locked(options, state, gone)


def _delete_locked(options: Options, state: ClusterState, gone: set[str]) -> dict[str, Any]:
    saved = _saved(options, state)
    unknown = sorted(gone - {h.ip for h in saved.hosts})
    if unknown:
        raise UsageError(
            f"not in cluster {options.cluster}: {', '.join(unknown)}",
            hint="sealkit status lists the cluster's hosts",
        )
    desired = replace(saved, hosts=[h for h in saved.hosts if h.ip not in gone])
    if not desired.masters:
        raise UsageError("that would delete every master", hint="use sealkit reset to remove the cluster")
    return _converge_locked(options, desired, state)


def reset(options: Options, *, forget: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """``sealkit reset``: every plugin removes what it put on every host; the controller forgets it.

    With ``--force`` unreachable hosts do not stop the others' reset, but the cluster's state is kept for
    them (a later ``reset`` cleans them) and the reset fails naming them — unless they are in ``forget``,
    which drops them from the state without cleaning (the operator cleans or reinstalls them).
    """
    state = _existing_state(options)
    with state.lock():
        saved = _saved(options, state)
        unknown = sorted(set(forget) - {h.ip for h in saved.hosts})
        if unknown:
            raise UsageError(
                f"not in cluster {options.cluster}: {', '.join(unknown)}",
                hint="--forget names hosts of the cluster (sealkit status lists them)",
            )
        runtime = select_runtime(options, saved, {})
        with open_context(options, saved, state, runtime=runtime) as ctx:
            return _reset_locked(options, state, saved, ctx, forget=set(forget))


def _reset_locked(
    options: Options,
    state: ClusterState,
    saved: Cluster,
    ctx: ClusterContext,
    *,
    forget: set[str] | None = None,
) -> dict[str, Any]:
    forget = forget or set()
    reachable = _connect(ctx, [h for h in saved.hosts if h.ip not in forget], tolerate=options.force)
    plan = Plan("reset")
    plan.add(
        "reset",
        PARALLEL,
        [Step("reset", h.ip, partial(_reset_host, ctx, h)) for h in reachable],
    )
    if options.dry_run:
        return plan.as_dict()
    _execute(ctx, state, plan)
    done = {h.ip for h in reachable}
    left = sorted({h.ip for h in saved.hosts} - done - forget, key=_ip_key)
    result = {
        "reset": sorted(done, key=_ip_key),
        "unreachable": left,
        "forgotten": sorted(forget, key=_ip_key),
    }
    if not left:
        state.remove()
        return result
    # the unreachable hosts still carry sealkit's files: keep the state a later `reset` needs to clean them
    applied = Applied.load(state.dir)
    for ip in done | forget:
        applied.hosts.pop(ip, None)
    applied.save(state.dir)
    raise ConnectError(
        f"reset {len(done)} host(s); {len(left)} unreachable, still holding sealkit's files: "
        + ", ".join(left),
        step="reset",
        hint="the cluster's state is kept for them: run `sealkit reset --force` again once they are up, or "
        f"`sealkit reset --force --forget {','.join(left)}` to drop them without cleaning",
    )


def upgrade(options: Options, *, image: str) -> dict[str, Any]:
    """``sealkit upgrade IMAGE``: one minor at a time; masters one by one, then workers in batches.

    The lock is taken before the saved Clusterfile is read and held while the image is pulled: an ``add``
    that finished meanwhile can never be undone (its hosts drained and reset) by a stale view.
    """
    state = _existing_state(options)
    with state.lock():
        saved = _saved(options, state)
        desired = replace(saved, images=[image, *[i for i in saved.images[1:] if i != image]])
        return _converge_locked(options, desired, state)


def _saved(options: Options, state: ClusterState) -> Cluster:
    """The saved Clusterfile, read under the lock (a reset may have removed it since the first check)."""
    if not state.exists():
        raise UsageError(
            f"no cluster named {options.cluster!r}",
            hint="sealkit run/apply creates one; --cluster NAME selects another",
        )
    return _load_saved(state)


#: the SSH password the operator exports; it wins over anything saved (the CLI's -p reads it too)
PASSWORD_ENV = "SEALKIT_SSH_PASSWORD"


def _load_saved(state: ClusterState) -> Cluster:
    """The saved Clusterfile with the operator's ``$SEALKIT_SSH_PASSWORD`` applied over it."""
    return _with_env_password(state.load_clusterfile())


def _with_env_password(cluster: Cluster, password: str | None = None) -> Cluster:
    """``password`` (given on this command line) or else ``$SEALKIT_SSH_PASSWORD`` (when set) replaces every
    saved SSH password; sudo passwords derived from it follow (``sudo_passwd=None`` re-derives them)."""
    password = password or os.environ.get(PASSWORD_ENV)
    if not password:
        return cluster

    def over(ssh: SSH) -> SSH:
        derived = ssh.sudo_passwd is None or ssh.sudo_passwd == ssh.passwd
        return replace(ssh, passwd=password, sudo_passwd=None if derived else ssh.sudo_passwd)

    return replace(cluster, ssh=over(cluster.ssh), hosts=[replace(h, ssh=over(h.ssh)) for h in cluster.hosts])


def _without_secrets(cluster: Cluster) -> Cluster:
    """What is saved as the cluster's Clusterfile: without SSH, key and sudo passwords, which stay with the
    operator (``$SEALKIT_SSH_PASSWORD``, flags) unless they ask to save them (``save_secrets``)."""

    def strip(ssh: SSH) -> SSH:
        return replace(ssh, passwd=None, pk_passwd=None, sudo_passwd=None)

    return replace(
        cluster, ssh=strip(cluster.ssh), hosts=[replace(h, ssh=strip(h.ssh)) for h in cluster.hosts]
    )


def _save(state: ClusterState, cluster: Cluster, save_secrets: bool) -> None:
    state.save_clusterfile(cluster if save_secrets else _without_secrets(cluster))


# ---------------------------------------------------------------------------------------- converge
def converge(
    options: Options, desired: Cluster, state: ClusterState, *, save_secrets: bool = False
) -> dict[str, Any]:
    """Plan desired vs applied, then execute: delete, install/join, upgrade, in that order.

    Takes the cluster lock; callers that read saved state to build ``desired`` hold it already and call
    :func:`_converge_locked` (a second ``flock`` on the lock file would refuse the process's own run).
    """
    with state.lock():
        return _converge_locked(options, desired, state, save_secrets=save_secrets)


def _converge_locked(
    options: Options,
    desired: Cluster,
    state: ClusterState,
    *,
    save_secrets: bool = False,
) -> dict[str, Any]:
    """Plan, connect, verify, execute, record.

    Unless the run removes hosts or upgrades (those touch exactly the hosts they are about), every joined
    host the plan does not otherwise touch is verified in one round trip and its drift repaired
    (:mod:`sealkit.engine.verify`): a re-run converges on the hosts' real state, not on the journal.
    """
    for warning in validate(desired):
        log.warning("warning: %s", warning)
    if not desired.images:
        raise UsageError("no cluster image given", hint="sealkit run IMAGE --masters …")
    image = images.resolve(desired.images[0], pull=options.pull)
    _refuse_extra_images(desired.images[0], desired.images[1:])
    # the image's templates and scripts are checked before any host is contacted
    scripts.render_all(image.rootfs, {**image.env, **desired.env})
    for kind in scripts.SCRIPT_LABELS:
        scripts.script_for(image.labels, kind, image.rootfs)
    runtime = select_runtime(options, desired, image.labels)
    desired = replace(desired, runtime=runtime)
    mismatch = dryrun.runtime_label_warning(runtime, image.labels)
    if mismatch:
        log.warning("warning: %s", mismatch)
    applied = Applied.load(state.dir)
    if applied.runtime and applied.runtime != runtime:
        raise UsageError(
            f"cluster {options.cluster} runs runtime {applied.runtime!r}, not {runtime!r}",
            hint="sealkit reset first, or use --cluster for a second cluster",
        )
    upgrade_to = versions.plan_upgrade(applied.version, image.version) if applied.initialized else None
    saved = state.load_clusterfile() if state.exists() else None
    if upgrade_to is None:  # an upgrade renders every host's templates anew
        _warn_env_change(saved, desired, applied)
    # hosts that joined, and hosts a failed add left pending (their reset undoes what that add began)
    removed = [h for h in (saved.hosts if saved else []) if h.ip not in {d.ip for d in desired.hosts}]
    verify_joined = not removed and upgrade_to is None
    everyone = desired.hosts + removed
    # the run's view marks the hosts it removes: they stay in ctx.cluster to be drained and reset, but
    # no longer count as registry hosts or LB backends
    marked = [replace(h, labels={**h.labels, REMOVING_LABEL: "true"}) for h in removed]
    with open_context(
        options,
        # the image's ENV are defaults for hooks, templates and scripts; they are not saved in the
        # Clusterfile, so the next image's defaults apply after an upgrade
        replace(desired, hosts=[*desired.hosts, *marked], env={**image.env, **desired.env}),
        state,
        runtime=runtime,
        image_ref=image.ref,
        image_labels=image.labels,
        local_rootfs=image.rootfs,
    ) as ctx:
        plan = build_plan(ctx, desired, applied, removed, image, upgrade_to)
        if options.dry_run:
            out = {**plan.as_dict(), "runtime_plan": dryrun.describe(ctx, plan)}
            if verify_joined:
                out["verify"] = [h.ip for h in _verify_targets(desired, applied, plan, removed)]
            return out
        # saved before any host is contacted: whatever fails from here on, `status` shows the hosts (the
        # ones not joined as pending) and `reset` can clean them
        _save(state, replace(desired, hosts=everyone), save_secrets)
        _connect_for_plan(ctx, plan, everyone, applied, removed, force=options.force)
        behind = sorted(upgrade_hosts(plan) - set(ctx.hosts), key=_ip_key)
        if behind:  # down while the cluster upgrades: they keep their version; the next run upgrades them
            log.warning(
                "warning: not upgrading %s (unreachable): it keeps its version until a run reaches it",
                ", ".join(behind),
            )
            plan = build_plan(ctx, desired, applied, removed, image, upgrade_to, skip=frozenset(behind))
        _preflight(
            ctx,
            [ctx.hosts[h.ip] for h in desired.hosts if h.ip in ctx.hosts and not applied.joined(h.ip)],
        )
        if not applied.runtime:
            applied.runtime = runtime
            applied.image = image.ref
            applied.version = image.version
            applied.save(state.dir)
        targets = _verify_targets(desired, applied, plan, removed) if verify_joined else []
        checked = _verify_joined(ctx, plan, targets, applied)
        run_id = _execute(ctx, state, plan, applied=applied)
        applied = Applied.load(state.dir)
        for ip, verdict in checked.verdicts.items():
            if ip in applied.hosts:
                applied.hosts[ip].files = verdict.record
        for h in removed:
            applied.hosts.pop(h.ip, None)
        applied.image, applied.version = image.ref, image.version
        applied.save(state.dir)
        _save(state, desired, save_secrets)
        return {
            "cluster": options.cluster,
            "runtime": runtime,
            "image": image.ref,
            "version": image.version,
            "run": run_id,
            "masters": [h.ip for h in desired.masters],
            "nodes": [h.ip for h in desired.nodes],
            "changed_hosts": sorted(plan.touched_hosts(), key=_ip_key),
            "not_upgraded": behind,
            "bytes_sent": distribute.bytes_sent(ctx),
            **checked.report(),
        }


def _warn_env_change(saved: Cluster | None, desired: Cluster, applied: Applied) -> None:
    """Templates and init scripts run when a host is installed (and on upgrade): say so when the env
    changes on a cluster whose hosts are already installed, rather than let it look applied."""
    if saved is None or saved.env == desired.env:
        return
    installed = sorted((ip for ip in applied.hosts if applied.joined(ip)), key=_ip_key)
    if not installed:
        return
    changed = sorted(k for k in {*saved.env, *desired.env} if saved.env.get(k) != desired.env.get(k))
    log.warning(
        "warning: env %s changed: hosts installed before (%s) keep their rendered templates until the next "
        "upgrade; new hosts get the new values",
        ", ".join(changed),
        ", ".join(installed),
    )


@dataclass
class _Verification:
    """What verifying the joined hosts found: per host its verdict (drift, digests to record), what was
    repaired, and the hosts that could not be verified with why."""

    verdicts: dict[str, verify.HostVerdict] = field(default_factory=dict)
    repaired: list[dict[str, str]] = field(default_factory=list)
    failed: dict[str, BaseException] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """The ``-o json`` keys: ``repaired`` ({host, what}), ``drift`` left for the operator ({host,
        what, fix}), ``not_verified`` ({host, error})."""
        left = [d for v in self.verdicts.values() for d in v.drift if not d.repairable]
        return {
            "verified": sorted(self.verdicts, key=_ip_key),
            "repaired": list(self.repaired),
            "drift": [{"host": d.host, "what": d.describe(), "fix": d.fix} for d in left],
            "not_verified": [
                {"host": ip, "error": getattr(e, "message", None) or str(e)}
                for ip, e in sorted(self.failed.items(), key=lambda item: _ip_key(item[0]))
            ],
        }


def _verify_targets(desired: Cluster, applied: Applied, plan: Plan, removed: list[Host]) -> list[Host]:
    """Joined hosts that stay and that the plan does not otherwise touch (those get their own steps)."""
    skip = plan.touched_hosts() | {h.ip for h in removed}
    return [h for h in desired.hosts if applied.joined(h.ip) and h.ip not in skip]


def _verify_joined(ctx: ClusterContext, plan: Plan, targets: list[Host], applied: Applied) -> _Verification:
    """Verify ``targets`` in one round trip each; a ``repair`` phase goes first in the plan for hosts with
    repairable drift. Hosts not connected yet are asked directly (no facts round trip): the hostname
    recorded at join stands in for the facts the hooks read. A host that cannot be verified (down, or an
    answer that does not parse) is named and left alone: it does not stop the others."""
    from sealkit.registry.service import registry_info

    out = _Verification()
    if not targets:
        return out
    fresh = {
        h.ip: HostRef(spec=h, conn=ctx.fleet.conn(h.ip), hostname=applied.hosts[h.ip].hostname)
        for h in targets
        if h.ip not in ctx.hosts
    }
    ctx.hosts.update(fresh)
    registry, backends = registry_info(ctx), lb_backends(ctx)
    expected = {
        h.ip: verify.expectations(ctx, ctx.hosts[h.ip], registry=registry, backends=backends) for h in targets
    }
    records = {ip: applied.hosts[ip].files for ip in expected}
    out.verdicts, out.failed = verify.verify_hosts(ctx, expected, records)
    for ip, err in out.failed.items():
        fresh_ref = fresh.get(ip)
        if fresh_ref is not None:
            ctx.hosts.pop(ip, None)
        log.warning("warning: %s not verified: %s", ip, getattr(err, "message", None) or err)
    for verdict in out.verdicts.values():
        for d in verdict.drift:
            if not d.repairable:
                log.warning("warning: %s: %s, not repaired: %s", d.host, d.describe(), d.fix)

    def heard(ip: str, what: str) -> None:
        log.info("%s: repaired: %s", ip, what)
        out.repaired.append({"host": ip, "what": what})

    def fix(verdict: verify.HostVerdict) -> None:
        verdict.record = verify.repair(ctx.hosts[verdict.ip], verdict, heard)

    steps = [
        Step("repair", ip, partial(fix, v))
        for ip, v in out.verdicts.items()
        if any(d.repairable for d in v.drift)
    ]
    if steps:
        plan.phases.insert(0, Phase("repair", PARALLEL, steps))
    return out


def build_plan(
    ctx: ClusterContext,
    desired: Cluster,
    applied: Applied,
    removed: list,
    image: images.ResolvedImage,
    upgrade_to: str | None,
    skip: frozenset[str] = frozenset(),
) -> Plan:
    """Desired vs applied → phases. Pure with respect to hosts: only closures are built here.

    The upgrade phases leave out the hosts in ``skip`` (down while the cluster upgrades: they keep their
    version) and take up joined hosts still behind the image (``lagging_hosts``), so the run after such a
    host is back upgrades it.
    """
    plan = Plan("converge")
    new = [h for h in desired.hosts if not applied.joined(h.ip)]
    new_masters = [h for h in new if "master" in h.roles]
    new_nodes = [h for h in new if "master" not in h.roles]
    removed_masters = [h for h in removed if "master" in h.roles]
    first = desired.masters[0]
    needs_init = not applied.initialized
    if needs_init and first not in new_masters:
        new_masters.insert(0, first)
    masters_changed = bool(new_masters or removed_masters) and not needs_init
    old_nodes = [h for h in desired.nodes if applied.joined(h.ip)]

    # scale down first: drain (hosts that joined) against a master that stays, then reset the removed hosts
    plan.add(
        "drain",
        SERIAL,
        [
            Step("drain", h.ip, partial(_drain, ctx, h.ip, applied.hosts[h.ip].hostname))
            for h in removed
            if applied.joined(h.ip)
        ],
    )
    plan.add(
        "reset",
        PARALLEL,
        [Step("reset", h.ip, partial(_reset_removed, ctx, h.ip)) for h in removed],
    )

    fresh = sorted({h.ip for h in new} | ({first.ip} if needs_init else set()), key=_ip_key)
    if fresh:
        plan.add("distribute", CLUSTER, [Step("rootfs", None, partial(_push_rootfs, ctx, fresh, image))])
    plan.add(
        "image-check",
        PARALLEL,
        [Step("image-check", ip, partial(_image_check, ctx, ip, image)) for ip in fresh],
    )
    plan.add(
        "certs",
        PARALLEL,
        [Step("certs", ip, partial(certs_phase.install_host_certs, ctx, ip)) for ip in fresh],
    )
    plan.add("prepare", PARALLEL, [Step("prepare", ip, partial(_prepare, ctx, ip)) for ip in fresh])
    behind = {} if upgrade_to else lagging_hosts(desired, applied, image.version)
    if fresh or upgrade_to or behind:  # new hosts (maybe a new registry) or a new image's container images
        plan.add("images", CLUSTER, [Step("sync-images", None, partial(_sync_images, ctx))])
    if fresh:
        plan.add(
            "mirrors",
            PARALLEL,
            [Step("mirror-config", ip, partial(_mirror_config, ctx, ip)) for ip in fresh],
        )
    if not needs_init and registry_set_changed(ctx, fresh, removed):
        old = [h.ip for h in desired.hosts if applied.joined(h.ip) and h.ip not in fresh]
        plan.add(
            REGISTRY_CONFIG_PHASE,
            CLUSTER,
            [Step("registry-config", None, partial(_refresh_registry_config, ctx, old))],
        )
    plan.add(
        "image-init",
        PARALLEL,
        [Step("image-init", ip, partial(_image_init, ctx, ip, image)) for ip in fresh],
    )
    if needs_init:
        plan.add("init", SERIAL, [Step("init", first.ip, partial(_init, ctx, first.ip))])
    plan.add(
        "join-masters",
        SERIAL,
        [
            Step("join-master", h.ip, partial(_join_master, ctx, h.ip))
            for h in new_masters
            if not (needs_init and h.ip == first.ip)
        ],
    )
    lb_targets = [*(old_nodes if masters_changed else []), *new_nodes]
    plan.add(
        "lb",
        PARALLEL,
        [Step("configure-lb", h.ip, partial(_configure_lb, ctx, h.ip)) for h in lb_targets],
    )
    plan.add(
        "join-nodes",
        PARALLEL,
        [Step("join-node", h.ip, partial(_join_node, ctx, h.ip)) for h in new_nodes],
    )
    if upgrade_to or behind:
        to_version = upgrade_to or image.version
        if upgrade_to:
            since = {h.ip: applied.version for h in desired.hosts if applied.joined(h.ip)}
        else:
            since = behind
        old = [h for h in desired.hosts if h.ip in since and h.ip not in skip]
        plan.add(
            "distribute-upgrade",
            CLUSTER,
            [Step("rootfs", None, partial(_push_rootfs, ctx, [h.ip for h in old], image))],
        )
        plan.add(
            "render-upgrade",
            PARALLEL,
            [Step("render", h.ip, partial(_render, ctx, h.ip, image)) for h in old],
        )
        plan.add(
            "upgrade-masters",
            SERIAL,
            [
                Step("upgrade", h.ip, partial(_upgrade, ctx, h.ip, since[h.ip], to_version))
                for h in old
                if "master" in h.roles
            ],
        )
        plan.add(
            "upgrade-nodes",
            PARALLEL,
            [
                Step("upgrade", h.ip, partial(_upgrade, ctx, h.ip, since[h.ip], to_version))
                for h in old
                if "master" not in h.roles
            ],
        )
    return plan


#: phases whose hosts may be down: such a host is left out of the upgrade and keeps its version
UPGRADE_PHASES = ("render-upgrade", "upgrade-masters", "upgrade-nodes")


def lagging_hosts(desired: Cluster, applied: Applied, version: str) -> dict[str, str]:
    """Joined hosts whose recorded version is behind ``version`` (down during an upgrade): ``{ip: their
    version}``. A host more than one minor behind is a UsageError naming the step to take."""
    out: dict[str, str] = {}
    if not version:
        return out
    for h in desired.hosts:
        mine = applied.hosts[h.ip].version if applied.joined(h.ip) else ""
        if mine and versions.plan_upgrade(mine, version):
            out[h.ip] = mine
    return out


def upgrade_hosts(plan: Plan) -> set[str]:
    """Hosts the plan touches only to upgrade them."""
    upgrading = {s.host for p in plan.phases if p.name in UPGRADE_PHASES for s in p.steps if s.host}
    other = {s.host for p in plan.phases if p.name not in UPGRADE_PHASES for s in p.steps if s.host}
    return upgrading - other


# ------------------------------------------------------------------------------------------- steps
def _first_result(ctx: ClusterContext, hook: str, **kwargs: Any) -> Any:
    result = getattr(ctx.pm.hook, hook)(ctx=ctx, **kwargs)
    if result is None:
        raise PluginError(
            f"runtime {ctx.runtime.name!r}: no plugin implements {hook}",
            hint="the runtime plugin is incomplete; report it to its authors",
        )
    return result


def _push_rootfs(ctx: ClusterContext, ips: list[str], image: images.ResolvedImage) -> None:
    """The rootfs to every host in ``ips`` at once, so hosts relay it to each other (the controller's
    uplink carries it about once) instead of the controller sending one copy per host. The probe
    leaves sealkit's install marker on each host first."""
    distribute.push_rootfs_many(ctx, {ip: host_rootfs(ctx, ip, image) for ip in ips})
    for ip in ips:
        host = ctx.hosts[ip]
        if host.facts.get("relay_error"):
            log.info("%s: relay fell back to a direct copy (%s)", ip, host.facts["relay_error"])


def host_arch(ctx: ClusterContext, ip: str) -> str:
    """The architecture whose rootfs ``ip`` gets: the Clusterfile's (validated) where given, else what the
    host reported — checked against the closed set again here, because it names a directory on the
    controller (``$SEALKIT_HOME/rootfs/<digest>-<arch>``) that distribution then sends to the host."""
    from sealkit.builtin.preflight import valid_arch

    host = ctx.hosts[ip]
    reported = valid_arch(host.arch, host=ip) if host.arch else ""
    declared = valid_arch(host.spec.arch, host=ip) if host.spec.arch else ""
    if declared and reported and declared != reported:
        raise StepFailed(
            f"the Clusterfile says arch {declared} but the host reports {reported}",
            host=ip,
            step="facts",
            hint="fix spec.hosts[].arch (or the address) in the Clusterfile",
        )
    arch = declared or reported
    if not arch:
        raise StepFailed(
            "the host's architecture is unknown", host=ip, step="facts", hint="set spec.hosts[].arch"
        )
    return arch


def host_rootfs(ctx: ClusterContext, ip: str, image: images.ResolvedImage) -> Path:
    """The controller's unpacked rootfs for the host's (validated) architecture."""
    return image.rootfs_for(host_arch(ctx, ip))


def _prepare(ctx: ClusterContext, ip: str) -> None:
    ctx.pm.hook.sealkit_prepare_host(ctx=ctx, host=ctx.hosts[ip])


#: the cluster-level phase that tells the hosts already in the cluster about a changed set of registries
REGISTRY_CONFIG_PHASE = "registry-config"


def registry_set_changed(ctx: ClusterContext, fresh: list[str], removed: list[Host]) -> bool:
    """Whether this run adds or removes a registry host (a master, by default)."""
    runs_it = {h.ip for h in ctx.cluster.registry_hosts}
    return bool(runs_it & ({*fresh} | {h.ip for h in removed}))


def _sync_images(ctx: ClusterContext) -> None:
    """The controller pushes through the registry's read-write instance with the push account; hosts only
    ever get the read-only instance and the pull account (``_mirror_config``).

    Every registry host that is up gets the images; one this run could not reach over SSH (a dead master)
    is left out and named: hosts pull from the others meanwhile, and the next run that reaches it syncs it.
    """
    from sealkit.registry.service import push_registry_info

    info = push_registry_info(ctx)
    up = tuple(ip for ip in info.hosts if ip in ctx.hosts)
    down = [ip for ip in info.hosts if ip not in up]
    if not up:
        raise ConnectError(
            f"no registry host is reachable ({', '.join(down)})",
            step="sync-images",
            hint="bring at least one master up (sealkit status says why each is unreachable), then re-run",
        )
    if down:
        log.warning(
            "warning: images not synced to the registry on %s (unreachable); hosts pull from %s meanwhile, "
            "the next run that reaches it syncs it",
            ", ".join(down),
            ", ".join(up),
        )
    ctx.pm.hook.sealkit_sync_images(ctx=ctx, registry=replace(info, hosts=up))


def _refresh_registry_config(ctx: ClusterContext, ips: list[str]) -> None:
    """The hosts already in the cluster learn the new set of registries: the /etc/hosts block of the stable
    name and their runtime's mirror config (content-addressed: unchanged files are not sent). Hosts that
    are down are named and left for the next change; a failure on a host that is up is an error."""
    from sealkit.registry import hosts as hostsfile
    from sealkit.registry.service import hosts_entries, registry_info

    info = registry_info(ctx)
    up = [ctx.hosts[ip] for ip in ips if ip in ctx.hosts]
    down = [ip for ip in ips if ip not in ctx.hosts]
    if down:
        log.warning("warning: registry list not updated on %s (unreachable)", ", ".join(down))

    def refresh(host: HostRef) -> None:
        hostsfile.ensure_hosts_entry(host, hosts_entries(info, host.ip))
        _mirror_config(ctx, host.ip)

    failed = {ip: r for ip, r in for_each_host(ctx, up, refresh).items() if isinstance(r, BaseException)}
    if failed:
        lines = "\n".join(f"  - {ip}: {err}" for ip, err in sorted(failed.items()))
        raise StepFailed(
            f"the registry list could not be updated on {len(failed)} host(s):\n{lines}",
            step="registry-config",
            hint="fix the hosts named above, then re-run the same command",
        )


def _mirror_config(ctx: ClusterContext, ip: str) -> None:
    from sealkit.registry.service import registry_info

    host = ctx.hosts[ip]
    files = ctx.pm.hook.sealkit_registry_mirror_config(ctx=ctx, host=host, registry=registry_info(ctx))
    for f in files or []:
        host.conn.put(f.content, f.path, mode=f.mode)


def _rendered_digests(ctx: ClusterContext, ip: str) -> dict[str, str]:
    """path → sha256 of what sealkit rendered on a host that just joined: a re-run compares the host's
    files with these (:mod:`sealkit.engine.verify`)."""
    from sealkit.registry.service import registry_info

    host = ctx.hosts[ip]
    return verify.recorded(
        verify.expectations(ctx, host, registry=registry_info(ctx), backends=lb_backends(ctx))
    )


def _mark_joined(ctx: ClusterContext, ip: str, files: dict[str, str] | None = None) -> None:
    """The host joined, with the digests of the files sealkit rendered there (``files``)."""
    host = ctx.hosts[ip]
    with ctx.state.mutex:
        applied = Applied.load(ctx.state.dir)
        applied.hosts[ip] = AppliedHost(
            roles=host.roles,
            hostname=host.hostname,
            joined=True,
            version=ctx.image_version,
            files=dict(files or {}),
        )
        if host.is_master:
            applied.initialized = True
        applied.save(ctx.state.dir)


def _init(ctx: ClusterContext, ip: str) -> None:
    _first_result(ctx, "sealkit_init_cluster", host=ctx.hosts[ip])
    _mark_joined(ctx, ip, _rendered_digests(ctx, ip))


def _join_master(ctx: ClusterContext, ip: str) -> None:
    _first_result(ctx, "sealkit_join_master", host=ctx.hosts[ip])
    _mark_joined(ctx, ip, _rendered_digests(ctx, ip))


def _join_node(ctx: ClusterContext, ip: str) -> None:
    _first_result(ctx, "sealkit_join_node", host=ctx.hosts[ip])
    _mark_joined(ctx, ip, _rendered_digests(ctx, ip))


def lb_backends(ctx: ClusterContext) -> list:
    from sealkit.context import Endpoint
    from sealkit.registry.service import is_removing

    return [
        Endpoint(h.ip, ctx.runtime.apiserver_port) for h in ctx.cluster.masters if not is_removing(ctx, h.ip)
    ]


def _configure_lb(ctx: ClusterContext, ip: str) -> None:
    _first_result(ctx, "sealkit_configure_lb", host=ctx.hosts[ip], backends=lb_backends(ctx))


@dataclass(frozen=True)
class _Down:
    """The connection of a host that ``delete --force`` removes while it is down: its drain runs on a
    master that stays and only names it; anything run on the host itself fails naming it."""

    address: str

    @property
    def target(self) -> _Down:
        return self

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectError(f"{self.address} is down", host=self.address, step="drain")

    put = get = run


def _drain(ctx: ClusterContext, ip: str, hostname: str = "") -> None:
    host = ctx.hosts.get(ip)
    if host is None:  # down, removed with --force: drained by its recorded node name from a staying master
        spec = next(h for h in ctx.cluster.hosts if h.ip == ip)
        host = HostRef(spec=spec, conn=_Down(ip), hostname=hostname)  # type: ignore[arg-type]
    host.facts["removed"] = True
    _first_result(ctx, "sealkit_drain_host", host=host)


def _reset_removed(ctx: ClusterContext, ip: str) -> None:
    if ip in ctx.hosts:
        _reset_host(ctx, ctx.hosts[ip].spec)


CLEAN_SCRIPT_RECORD = ".sealkit-clean-script"


def _render(ctx: ClusterContext, ip: str, image: images.ResolvedImage) -> None:
    host = ctx.hosts[ip]
    scripts.push_rendered(ctx, host, scripts.render_all(host_rootfs(ctx, ip, image), ctx.env))


def _image_check(ctx: ClusterContext, ip: str, image: images.ResolvedImage) -> None:
    host = ctx.hosts[ip]
    check = scripts.script_for(image.labels, "check", host_rootfs(ctx, ip, image))
    if check:
        scripts.run_script(ctx, host, "check", check)


def _image_init(ctx: ClusterContext, ip: str, image: images.ResolvedImage) -> None:
    """Templates rendered, the image's init script run; its clean script recorded on the host so that
    a reset runs it even when the controller no longer has the image."""
    host = ctx.hosts[ip]
    rootfs = host_rootfs(ctx, ip, image)
    scripts.push_rendered(ctx, host, scripts.render_all(rootfs, ctx.env))
    clean = scripts.script_for(image.labels, "clean", rootfs) or ""
    host.conn.put(clean.encode(), f"{ctx.remote_rootfs}/{CLEAN_SCRIPT_RECORD}", mode=0o644)
    init = scripts.script_for(image.labels, "init", rootfs)
    if init:
        scripts.run_script(ctx, host, "init", init)


def _reset_host(ctx: ClusterContext, host_spec: Any) -> None:
    host = ctx.hosts[host_spec.ip]
    record = shlex.quote(f"{ctx.remote_rootfs}/{CLEAN_SCRIPT_RECORD}")
    clean = host.conn.run(f"if [ -f {record} ]; then cat {record}; fi", timeout=30).stdout.strip()
    if clean:
        scripts.run_script(ctx, host, "clean", clean)
    ctx.pm.hook.sealkit_reset_host(ctx=ctx, host=host)
    distribute.remove_rootfs(ctx, host)


def _upgrade(ctx: ClusterContext, ip: str, from_version: str, to_version: str) -> None:
    _first_result(
        ctx,
        "sealkit_upgrade_host",
        host=ctx.hosts[ip],
        from_version=from_version,
        to_version=to_version,
    )
    with ctx.state.mutex:
        applied = Applied.load(ctx.state.dir)
        if ip in applied.hosts:
            applied.hosts[ip].version = to_version
            applied.save(ctx.state.dir)


# ----------------------------------------------------------------------------------------- helpers
def _execute(ctx: ClusterContext, state: ClusterState, plan: Plan, applied: Applied | None = None) -> str:
    run_id = uuid.uuid4().hex[:12]
    execute(ctx, plan, state.journal, run_id)
    return run_id


def _connect_for_plan(
    ctx: ClusterContext,
    plan: Plan,
    everyone: list[Host],
    applied: Applied,
    removed: list[Host],
    *,
    force: bool,
) -> None:
    """Connect what the plan needs. Hosts it touches must answer (unless being removed, or ``--force``);
    the cluster's other masters and registry hosts are asked too but may be down — a live master stands
    in for a dead first one, and every registry that answers gets the images — as are the joined hosts
    when the set of registries changes."""
    touched = plan.touched_hosts()
    gone = {h.ip for h in removed}
    _connect(
        ctx, [h for h in everyone if h.ip in touched], tolerate=force, optional=gone | upgrade_hosts(plan)
    )
    if not plan.phases:
        extra = {h.ip for h in ctx.cluster.masters[:1]}
    else:
        extra = {h.ip for h in ctx.cluster.masters} | {h.ip for h in ctx.cluster.registry_hosts}
        if any(p.name == REGISTRY_CONFIG_PHASE for p in plan.phases):
            extra |= {h.ip for h in everyone if applied.joined(h.ip)}
    extra -= gone | set(ctx.hosts)
    _connect(ctx, [h for h in everyone if h.ip in extra], tolerate=True)
    if applied.initialized and plan.phases:
        _live_first_master(ctx, applied)


def _live_first_master(ctx: ClusterContext, applied: Applied) -> None:
    """Hooks join through ``ctx.first_master``: when the Clusterfile's first master is down, the first one
    that is up and joined takes its place in this run's view (the saved Clusterfile keeps its order)."""
    from sealkit.registry.service import is_removing

    masters = [h for h in ctx.cluster.masters if not is_removing(ctx, h.ip)]
    if masters and masters[0].ip in ctx.hosts:
        return
    live = next((h for h in masters if h.ip in ctx.hosts and applied.joined(h.ip)), None)
    if live is None:
        raise ConnectError(
            "no master of the cluster is reachable: " + ", ".join(h.ip for h in masters),
            step="connect",
            hint="bring a master up (sealkit status says why each is unreachable), then re-run",
        )
    first = masters[0].ip if masters else "-"
    log.warning("warning: the first master %s is down; %s stands in for it", first, live.ip)
    ctx.cluster = replace(ctx.cluster, hosts=[live, *[h for h in ctx.cluster.hosts if h.ip != live.ip]])


def _connect(ctx: ClusterContext, hosts: list, *, tolerate: bool, optional: set[str] | None = None) -> list:
    """Connect and gather facts. Hosts in ``optional`` (being removed) or all with --force may be down."""
    try:
        gather_facts(ctx, hosts)
    except ConnectError:
        down = [h.ip for h in hosts if h.ip not in ctx.hosts]
        if not (tolerate or set(down) <= (optional or set())):
            raise
        log.warning("continuing without unreachable host(s): %s", ", ".join(down))
    return [h for h in hosts if h.ip in ctx.hosts]


def _preflight(ctx: ClusterContext, hosts: list[HostRef]) -> None:
    from sealkit.builtin.preflight import unique_hostnames

    problems = [
        f"{h.ip}: {p}" for h in hosts for p in _flatten(ctx.pm.hook.sealkit_preflight(ctx=ctx, host=h))
    ]
    problems += unique_hostnames(list(ctx.hosts.values()))
    if problems:
        raise CheckFailed(
            "preflight failed, nothing was changed:\n  - " + "\n  - ".join(problems),
            step="preflight",
        )


def _flatten(lists: list[list[str]]) -> list[str]:
    return [p for lst in lists for p in (lst or [])]


def _existing_state(options: Options) -> ClusterState:
    state = ClusterState(options.cluster)
    if not state.exists():
        raise unknown_cluster(options.cluster)
    return state


def _refuse_extra_images(cluster_image: str, extra: list[str]) -> None:
    """Images after the first are apps; say plainly what cannot be done instead of doing nothing."""
    from sealkit.image import default_store

    for ref in extra:
        kind = default_store().labels(ref).get("sealkit.io/type", "rootfs") if ref else "rootfs"
        if kind == "rootfs":
            raise UsageError(
                f"the cluster runs {cluster_image}; {ref} is another cluster (rootfs) image",
                hint=f"sealkit upgrade {ref} changes the cluster image (one minor version at a time)",
            )
        raise UsageError(
            f"{ref} is an application image (sealkit.io/type={kind}); installing apps is not yet implemented",
            hint="install it with kubectl/helm from the image's manifests for now",
        )


def _merge_into_saved(state: ClusterState, desired: Cluster) -> Cluster:
    saved = _load_saved(state)
    known = {h.ip for h in saved.hosts}
    hosts = [*saved.hosts, *[h for h in desired.hosts if h.ip not in known]]
    return replace(
        saved,
        hosts=hosts,
        images=_merge_images(saved.images, desired.images),
        env={**saved.env, **desired.env},
    )


def _merge_images(current: list[str], extra: list[str]) -> list[str]:
    return [*current, *[i for i in extra if i not in current]]


def _ips(text: str) -> list[str]:
    """IPs of a ``--masters``/``--nodes`` value (lists, ``ip:port``, ``a-b`` ranges)."""
    return [h.ip for h in cluster_from_flags(nodes=text).hosts] if text.strip() else []


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in ip.replace(":", ".").split("."))


# ----------------------------------------------------------------------------- status/check/config
def status(options: Options) -> list[dict[str, Any]]:
    """Per host: membership (``joined``, or ``pending`` for a host a failed run saved but never joined),
    reachable — and when not, why (``reason``, ``error``, ``fix``) —, version, LB backends, shortest
    certificate validity left. :func:`unreachable_error` turns the rows into the verb's failure."""
    state = _existing_state(options)
    saved = _load_saved(state)
    applied = Applied.load(state.dir)
    runtime = select_runtime(options, saved, {})
    from sealkit.builtin.preflight import STATUS_FACTS_SCRIPT

    with open_context(options, saved, state, runtime=runtime) as ctx:
        down = connect_each(ctx, saved.hosts, STATUS_FACTS_SCRIPT)

        def probe(ref: HostRef) -> dict[str, Any]:
            return {
                "version": ctx.pm.hook.sealkit_runtime_version(ctx=ctx, host=ref) or None,
                "lb": _lb_summary(ctx, ref),
                "cert_days_left": certs_phase.min_days_left(ctx, ref.ip),
            }

        # hosts are asked in parallel: status of a fleet takes about as long as of one host
        probed = for_each_host(ctx, list(ctx.hosts.values()), probe)
        rows = []
        for h in saved.hosts:
            ref = ctx.hosts.get(h.ip)
            row: dict[str, Any] = {
                "host": h.ip,
                "roles": h.roles,
                "member": "joined" if applied.joined(h.ip) else "pending",
                "reachable": ref is not None,
                "name": ref.name if ref else applied.hosts.get(h.ip, AppliedHost([])).hostname,
            }
            if h.ip in down:
                row.update(unreachable_reason(down[h.ip]))
            found = probed.get(h.ip)
            if isinstance(found, SealkitError):
                log.warning("warning: %s: %s", h.ip, found.message)
                row["version"] = "ERROR (see warning)"
            elif isinstance(found, BaseException):
                raise found
            elif found is not None:
                row.update(found)
            row.setdefault("cert_days_left", None)
            rows.append(row)
        return rows


def connect_each(
    ctx: ClusterContext, hosts: list[Host], script: str | None = None
) -> dict[str, BaseException]:
    """Connect and gather facts like :func:`gather_facts` (``script``: a lighter facts script), but keep each
    unreachable host's own error (``status`` says why per host) instead of one error for all; reachable
    hosts land in ``ctx.hosts``."""
    from sealkit.builtin.preflight import FACTS_SCRIPT, parse_facts

    by_ip = {h.ip: h for h in hosts}
    now = time.time()

    def probe(conn: Any) -> dict[str, Any]:
        out = conn.run(script or FACTS_SCRIPT, sudo=False, timeout=60, idempotent=True).stdout  # a read
        return parse_facts(out, now, host=conn.target.label)

    down: dict[str, BaseException] = {}
    for ip, facts in ctx.fleet.map(probe, list(by_ip)).items():
        if isinstance(facts, KeyboardInterrupt):
            raise facts
        if isinstance(facts, BaseException):
            down[ip] = facts
            continue
        ref = HostRef(spec=by_ip[ip], conn=ctx.fleet.conn(ip), facts=facts)
        ref.hostname, ref.arch = str(facts.get("hostname", "")), str(facts.get("arch", ""))
        ctx.hosts[ip] = ref
    return down


def unreachable_reason(err: BaseException) -> dict[str, str]:
    """``reason`` (one of: host key changed, auth failed, connection refused, timeout, no route to host,
    name not resolved, connection failed, facts refused), the error's own ``error`` text and the ``fix``."""
    message = err.message if isinstance(err, SealkitError) else str(err)
    hint = (err.hint if isinstance(err, SealkitError) else None) or ""
    step = err.step if isinstance(err, SealkitError) else None
    low = message.lower()
    if isinstance(err, HostKeyChanged):
        reason = "host key changed"
    elif step in ("auth", "sudo") or "authentication" in low:
        reason = "auth failed"
    elif isinstance(err, StepFailed):
        reason = "facts refused"
    elif "refused" in low:
        reason = "connection refused"
    elif "timed out" in low or "timeout" in low:
        reason = "timeout"
    elif "no route" in low or "unreachable" in low:
        reason = "no route to host"
    elif "resolve" in low:
        reason = "name not resolved"
    else:
        reason = "connection failed"
    return {"reason": reason, "error": message, "fix": hint}


def unreachable_error(rows: list[dict[str, Any]]) -> ConnectError | None:
    """The failure ``status`` ends with (exit 4) after printing ``rows``: one line per unreachable host
    with its reason and fix; None when every host answered."""
    down = [r for r in rows if not r.get("reachable")]
    if not down:
        return None
    lines = "\n".join(
        f"  - {r['host']}: {r.get('reason', 'unreachable')}: {r.get('fix') or '-'}" for r in down
    )
    return ConnectError(
        f"{len(down)} host(s) unreachable:\n{lines}", step="status", hint="fix the hosts named above"
    )


def _lb_summary(ctx: ClusterContext, ref: HostRef) -> str | None:
    """``backend=UP, …`` for the status table; a broken LB is reported in its row, not fatal to status."""
    try:
        lbs = [s for s in ctx.pm.hook.sealkit_lb_status(ctx=ctx, host=ref) if s]
    except SealkitError as err:
        log.warning("warning: %s: %s", ref.ip, err.message)
        return "ERROR (see warning)"
    return ", ".join(f"{b}={st}" for s in lbs for b, st in s.items()) or None


def kubeconfig(options: Options) -> str:
    """The admin kubeconfig, from and pointed at the first master that is up: a master that is down
    does not leave the user without access to a cluster that still serves."""
    state = _existing_state(options)
    saved = _load_saved(state)
    runtime = select_runtime(options, saved, {})
    with open_context(options, saved, state, runtime=runtime) as ctx:
        up = _connect(ctx, saved.masters, tolerate=True)
        if not up:
            raise ConnectError(
                "no master is reachable over SSH",
                step="kubeconfig",
                hint="check that the masters are up (`sealkit status`), then re-run",
            )
        port = ctx.runtime.apiserver_port
        chosen = next((h for h in up if _accepts(h.ip, port)), up[0])
        if chosen.ip != saved.masters[0].ip:
            log.warning("warning: the kubeconfig points at %s: %s is down", chosen.ip, saved.masters[0].ip)
            others = [h for h in saved.hosts if h.ip != chosen.ip]
            ctx.cluster = replace(ctx.cluster, hosts=[chosen, *others])
        return str(_first_result(ctx, "sealkit_get_kubeconfig"))


def _accepts(ip: str, port: int, timeout: float = 2.0) -> bool:
    """Whether ``ip:port`` accepts a TCP connection from the controller."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def check(options: Options) -> dict[str, Any]:
    """Run every plugin's testinfra checks against the hosts; CheckFailed (exit 5) on any failure."""
    from sealkit.engine import checks

    state = _existing_state(options)
    saved = _load_saved(state)
    runtime = select_runtime(options, saved, {})
    with open_context(options, saved, state, runtime=runtime) as ctx:
        _connect(ctx, saved.hosts, tolerate=False)
        result = checks.run_checks(ctx)
        if result["failed"]:
            raise CheckFailed(
                f"{result['failed']} check(s) failed:\n  - " + "\n  - ".join(result["failures"]),
                step="check",
                result=result,
            )
        return result


__all__ = [
    "Options",
    "add",
    "apply",
    "check",
    "delete",
    "kubeconfig",
    "reset",
    "run",
    "status",
    "upgrade",
]
