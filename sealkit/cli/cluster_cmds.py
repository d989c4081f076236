"""Cluster verbs: run, apply, add, delete, reset, upgrade, status, check, kubeconfig, clusters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from sealkit.cli import summary
from sealkit.cli.app import App, confirm, output_option, pass_app
from sealkit.cli.render import emit


def _options(app: App, *, dry_run: bool = False, force: bool = False, pull: bool = False):
    from sealkit.engine.options import Options

    return Options(
        runtime=app.runtime,
        cluster=app.cluster,
        concurrency=app.concurrency,
        strict_host_keys=app.strict_host_keys,
        dry_run=dry_run,
        force=force,
        output=app.output,
        pull=pull,
    )


def require_cluster(app: App) -> None:
    """Fail before any work when ``--cluster`` names no cluster, naming those that exist."""
    from sealkit.state import ClusterState, unknown_cluster

    if not ClusterState(app.cluster).exists():
        raise unknown_cluster(app.cluster)


def _timed(fn: Callable[[], Any]) -> Any:
    """``fn()``; a result document gets ``duration_s`` (a dry run's plan is left as it is)."""
    started = time.monotonic()
    result = fn()
    if isinstance(result, dict) and "phases" not in result:
        result["duration_s"] = round(time.monotonic() - started, 1)
    return result


def _ssh_flags(f):
    f = click.option("-u", "--user", default=None, help="SSH user.  [default: root]")(f)
    f = click.option(
        "-p",
        "--passwd",
        "password",
        default=None,
        envvar="SEALKIT_SSH_PASSWORD",
        help="SSH password (prefer $SEALKIT_SSH_PASSWORD: argv is visible in ps).",
    )(f)
    f = click.option(
        "-i",
        "--pk",
        "key",
        default=None,
        type=click.Path(dir_okay=False),
        help="SSH private key file.  [default: ~/.ssh/id_ed25519, id_rsa, id_ecdsa, the agent]",
    )(f)
    f = click.option(
        "--pk-passwd",
        "key_passphrase",
        default=None,
        envvar="SEALKIT_SSH_KEY_PASSPHRASE",
        help="Passphrase of the key.",
    )(f)
    f = click.option("--port", type=int, default=None, help="SSH port.  [default: 22]")(f)
    return f


_dry_run = click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
_save_password = click.option(
    "--save-password",
    "save_secrets",
    is_flag=True,
    help="Keep SSH and sudo passwords in the cluster state (a 0600 file) for later runs. Without it they are "
    "never written to disk: give them again (-p or $SEALKIT_SSH_PASSWORD) when a later command needs them.",
)
_pull = click.option(
    "--pull", is_flag=True, help="Pull IMAGE from its registry when it is not in the local store."
)


@click.command(
    "run",
    epilog="\b\nExamples:\n"
    "  sealkit load -i k3s-v1.34.1.tar\n"
    "  sealkit --cluster demo run my/k3s:v1.34.1 --masters 10.0.0.1 --nodes 10.0.0.2,10.0.0.3 "
    "-i ~/.ssh/id_ed25519\n"
    "  sealkit --cluster demo run            # re-run: resume or converge the saved cluster",
)
@click.argument("images", nargs=-1, required=False)
@click.option(
    "--masters",
    default="",
    help="Master IPs: a,b,c[:port] or a range a-b. Required for a new cluster.",
)
@click.option("--nodes", default="", help="Worker IPs, same syntax.")
@_ssh_flags
@click.option(
    "-e", "--env", "env", multiple=True, metavar="K=V", help="Cluster env, or the apps' env (repeatable)."
)
@_pull
@_save_password
@_dry_run
@output_option
@pass_app
def run_cmd(
    app: App,
    images: tuple[str, ...],
    masters: str,
    nodes: str,
    user: str | None,
    password: str | None,
    key: str | None,
    key_passphrase: str | None,
    port: int | None,
    env: tuple[str, ...],
    pull: bool,
    save_secrets: bool,
    dry_run: bool,
) -> None:
    """Install a cluster from a cluster IMAGE on the given hosts (or resume/converge a saved cluster).

    IMAGE must be in the local image store (`sealkit load -i FILE`, `sealkit pull REF` or `sealkit build`);
    with --pull a missing image is pulled from its registry first. Without --masters the cluster named by
    --cluster must exist already.
    """
    from sealkit.engine import ops

    if not masters and not nodes:
        require_cluster(app)
    report = _timed(
        lambda: ops.run(
            _options(app, dry_run=dry_run, pull=pull),
            images=list(images),
            masters=masters,
            nodes=nodes,
            user=user,
            password=password,
            key=key,
            key_passphrase=key_passphrase,
            port=port,
            env=list(env),
            save_secrets=save_secrets,
        )
    )
    emit(report, app.output, human=lambda d: summary.converge(d, "run"))


@click.command(
    "apply",
    epilog="\b\nExamples:\n  sealkit apply -f examples/Clusterfile --dry-run\n"
    "  sealkit apply -f examples/Clusterfile",
)
@click.option(
    "-f",
    "--file",
    "clusterfile",
    required=True,
    type=click.Path(dir_okay=False),
    help="Clusterfile (sealkit.io/v1 or a sealos apps.sealos.io/v1beta1 one). Required.",
)
@_pull
@_save_password
@_dry_run
@output_option
@pass_app
def apply_cmd(app: App, clusterfile: str, pull: bool, save_secrets: bool, dry_run: bool) -> None:
    """Make the cluster match a Clusterfile: install, scale up or down, upgrade.

    The cluster is named by the file's metadata.name unless --cluster is given. The images in spec.image must
    be in the local image store (`sealkit load`/`pull`/`build`), or pass --pull.
    """
    from sealkit.engine import ops

    report = _timed(
        lambda: ops.apply(
            _options(app, dry_run=dry_run, pull=pull), clusterfile=clusterfile, save_secrets=save_secrets
        )
    )
    emit(report, app.output, human=lambda d: summary.converge(d, "apply"))


@click.command(
    "add",
    epilog="\b\nExamples:\n  sealkit --cluster demo add --nodes 10.0.0.4\n"
    "  sealkit --cluster demo add --masters 10.0.0.5 -i ~/.ssh/id_ed25519",
)
@click.option("--masters", default="", help="Masters to add (at least one of --masters/--nodes).")
@click.option("--nodes", default="", help="Workers to add (at least one of --masters/--nodes).")
@_ssh_flags
@_save_password
@_dry_run
@output_option
@pass_app
def add_cmd(
    app: App,
    masters: str,
    nodes: str,
    user: str | None,
    password: str | None,
    key: str | None,
    key_passphrase: str | None,
    port: int | None,
    save_secrets: bool,
    dry_run: bool,
) -> None:
    """Add hosts; only the new hosts are touched (plus the LB config of existing nodes).

    New hosts log in like the cluster's existing ones unless SSH flags are given.
    """
    from sealkit.engine import ops

    if not masters and not nodes:
        raise click.UsageError("give --masters and/or --nodes")
    require_cluster(app)
    report = _timed(
        lambda: ops.add(
            _options(app, dry_run=dry_run),
            masters=masters,
            nodes=nodes,
            user=user,
            password=password,
            key=key,
            key_passphrase=key_passphrase,
            port=port,
            save_secrets=save_secrets,
        )
    )
    emit(report, app.output, human=lambda d: summary.converge(d, "add"))


@click.command("delete", epilog="\b\nExample:\n  sealkit --cluster demo delete --nodes 10.0.0.4 --force")
@click.option("--masters", default="", help="Masters to remove (at least one of --masters/--nodes).")
@click.option("--nodes", default="", help="Workers to remove (at least one of --masters/--nodes).")
@click.option("--force", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@_dry_run
@output_option
@pass_app
def delete_cmd(app: App, masters: str, nodes: str, force: bool, dry_run: bool) -> None:
    """Drain and remove hosts; the rest of the cluster is left alone."""
    from sealkit.engine import ops

    if not masters and not nodes:
        raise click.UsageError("give --masters and/or --nodes")
    require_cluster(app)
    if not (force or dry_run):
        gone = ", ".join(x for x in (masters, nodes) if x)
        confirm(f"remove {gone} from cluster {app.cluster}?")
    report = _timed(
        lambda: ops.delete(_options(app, dry_run=dry_run, force=force), masters=masters, nodes=nodes)
    )
    emit(report, app.output, human=lambda d: summary.converge(d, "delete"))


@click.command(
    "reset",
    epilog="\b\nExamples:\n  sealkit --cluster demo reset --force\n"
    "  sealkit --cluster demo reset --force --forget 10.0.0.3   # that host is gone for good",
)
@click.option("--force", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@click.option(
    "--forget",
    default="",
    metavar="IP[,IP…]",
    help="Hosts that cannot be reached and never will be: drop their part of the state instead of keeping "
    "it for a later reset.",
)
@_dry_run
@output_option
@pass_app
def reset_cmd(app: App, force: bool, forget: str, dry_run: bool) -> None:
    """Remove everything sealkit put on every host of the cluster, then forget the cluster.

    A host that cannot be reached keeps its part of the state (exit 4, naming it) so that a later reset can
    clean it, unless it is listed in --forget.
    """
    from sealkit.engine import ops

    require_cluster(app)
    if not (force or dry_run):
        confirm(f"reset every host of cluster {app.cluster}?")
    gone = [ip.strip() for ip in forget.split(",") if ip.strip()]
    report = _timed(lambda: ops.reset(_options(app, dry_run=dry_run, force=force), forget=gone))
    emit(report, app.output, human=lambda d: summary.reset(d, app.cluster))


@click.command("upgrade", epilog="\b\nExample:\n  sealkit --cluster demo upgrade my/k3s:v1.35.0")
@click.argument("image")
@_pull
@_dry_run
@output_option
@pass_app
def upgrade_cmd(app: App, image: str, pull: bool, dry_run: bool) -> None:
    """Upgrade to IMAGE: one minor version at a time, masters one by one, then workers.

    IMAGE must be in the local image store (`sealkit load`/`pull`/`build`), or pass --pull.
    """
    from sealkit.engine import ops

    require_cluster(app)
    report = _timed(lambda: ops.upgrade(_options(app, dry_run=dry_run, pull=pull), image=image))
    emit(report, app.output, human=lambda d: summary.converge(d, "upgrade"))


@click.command("status", epilog="\b\nExamples:\n  sealkit status --cluster demo\n  sealkit -o json status")
@output_option
@pass_app
def status_cmd(app: App) -> None:
    """Hosts, roles, versions, health, LB backends and certificate expiry."""
    from sealkit.engine import ops

    require_cluster(app)
    rows = ops.status(_options(app))
    emit(
        rows,
        app.output,
        columns=["host", "name", "roles", "member", "reachable", "reason", "version", "lb", "cert_days_left"],
    )
    unreachable = ops.unreachable_error(rows)
    if unreachable is not None:
        # the rows are the result (each down host with its reason and fix), on every format; the message
        # and the exit code (4) say that something is wrong
        click.echo(f"error: {unreachable}", err=True)
        raise click.exceptions.Exit(unreachable.exit_code)


@click.command("check", epilog="\b\nExample:\n  sealkit --cluster demo check")
@output_option
@pass_app
def check_cmd(app: App) -> None:
    """Run the runtime's pytest-testinfra checks against every host (exit 5 on failure)."""
    from sealkit.engine import ops

    require_cluster(app)
    emit(_quiet_pytest(app, lambda: ops.check(_options(app))), app.output, human=summary.check)


def _quiet_pytest(app: App, fn: Callable[[], Any]) -> Any:
    """``fn()`` with pytest's own terminal report (dots, "12 passed") kept off stderr: the result names
    the checks, and a failure names each failed check and host. ``-v`` shows the report as well."""
    import contextlib
    import io
    import sys

    report = io.StringIO()
    try:
        with contextlib.redirect_stderr(report):
            return fn()
    finally:
        if app.verbosity >= 1:
            sys.stderr.write(report.getvalue())


@click.command(
    "kubeconfig",
    epilog="\b\nExample:\n  sealkit --cluster demo kubeconfig > demo.kubeconfig\n"
    "  kubectl --kubeconfig demo.kubeconfig get nodes",
)
@output_option
@pass_app
def kubeconfig_cmd(app: App) -> None:
    """Print the admin kubeconfig (a secret: redirect it to a 0600 file).

    Its cluster and context are named after the sealkit cluster (the user NAME-admin), so kubeconfigs
    of several clusters merge without collisions.
    """
    import yaml

    from sealkit.engine import ops
    from sealkit.pki.kubeconfig import name_after_cluster

    require_cluster(app)
    text = name_after_cluster(ops.kubeconfig(_options(app)), app.cluster)
    if app.output == "json":  # as `kubectl config view -o json` would give it
        emit(yaml.safe_load(text), "json")
    else:
        click.echo(text, nl=False)


@click.command("clusters", epilog="\b\nExample:\n  sealkit clusters\n  sealkit status --cluster NAME")
@output_option
@pass_app
def clusters_cmd(app: App) -> None:
    """List the clusters this controller manages (state in $SEALKIT_HOME/clusters)."""
    emit(cluster_rows(), app.output, human=summary.clusters)


def cluster_rows() -> list[dict[str, Any]]:
    """Name, runtime, version, hosts and image of every saved cluster (no secrets)."""
    from sealkit.engine.applied import Applied
    from sealkit.state import ClusterState, list_clusters

    rows = []
    for name in list_clusters():
        state = ClusterState(name)
        saved = state.load_clusterfile()
        applied = Applied.load(state.dir)
        rows.append(
            {
                "name": name,
                "runtime": applied.runtime or saved.runtime,
                "version": applied.version or None,
                "masters": [h.ip for h in saved.masters],
                "nodes": [h.ip for h in saved.nodes],
                "image": applied.image or (saved.images[0] if saved.images else None),
            }
        )
    return rows


COMMANDS = [
    run_cmd,
    apply_cmd,
    add_cmd,
    delete_cmd,
    reset_cmd,
    upgrade_cmd,
    status_cmd,
    check_cmd,
    kubeconfig_cmd,
    clusters_cmd,
]
