"""``sealkit exec`` and ``sealkit scp`` on role or IP selections of the cluster's hosts."""

from __future__ import annotations

from typing import Any

import click

from sealkit.cli import summary
from sealkit.cli.app import App, output_option, pass_app
from sealkit.cli.cluster_cmds import _options, require_cluster
from sealkit.cli.render import emit

_roles = click.option(
    "--roles", default="", help="Only hosts with these roles: master, node, registry (comma list)."
)
_ips = click.option("--ips", default="", help="Only these IPs (comma list).")


def valid_roles(roles: str) -> str:
    """``--roles`` with aliases spelled as the model spells them; an unknown role names the valid ones."""
    from sealkit.cluster import ROLE_ALIASES, ROLES

    wanted = [r.strip().lower() for r in roles.split(",") if r.strip()]
    unknown = [r for r in wanted if r not in ROLES and r not in ROLE_ALIASES]
    if unknown:
        aliases = ", ".join(f"{a} = {m}" for a, m in ROLE_ALIASES.items())
        raise click.BadParameter(
            f"unknown role(s) {', '.join(unknown)}; valid roles: {', '.join(ROLES)} ({aliases})",
            param_hint="--roles",
        )
    return ",".join(ROLE_ALIASES.get(r, r) for r in wanted)


@click.command(
    "exec",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    epilog="\b\nExamples:\n  sealkit --cluster demo exec --roles master hostname\n"
    "  sealkit --cluster demo exec --ips 10.0.0.2 -o json -- systemctl is-active k3s",
)
@_roles
@_ips
@click.option("--timeout", type=float, default=None, help="Seconds per host.  [default: no limit]")
@output_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_app
def exec_cmd(app: App, roles: str, ips: str, timeout: float | None, command: tuple[str, ...]) -> None:
    """Run COMMAND on the selected hosts (all by default); exit 1 names the hosts where it failed.

    On a table, output is streamed prefixed by host; with -o json|yaml each host's exit code, stdout
    and stderr come as one document. Options go before COMMAND (or end them with --).
    """
    from sealkit.engine import remote

    roles = valid_roles(roles)
    require_cluster(app)
    text = " ".join(command)
    if app.output == "table":
        remote.exec_command(_options(app), text, roles=roles, ips=ips, timeout=timeout)
        return
    doc = collect_exec(app, text, roles=roles, ips=ips, timeout=timeout)
    failed = [r["host"] for r in doc["hosts"] if r["rc"] != 0]
    if failed:
        _raise_with_result(doc, f"command {text!r} failed on {len(failed)} host(s): {', '.join(failed)}")
    emit(doc, app.output, human=summary.exec_result)


def collect_exec(app: App, command: str, *, roles: str, ips: str, timeout: float | None) -> dict[str, Any]:
    """Run ``command`` on the selection and gather each host's result (for ``-o json|yaml``)."""
    from sealkit.engine import remote

    hosts, fleet = remote.open_fleet(_options(app), roles, ips)

    def one(conn):
        return conn.run(command, timeout=timeout, check=False)

    with fleet:
        results = fleet.map(one, [h.ip for h in hosts])
    rows = []
    for ip, res in results.items():
        if isinstance(res, KeyboardInterrupt):
            raise res
        if isinstance(res, BaseException):
            rows.append({"host": ip, "rc": None, "stdout": None, "stderr": None, "error": str(res)})
        else:
            rows.append({"host": ip, "rc": res.rc, "stdout": res.stdout, "stderr": res.stderr, "error": None})
    return {"command": command, "hosts": rows}


def _raise_with_result(doc: dict[str, Any], message: str) -> None:
    """Exit 1 with the result document still on stdout (merged into the error document by main)."""
    from sealkit.errors import StepFailed

    raise StepFailed(message, result=doc)


@click.command(
    "scp",
    epilog="\b\nExample:\n  sealkit --cluster demo scp --roles node ./motd /etc/motd",
)
@_roles
@_ips
@click.option("--mode", default="0644", help="File mode on the hosts (octal).")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst")
@output_option
@pass_app
def scp_cmd(app: App, roles: str, ips: str, mode: str, src: str, dst: str) -> None:
    """Copy SRC to DST on the selected hosts; hosts that already have it (same sha256) get nothing.

    With -o json|yaml each host's outcome (copied, unchanged, or the error) comes as one document."""
    from sealkit.engine import remote

    try:
        mode_int = int(mode, 8)
    except ValueError as err:
        raise click.BadParameter(f"{mode!r} is not an octal mode", param_hint="--mode") from err
    roles = valid_roles(roles)
    require_cluster(app)
    if app.output == "table":
        remote.copy_file(_options(app), src, dst, roles=roles, ips=ips, mode=mode_int)
        return
    doc = collect_copy(app, src, dst, roles=roles, ips=ips, mode=mode_int)
    failed = [r["host"] for r in doc["hosts"] if r["error"] is not None]
    if failed:
        _raise_with_result(doc, f"copy to {dst} failed on {len(failed)} host(s): {', '.join(failed)}")
    emit(doc, app.output)


def collect_copy(app: App, src: str, dst: str, *, roles: str, ips: str, mode: int) -> dict[str, Any]:
    """Put ``src`` at ``dst`` on the selection and gather each host's outcome (for ``-o json|yaml``)."""
    from pathlib import Path

    from sealkit.engine import remote

    hosts, fleet = remote.open_fleet(_options(app), roles, ips)
    with fleet:
        results = fleet.map(lambda conn: conn.put(Path(src), dst, mode=mode), [h.ip for h in hosts])
    rows = []
    for ip, res in results.items():
        if isinstance(res, KeyboardInterrupt):
            raise res
        failed = isinstance(res, BaseException)
        outcome = None if failed else ("copied" if res else "unchanged")
        rows.append({"host": ip, "outcome": outcome, "error": str(res) if failed else None})
    return {"src": src, "dst": dst, "hosts": rows}


COMMANDS = [exec_cmd, scp_cmd]
