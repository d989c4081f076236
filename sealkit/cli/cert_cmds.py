"""``sealkit cert``: check, renew, and ``--alt-names`` to add SANs to a live cluster."""

from __future__ import annotations

import click

from sealkit.cli import summary
from sealkit.cli.app import App, output_option, pass_app
from sealkit.cli.cluster_cmds import _options, require_cluster
from sealkit.cli.render import emit


@click.group(
    "cert",
    invoke_without_command=True,
    epilog="\b\nExamples:\n  sealkit --cluster demo cert check\n  sealkit --cluster demo cert renew\n"
    "  sealkit --cluster demo cert --alt-names api.example.com,203.0.113.7",
)
@click.option(
    "--alt-names",
    default="",
    metavar="A,B",
    help="Add SANs to the apiserver certificates of a live cluster.",
)
@pass_app
@click.pass_context
def cert_group(ctx: click.Context, app: App, alt_names: str) -> None:
    """Inspect and manage the cluster's long-lived certificates."""
    if ctx.invoked_subcommand is not None:
        if alt_names:
            raise click.UsageError("--alt-names is used alone: sealkit cert --alt-names a,b")
        return
    if not alt_names:
        click.echo(ctx.get_help())
        return
    from sealkit.engine import certs

    require_cluster(app)
    names = [n.strip() for n in alt_names.split(",") if n.strip()]
    emit(
        certs.add_alt_names(_options(app), names),
        app.output,
        human=lambda d: summary.alt_names(d, app.cluster),
    )


@cert_group.command("check", epilog="\b\nExample:\n  sealkit --cluster demo cert check -o json")
@output_option
@pass_app
def cert_check(app: App) -> None:
    """Per host and certificate: subject, SANs, expiry, days left."""
    from sealkit.engine import certs

    require_cluster(app)
    rows = certs.check(_options(app))
    emit(rows, app.output, columns=["host", "file", "subject", "not_after", "days_left", "sans"])


@cert_group.command("renew", epilog="\b\nExample:\n  sealkit --cluster demo cert renew --new-keys")
@click.option("--new-keys", is_flag=True, help="Generate new keys instead of re-signing the same ones.")
@output_option
@pass_app
def cert_renew(app: App, new_keys: bool) -> None:
    """Re-sign every leaf certificate, distribute, restart what must restart (one master at a time).

    Leaves the runtime mints itself (k3s, k0s) are signed anew by the runtime, always with new keys."""
    from sealkit.engine import certs

    require_cluster(app)
    emit(
        certs.renew(_options(app), new_keys=new_keys),
        app.output,
        human=lambda d: summary.cert_renew(d, app.cluster),
    )


COMMANDS = [cert_group]
