"""The app operations behind the CLI: open the existing cluster, hold its lock, call the engine.

Everything that can be checked without the cluster (the images, their spec, ``-e``) is checked before a
host is contacted. ``sealkit run APP…`` on an existing cluster calls :func:`install_apps`; ``sealkit run
ROOTFS APP…`` converges the cluster first and then calls it (see :func:`split_images`).
"""

from __future__ import annotations

import logging
from typing import Any

from sealkit.apps import engine
from sealkit.apps.configs import from_documents
from sealkit.apps.envs import parse_pairs
from sealkit.apps.image import TYPE_LABEL, resolve_app
from sealkit.apps.model import ResolvedApp
from sealkit.apps.record import AppsRecord
from sealkit.engine.options import Options
from sealkit.errors import ConnectError, ImageError, SealkitError, UsageError
from sealkit.state import ClusterState, unknown_cluster

log = logging.getLogger("sealkit.apps")


def image_type(ref: str, *, pull: bool = False) -> str:
    """The ``sealkit.io/type`` label of ``ref`` (``rootfs`` when unlabelled).

    A stored image's label comes from its image config: unpacking a multi-GB rootfs only to sort it
    would cost a copy of every layer. An image not in the store goes through the run's pull policy
    (:func:`sealkit.engine.images.resolve`, which pulls only when allowed and says how to get it).
    """
    from sealkit.engine import images
    from sealkit.image import default_store

    store = default_store()
    try:
        store.resolve(ref)
    except ImageError:
        return images.resolve(ref, pull=pull).labels.get(TYPE_LABEL, "rootfs")
    return store.labels(ref).get(TYPE_LABEL, "rootfs")


def split_images(refs: list[str], *, pull: bool = False) -> tuple[list[str], list[str]]:
    """(cluster images, app images) of a ``run``, by the ``sealkit.io/type`` label, order kept."""
    cluster, apps = [], []
    for ref in refs:
        (apps if image_type(ref, pull=pull) == "app" else cluster).append(ref)
    return cluster, apps


def _existing(options: Options) -> ClusterState:
    state = ClusterState(options.cluster)
    if not state.exists():
        raise unknown_cluster(options.cluster)
    return state


def require_app(options: Options, name: str) -> None:
    """UsageError naming the installed apps when ``name`` is not one (before asking anything)."""
    state = _existing(options)
    records = AppsRecord(state.dir).load()
    if name not in records:
        known = ", ".join(sorted(records)) or "none"
        raise UsageError(
            f"no app named {name!r} in cluster {options.cluster}", hint=f"installed apps: {known}"
        )


def install_apps(options: Options, refs: list[str], *, env: list[str]) -> dict[str, Any]:
    """``sealkit run APP…`` on an existing cluster: ``{"cluster": …, "apps": [AppResult.to_dict()…]}``."""
    from sealkit.engine.session import gather_facts, open_context, select_runtime

    state = _existing(options)
    given = parse_pairs(env)
    apps: list[ResolvedApp] = [resolve_app(r, pull=options.pull) for r in refs]
    saved = state.load_clusterfile()
    configs = from_documents(saved.documents)
    if options.dry_run:
        return dry_run(state, saved.masters[0].ip if saved.masters else "?", apps)
    runtime = select_runtime(options, saved, {})
    with state.lock(), open_context(options, saved, state, runtime=runtime) as ctx:
        try:
            gather_facts(ctx, saved.hosts)
        except ConnectError:
            if not ctx.masters:
                raise
            log.warning("warning: some hosts are unreachable; their arch is not checked")
        results = engine.install(ctx, apps, env=given, configs=configs)
    return {"cluster": options.cluster, "apps": [r.to_dict() for r in results]}


def dry_run(state: ClusterState, master: str, apps: list[ResolvedApp]) -> dict[str, Any]:
    """What a run would do, in the shape of a cluster plan (``phases[].steps``: ``"STEP @ HOST"``)."""
    records = AppsRecord(state.dir).load()
    steps = []
    for a in apps:
        rec = records.get(a.name)
        if rec is None:
            action = "install"
        elif rec.digest != a.digest:
            action = "upgrade"
        else:
            action = "keep-or-reinstall"  # the env decides, and comparing it needs the secrets store
        steps.append(f"{action} app {a.name} ({a.ref}, {a.spec.installer}) @ {master}")
    return {"phases": [{"phase": "apps", "mode": "serial", "steps": steps}]}


def list_apps(options: Options) -> list[dict[str, Any]]:
    """``sealkit apps``: from the state alone (no host is contacted)."""
    state = _existing(options)
    return [r.summary() for _, r in sorted(AppsRecord(state.dir).load().items())]


def _with_cluster(options: Options, fn: Any) -> Any:
    from sealkit.engine.session import gather_facts, open_context, select_runtime

    state = _existing(options)
    saved = state.load_clusterfile()
    runtime = select_runtime(options, saved, {})
    with state.lock(), open_context(options, saved, state, runtime=runtime) as ctx:
        gather_facts(ctx, saved.masters)
        return fn(ctx, saved)


def _spec_of(image: str) -> Any:
    try:
        return resolve_app(image).spec
    except SealkitError as err:
        log.warning("warning: %s: %s (credentials are not read)", image, err.message)
        return None


def show_app(options: Options, name: str) -> dict[str, Any]:
    """``sealkit apps show NAME``: addresses and credentials, read again from the cluster."""
    state = _existing(options)
    rec = AppsRecord(state.dir).get(name)
    spec = _spec_of(rec.image) if rec else None
    return _with_cluster(options, lambda ctx, _saved: engine.show(ctx, name, spec=spec))


def remove_app(options: Options, name: str, *, purge: bool) -> dict[str, Any]:
    """``sealkit apps remove NAME [--purge]``."""
    from sealkit.engine import images
    from sealkit.registry.sync import IMAGES_SUBDIR, image_names

    state = _existing(options)
    rec = AppsRecord(state.dir).get(name)
    spec = _spec_of(rec.image) if rec else None
    saved = state.load_clusterfile()
    cluster_images: list[str] | None = None
    try:
        cluster_images = image_names(images.resolve(saved.images[0]).rootfs / IMAGES_SUBDIR)
    except (SealkitError, IndexError):
        log.warning(
            "warning: the cluster image is not in the local store: the app's images stay in the registry"
        )
    return _with_cluster(
        options,
        lambda ctx, _saved: engine.remove(ctx, name, purge=purge, spec=spec, cluster_images=cluster_images),
    )
