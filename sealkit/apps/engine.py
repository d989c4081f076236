"""Install, upgrade and remove app images on a running cluster.

``install`` checks every app of the run before the first change (not an app, missing chart or
manifest, unknown installer, an arch no host has, a missing StorageClass, a name taken by another
image, no helm binary), then installs them in order; a failure stops the rest and leaves the earlier
apps as they were. Per app: unchanged digest and env → nothing is done (outputs are read again);
otherwise its container images go to the embedded registry by digest, its files to the master, the
installer plugin runs with the admin kubeconfig and the app env over stdin, the engine waits for
readiness (diagnosing pods on failure), prunes objects an upgrade dropped, and reads the outputs:
addresses and credentials. Every step is recorded in the cluster state's ``apps.json``.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sealkit.apps import files
from sealkit.apps.configs import ConfigPatch, applicable
from sealkit.apps.envs import SecretStore, app_env
from sealkit.apps.kube import Kube, default_storage_class, meta
from sealkit.apps.model import AppResult, AppRun, InstallOutcome, ObjectRef, ResolvedApp
from sealkit.apps.outputs import claimed_volumes, credential_values, endpoint_addresses
from sealkit.apps.readiness import KIND_PLURAL, assess, diagnosis, pod_problems, wait_ready
from sealkit.apps.record import AppRecord, AppsRecord
from sealkit.apps.spec import WORKLOAD_KINDS, AppSpec
from sealkit.context import ClusterContext, HostRef
from sealkit.errors import CheckFailed, PluginError, SealkitError, StepFailed, UsageError

log = logging.getLogger("sealkit.apps")

_KUBECTL_RE = re.compile(r"^/[A-Za-z0-9_./+-]+( kubectl)?$")


class ImageOps(Protocol):
    """How the engine moves an app's container images (the real one talks to the embedded registry)."""

    def sync(self, ctx: ClusterContext, rootfs: Path) -> str: ...

    def delete(self, ctx: ClusterContext, names: list[str]) -> list[str]: ...


@dataclass
class Tools:
    """What a master offers the installers: kubectl (with kubeconfig) and the cluster image's helm."""

    host: HostRef
    kubectl: str
    cluster_helm: str = ""


@dataclass
class _Plan:
    app: ResolvedApp
    run: AppRun
    action: str
    fingerprint: str
    previous: AppRecord | None
    files: Path
    #: the unpacked image for the master's arch (or the image's only arch): its images are synced
    rootfs: Path
    #: values to keep in the 0600 secrets store: generated ones and -e overrides of them
    keep: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- master
def pick_master(ctx: ClusterContext) -> HostRef:
    """The first connected master: it runs every installer of the run."""
    masters = ctx.masters
    if not masters:
        raise StepFailed(
            "no master is connected to run app installers on",
            step="apps",
            hint="check the masters with `sealkit status`",
        )
    return masters[0]


def master_tools(ctx: ClusterContext, host: HostRef) -> Tools:
    """kubectl (runtime's answer, else found on the host) with the admin kubeconfig put beside the apps."""
    root = shlex.quote(f"{ctx.remote_rootfs}/bin")
    probe = (
        f'k="$(command -v kubectl || true)"; '
        f'if [ -z "$k" ] && [ -x {root}/kubectl ]; then k={root}/kubectl; fi; '
        f'if [ -z "$k" ] && command -v k3s >/dev/null 2>&1; then k="$(command -v k3s) kubectl"; fi; '
        f'if [ -z "$k" ] && command -v k0s >/dev/null 2>&1; then k="$(command -v k0s) kubectl"; fi; '
        f'echo "kubectl=$k"; if [ -x {root}/helm ]; then echo "helm="{root}/helm; fi'
    )
    found: dict[str, str] = {}
    for line in host.conn.run(probe, timeout=30).stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("kubectl", "helm"):
            found[key] = value.strip()
    kubectl = ctx.pm.hook.sealkit_app_kubectl(ctx=ctx, host=host) or found.get("kubectl", "")
    for what, value in (("kubectl", kubectl), ("helm", found.get("helm", ""))):
        if value and not _KUBECTL_RE.match(value):
            raise StepFailed(
                f"{what} on the master is at an unusable path {value!r}", host=host.ip, step="apps"
            )
    if not kubectl:
        raise StepFailed(
            "no kubectl on the master (not on PATH, not in the cluster image's bin/, no k3s/k0s)",
            host=host.ip,
            step="apps",
            hint="the runtime plugin can answer sealkit_app_kubectl",
        )
    kubeconfig = ctx.pm.hook.sealkit_get_kubeconfig(ctx=ctx)
    if not kubeconfig:
        raise PluginError(f"runtime {ctx.runtime.name!r}: no plugin implements sealkit_get_kubeconfig")
    host.conn.put(str(kubeconfig).encode(), files.KUBECONFIG, mode=0o600)
    prefix = f"{kubectl} --kubeconfig={shlex.quote(files.KUBECONFIG)} --cache-dir={files.KUBE_CACHE_DIR}"
    return Tools(host, prefix, found.get("helm", ""))


def installers(ctx: ClusterContext) -> set[str]:
    return {n for names in ctx.pm.hook.sealkit_app_installers() for n in (names or [])}


# --------------------------------------------------------------------------------------------- install
def install(
    ctx: ClusterContext,
    apps: Sequence[ResolvedApp],
    *,
    env: dict[str, str] | None = None,
    configs: Sequence[ConfigPatch] = (),
    images: ImageOps | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 3.0,
) -> list[AppResult]:
    """Install ``apps`` in order on the cluster of ``ctx`` (connected; the caller holds the state lock)."""
    from sealkit.apps.registry import RegistryImages

    images = images or RegistryImages()
    names = [a.name for a in apps]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError(
            f"two images of this run install the same app name: {', '.join(dup)}",
            hint="an app's name comes from `name:` in its sealkit-app.yaml",
        )
    tools = master_tools(ctx, pick_master(ctx))
    kube = Kube(tools.host, tools.kubectl)
    records = AppsRecord(ctx.state.dir)
    secrets = SecretStore(ctx.state.dir)
    plans = [_plan(ctx, a, dict(env or {}), list(configs), tools, records, secrets) for a in apps]
    _check(ctx, plans, kube)
    results = []
    for plan in plans:
        results.append(_install_one(ctx, plan, kube, records, secrets, images, clock, sleep, interval))
    return results


def _plan(
    ctx: ClusterContext,
    app: ResolvedApp,
    given: dict[str, str],
    configs: list[ConfigPatch],
    tools: Tools,
    records: AppsRecord,
    secrets: SecretStore,
) -> _Plan:
    arches = {h.arch for h in ctx.hosts.values() if h.arch}
    if arches and app.arches and not arches & set(app.arches):
        raise UsageError(
            f"{app.ref} is built for {', '.join(app.arches)}; "
            f"the cluster's hosts are {', '.join(sorted(arches))}",
            hint="build the app image for the hosts' platform (sealkit build --platform linux/ARCH)",
        )
    previous = records.get(app.name)
    if previous and previous.repository != app.repository:
        raise UsageError(
            f"app {app.name} is already installed from {previous.image}, not from {app.repository}",
            hint=f"sealkit apps remove {app.name} first, or give the new app another name",
        )
    arch = tools.host.arch if tools.host.arch in app.arches or not app.arches else app.arches[0]
    rootfs = app.rootfs_for(arch or None)
    staged = files.staged(rootfs, applicable(configs, app.ref), ctx.state.dir / "apps" / "files")
    values, generated = app_env(app.name, app.env, app.spec.generate, given, secrets)
    fingerprint = secrets.fingerprint(values)
    helm = (
        f"{files.remote_dir(app.name)}/bin/helm"
        if (staged / "bin" / "helm").is_file()
        else tools.cluster_helm
    )
    run = AppRun(
        name=app.name,
        namespace=app.spec.namespace,
        spec=app.spec,
        ref=app.ref,
        digest=app.digest,
        host=tools.host,
        remote_dir=files.remote_dir(app.name),
        kubectl=tools.kubectl,
        kubeconfig=files.KUBECONFIG,
        env=values,
        helm=helm,
        cmd=app.cmd,
        local_rootfs=staged,
        timeout=app.spec.timeout,
    )
    if previous is None:
        action = "install"
    elif (
        previous.digest == app.digest
        and previous.env_fingerprint == fingerprint
        and previous.status == "ready"
    ):
        action = "unchanged"
    else:
        action = "upgrade" if previous.digest != app.digest else "install"
    keep = {**generated, **{k: v for k, v in given.items() if k in app.spec.generate}}
    return _Plan(app, run, action, fingerprint, previous, staged, rootfs, keep)


def _check(ctx: ClusterContext, plans: list[_Plan], kube: Kube) -> None:
    """Every problem of every app, before anything changes; CheckFailed listing them all."""
    known = installers(ctx)
    problems: list[str] = []
    classes: list[dict[str, Any]] | None = None
    for plan in plans:
        spec = plan.app.spec
        if spec.installer not in known:
            problems.append(
                f"app {spec.name}: installer {spec.installer!r} is not installed "
                f"(installed: {', '.join(sorted(known)) or 'none'}); pip install its plugin"
            )
            continue
        if plan.action == "unchanged":
            continue
        for found in ctx.pm.hook.sealkit_check_app(ctx=ctx, app=plan.run):
            problems.extend(found or [])
        if spec.storage_class is not None:
            classes = kube.items("storageclasses") if classes is None else classes
            names = {str(meta(c).get("name")) for c in classes}
            if spec.storage_class and spec.storage_class not in names:
                problems.append(
                    f"app {spec.name} needs StorageClass {spec.storage_class}; the cluster has "
                    f"{', '.join(sorted(names)) or 'none'}"
                )
            elif not spec.storage_class and default_storage_class(classes) is None:
                problems.append(
                    f"app {spec.name} needs persistent volumes and the cluster has no default StorageClass "
                    "(install a storage provisioner first, e.g. a local-path app image)"
                )
    if problems:
        raise CheckFailed(
            "the apps cannot be installed, nothing was changed:\n  - " + "\n  - ".join(problems),
            step="apps check",
        )


def _install_one(
    ctx: ClusterContext,
    plan: _Plan,
    kube: Kube,
    records: AppsRecord,
    secrets: SecretStore,
    images: ImageOps,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    interval: float,
) -> AppResult:
    app, run, prev = plan.app, plan.run, plan.previous
    if plan.action == "unchanged" and prev is not None:
        endpoints, creds, warnings = _outputs(ctx, kube, app.spec, run.env)
        log.info("app %s: %s already installed with the same env; nothing to do", app.name, app.ref)
        return AppResult(
            app.name, app.ref, app.version, False, "unchanged", tuple(endpoints), creds, tuple(warnings)
        )
    rec = AppRecord(
        name=app.name,
        image=app.ref,
        repository=app.repository,
        digest=app.digest,
        version=app.version,
        installer=app.spec.installer,
        namespace=run.namespace,
        status="installing",
        namespace_created=bool(prev and prev.namespace_created),
        release=prev.release if prev else "",
        objects=list(prev.objects) if prev else [],
        volumes=list(prev.volumes) if prev else [],
        env_keys=sorted(run.env),
        env_fingerprint="",
        credential_names=[c.name for c in app.spec.credentials],
        images=sorted(set(app.images) | set(prev.images if prev else [])),
        master=run.host.ip,
    )
    records.put(rec)
    if plan.keep:
        secrets.save(app.name, {**secrets.load(app.name), **plan.keep})
    outcome: InstallOutcome | None = None
    installer_ran = False
    try:
        log.info("app %s: %s", app.name, images.sync(ctx, plan.rootfs))
        files.push(ctx, run.host, plan.files, app.name)
        if kube.get("namespace", name=run.namespace) is None:
            kube.run(["create", "namespace", run.namespace])
            rec.namespace_created = True
            records.put(rec)
        installer_ran = True
        outcome = ctx.pm.hook.sealkit_install_app(ctx=ctx, app=run)
        if outcome is None:
            raise PluginError(f"app {app.name}: no plugin answered for installer {app.spec.installer!r}")
        _remember(rec, outcome)
        records.put(rec)
        if prev is not None:
            _prune(kube, prev.object_refs(), outcome)
        state = _wait(kube, run, outcome, clock=clock, sleep=sleep, interval=interval)
    except SealkitError as err:
        rec.status = "failed"
        records.put(rec)
        waited = (err.step or "").startswith("wait for app")
        if installer_ran and isinstance(err, StepFailed) and not waited:
            err.message += _quick_diagnosis(kube, run, outcome)
        raise
    rec.volumes = sorted(set(rec.volumes) | set(claimed_volumes(state)))
    endpoints, creds, warnings = _outputs(ctx, kube, app.spec, run.env)
    rec.endpoints = endpoints
    rec.images = sorted(app.images)
    rec.env_fingerprint = plan.fingerprint
    rec.status = "ready"
    records.put(rec)
    for w in warnings:
        log.warning("warning: app %s: %s", app.name, w)
    return AppResult(
        app.name, app.ref, app.version, True, plan.action, tuple(endpoints), creds, tuple(warnings)
    )


def _remember(rec: AppRecord, outcome: InstallOutcome) -> None:
    rec.release = outcome.release or rec.release
    rec.objects = [o.to_dict() for o in outcome.objects]


def _prune(kube: Kube, old: list[ObjectRef], outcome: InstallOutcome) -> None:
    """Objects an upgrade no longer applies (manifests installers) are deleted; helm prunes itself."""
    if outcome.release:
        return
    keep = {o.key() for o in outcome.objects}
    for obj in reversed(old):
        if obj.key() in keep or obj.kind in ("Namespace", "PersistentVolumeClaim"):
            continue
        args = ["delete", obj.resource(), obj.name, "--ignore-not-found"]
        kube.run(args + (["-n", obj.namespace] if obj.namespace else []))


def _workloads(run: AppRun, outcome: InstallOutcome | None) -> dict[str, list[str]]:
    """namespace → ``kind/name`` that must be ready: the declared ones, else all the installer created."""
    if run.spec.workloads:
        return {run.namespace: list(run.spec.workloads)}
    out: dict[str, list[str]] = {}
    for o in outcome.objects if outcome else ():
        if o.kind.lower() in WORKLOAD_KINDS:
            out.setdefault(o.namespace or run.namespace, []).append(f"{o.kind.lower()}/{o.name}")
    return out


def _wait(
    kube: Kube,
    run: AppRun,
    outcome: InstallOutcome,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    interval: float,
) -> list[dict[str, Any]]:
    deadline = clock() + run.timeout
    pods: list[dict[str, Any]] = []
    for namespace, keys in _workloads(run, outcome).items():
        left = max(1.0, deadline - clock())
        state = wait_ready(
            kube, namespace, keys, app=run.name, timeout=left, interval=interval, clock=clock, sleep=sleep
        )
        pods += state.pods
    return pods


def _quick_diagnosis(kube: Kube, run: AppRun, outcome: InstallOutcome | None) -> str:
    """After an installer failed (``helm --wait`` timed out, say): what the pods say, in one pass."""
    wanted = _workloads(run, outcome) or {run.namespace: []}
    lines = []
    try:
        for namespace, keys in wanted.items():
            pods = kube.items("pods", namespace=namespace)
            objs = [
                (k, kube.get(KIND_PLURAL[k.split("/")[0]], namespace=namespace, name=k.split("/")[1]))
                for k in keys
            ]
            state = assess(objs, pods)
            if not keys:
                state.problems = [p for pod in pods for p in pod_problems(pod)]
            if state.problems:
                lines.append(
                    diagnosis(kube, namespace, run.name, state, timed_out=False, timeout=run.timeout)
                )
    except SealkitError as err:
        return f"\n(no diagnosis of the pods: {err.message})"
    return ("\n" + "\n".join(lines)) if lines else ""


def _outputs(
    ctx: ClusterContext, kube: Kube, spec: AppSpec, env: dict[str, str]
) -> tuple[list[str], dict[str, str], list[str]]:
    host_ips = [h.ip for h in ctx.cluster.hosts]
    endpoints: list[str] = []
    warnings: list[str] = []
    for ep in spec.endpoints:
        service = kube.get("service", namespace=spec.namespace, name=ep.service)
        ingress = kube.get("ingress", namespace=spec.namespace, name=ep.ingress) if ep.ingress else None
        addrs, warn = endpoint_addresses(ep, service, ingress, host_ips)
        endpoints += [a for a in addrs if a not in endpoints]
        warnings += warn
    secrets = {
        c.secret: kube.get("secret", namespace=spec.namespace, name=c.secret)
        for c in spec.credentials
        if c.secret
    }
    creds, warn = credential_values(spec.credentials, secrets, env)
    return endpoints, creds, warnings + warn


# ------------------------------------------------------------------------------------ show / remove
def show(ctx: ClusterContext, name: str, *, spec: AppSpec | None = None) -> dict[str, Any]:
    """The app's record with its addresses and credentials read again from the cluster."""
    rec = _record(ctx, name)
    tools = master_tools(ctx, pick_master(ctx))
    kube = Kube(tools.host, tools.kubectl)
    out = {**rec.summary(), "endpoints": list(rec.endpoints), "credentials": {}, "volumes": list(rec.volumes)}
    if spec is not None:
        env = {**SecretStore(ctx.state.dir).load(name)}
        endpoints, creds, warnings = _outputs(ctx, kube, spec, env)
        out.update(endpoints=endpoints or list(rec.endpoints), credentials=creds, warnings=warnings)
    return out


def remove(
    ctx: ClusterContext,
    name: str,
    *,
    purge: bool = False,
    spec: AppSpec | None = None,
    images: ImageOps | None = None,
    cluster_images: Sequence[str] | None = (),
) -> dict[str, Any]:
    """Remove exactly what the app created; volumes (and so a namespace holding them) kept unless purge.

    ``cluster_images`` are the cluster image's container images (never deleted); None when unknown,
    and then no image is deleted from the registry at all.
    """
    from sealkit.apps.registry import RegistryImages

    images = images or RegistryImages()
    records = AppsRecord(ctx.state.dir)
    rec = _record(ctx, name)
    tools = master_tools(ctx, pick_master(ctx))
    kube = Kube(tools.host, tools.kubectl, step=f"remove app {name}")
    remote = files.remote_dir(name)
    has_helm = (
        tools.host.conn.run(f"test -x {shlex.quote(remote + '/bin/helm')}", check=False, timeout=30).rc == 0
    )
    run = AppRun(
        name=name,
        namespace=rec.namespace,
        spec=spec or AppSpec(name=name, namespace=rec.namespace, installer=rec.installer),
        ref=rec.image,
        digest=rec.digest,
        host=tools.host,
        remote_dir=remote,
        kubectl=tools.kubectl,
        kubeconfig=files.KUBECONFIG,
        env=SecretStore(ctx.state.dir).load(name),
        helm=f"{remote}/bin/helm" if has_helm else tools.cluster_helm,
    )
    rec.status = "removing"
    records.put(rec)
    if rec.installer == "helm" and not run.helm:
        raise StepFailed(
            f"app {name}: no helm binary left to uninstall its release",
            host=tools.host.ip,
            step="remove app",
            hint="the app's files on the master were removed by hand?",
        )
    if not ctx.pm.hook.sealkit_remove_app(ctx=ctx, app=run, record=rec, purge=purge):
        raise PluginError(
            f"app {name}: no plugin removes apps of installer {rec.installer!r}",
            hint="install the installer's plugin again, then re-run",
        )
    kept = [] if purge else list(rec.volumes)
    if purge:
        for vol in rec.volumes:
            ns, _, pvc = vol.partition("/")
            kube.run(["delete", "persistentvolumeclaim", pvc, "-n", ns, "--ignore-not-found"])
    kept_ns = {v.partition("/")[0] for v in kept}
    if rec.namespace_created and rec.namespace not in kept_ns:
        kube.run(["delete", "namespace", rec.namespace, "--ignore-not-found"])
    if cluster_images is None:
        warnings = [f"the app's images stay in the registry: {', '.join(rec.images)}"] if rec.images else []
    else:
        others = {i for n, r in records.load().items() if n != name for i in r.images} | set(cluster_images)
        warnings = images.delete(ctx, [i for i in rec.images if i not in others])
    tools.host.conn.run(f"rm -rf {shlex.quote(remote)}", timeout=120)
    SecretStore(ctx.state.dir).remove(name)
    records.delete(name)
    for w in warnings:
        log.warning("warning: %s", w)
    return {
        "removed": name,
        "volumes_kept": kept,
        "namespace_kept": bool(rec.namespace_created and kept),
        "warnings": warnings,
    }


def _record(ctx: ClusterContext, name: str) -> AppRecord:
    rec = AppsRecord(ctx.state.dir).get(name)
    if rec is None:
        known = ", ".join(sorted(AppsRecord(ctx.state.dir).load())) or "none"
        raise UsageError(
            f"no app named {name!r} in cluster {ctx.state.name}", hint=f"installed apps: {known}"
        )
    return rec
