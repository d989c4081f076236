"""Cluster verbs: run, apply, add, delete, reset, upgrade, status, check, kubeconfig."""

from __future__ import annotations

import click

from sealkit.cli.app import App, output_option, pass_app
from sealkit.cli.render import emit


def _options(app: App, *, dry_run: bool = False, force: bool = False):
    from sealkit.engine.options import Options

    return Options(
        runtime=app.runtime,
        cluster=app.cluster,
        concurrency=app.concurrency,
        strict_host_keys=app.strict_host_keys,
        dry_run=dry_run,
        force=force,
        output=app.output,
    )


def _ssh_flags(f):
    f = click.option("-u", "--user", default=None, help="SSH user (default root).")(f)
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
        help="SSH private key file.",
    )(f)
    f = click.option(
        "--pk-passwd",
        "key_passphrase",
        default=None,
        envvar="SEALKIT_SSH_KEY_PASSPHRASE",
        help="Passphrase of the key.",
    )(f)
    f = click.option("--port", type=int, default=None, help="SSH port (default 22).")(f)
    return f


@click.command("run")
@click.argument("images", nargs=-1, required=False)
@click.option("--masters", default="", help="Master IPs: a,b,c[:port] or a range a-b.")
@click.option("--nodes", default="", help="Worker IPs, same syntax.")
@_ssh_flags
@click.option("-e", "--env", "env", multiple=True, metavar="K=V", help="Cluster env (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
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
    dry_run: bool,
) -> None:
    """Install a cluster (or apps onto it) from cluster images on the given hosts."""
    from sealkit.engine import ops

    report = ops.run(
        _options(app, dry_run=dry_run),
        images=list(images),
        masters=masters,
        nodes=nodes,
        user=user,
        password=password,
        key=key,
        key_passphrase=key_passphrase,
        port=port,
        env=list(env),
    )
    emit(report, app.output)


@click.command("apply")
@click.option(
    "-f",
    "--file",
    "clusterfile",
    required=True,
    type=click.Path(dir_okay=False),
    help="Clusterfile (sealkit.io/v1 or a sealos apps.sealos.io/v1beta1 one).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@output_option
@pass_app
def apply_cmd(app: App, clusterfile: str, dry_run: bool) -> None:
    """Make the cluster match a Clusterfile: install, scale up or down, upgrade."""
    from sealkit.engine import ops

    emit(ops.apply(_options(app, dry_run=dry_run), clusterfile=clusterfile), app.output)


@click.command("add")
@click.option("--masters", default="", help="Masters to add.")
@click.option("--nodes", default="", help="Workers to add.")
@_ssh_flags
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
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
    dry_run: bool,
) -> None:
    """Add hosts; only the new hosts are touched (plus the LB config of existing nodes)."""
    from sealkit.engine import ops

    if not masters and not nodes:
        raise click.UsageError("give --masters and/or --nodes")
    report = ops.add(
        _options(app, dry_run=dry_run),
        masters=masters,
        nodes=nodes,
        user=user,
        password=password,
        key=key,
        key_passphrase=key_passphrase,
        port=port,
    )
    emit(report, app.output)


@click.command("delete")
@click.option("--masters", default="", help="Masters to remove.")
@click.option("--nodes", default="", help="Workers to remove.")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@output_option
@pass_app
def delete_cmd(app: App, masters: str, nodes: str, force: bool, dry_run: bool) -> None:
    """Drain and remove hosts; the rest of the cluster is left alone."""
    from sealkit.engine import ops

    if not masters and not nodes:
        raise click.UsageError("give --masters and/or --nodes")
    if not (force or dry_run):
        click.confirm(f"remove {masters or ''} {nodes or ''} from cluster {app.cluster}?", abort=True)
    emit(
        ops.delete(_options(app, dry_run=dry_run, force=force), masters=masters, nodes=nodes),
        app.output,
    )


@click.command("reset")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@output_option
@pass_app
def reset_cmd(app: App, force: bool, dry_run: bool) -> None:
    """Remove everything sealkit put on every host of the cluster."""
    from sealkit.engine import ops

    if not (force or dry_run):
        click.confirm(f"reset every host of cluster {app.cluster}?", abort=True)
    emit(ops.reset(_options(app, dry_run=dry_run, force=force)), app.output)


@click.command("upgrade")
@click.argument("image")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@output_option
@pass_app
def upgrade_cmd(app: App, image: str, dry_run: bool) -> None:
    """Upgrade to IMAGE: one minor version at a time, masters one by one, then workers."""
    from sealkit.engine import ops

    emit(ops.upgrade(_options(app, dry_run=dry_run), image=image), app.output)


@click.command("status")
@output_option
@pass_app
def status_cmd(app: App) -> None:
    """Hosts, roles, versions, health, LB backends and certificate expiry."""
    from sealkit.engine import ops

    rows = ops.status(_options(app))
    emit(
        rows,
        app.output,
        columns=["host", "name", "roles", "reachable", "version", "lb", "cert_days_left"],
    )


@click.command("check")
@output_option
@pass_app
def check_cmd(app: App) -> None:
    """Run the runtime's pytest-testinfra checks against every host (exit 5 on failure)."""
    from sealkit.engine import ops

    emit(ops.check(_options(app)), app.output)


@click.command("kubeconfig")
@output_option
@pass_app
def kubeconfig_cmd(app: App) -> None:
    """Print the admin kubeconfig (a secret: redirect it to a 0600 file)."""
    from sealkit.engine import ops

    click.echo(ops.kubeconfig(_options(app)), nl=False)


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
]
