"""``sealkit exec`` and ``sealkit scp`` on role or IP selections of the cluster's hosts."""

from __future__ import annotations

import click

from sealkit.cli.app import App, pass_app
from sealkit.cli.cluster_cmds import _options

_roles = click.option("--roles", default="", help="Only hosts with these roles (master,node,...).")
_ips = click.option("--ips", default="", help="Only these IPs (comma list).")


@click.command("exec", context_settings={"ignore_unknown_options": True})
@_roles
@_ips
@click.option("--timeout", type=float, default=None, help="Seconds per host.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_app
def exec_cmd(app: App, roles: str, ips: str, timeout: float | None, command: tuple[str, ...]) -> None:
    """Run COMMAND on the selected hosts; output is prefixed by host; exit 1 names failed hosts."""
    from sealkit.engine import remote

    remote.exec_command(_options(app), " ".join(command), roles=roles, ips=ips, timeout=timeout)


@click.command("scp")
@_roles
@_ips
@click.option("--mode", default="0644", help="File mode on the hosts (octal).")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst")
@pass_app
def scp_cmd(app: App, roles: str, ips: str, mode: str, src: str, dst: str) -> None:
    """Copy SRC to DST on the selected hosts; hosts that already have it (same sha256) get nothing."""
    from sealkit.engine import remote

    try:
        mode_int = int(mode, 8)
    except ValueError as err:
        raise click.BadParameter(f"{mode!r} is not an octal mode", param_hint="--mode") from err
    remote.copy_file(_options(app), src, dst, roles=roles, ips=ips, mode=mode_int)


COMMANDS = [exec_cmd, scp_cmd]
