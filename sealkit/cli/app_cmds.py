"""App verbs: ``apps`` (list), ``apps show NAME``, ``apps remove NAME [--purge]``."""

from __future__ import annotations

from typing import Any

import click

from sealkit.apps.model import sentence
from sealkit.cli.app import App, confirm, output_option, pass_app
from sealkit.cli.render import emit

LIST_COLUMNS = ("name", "version", "status", "address", "image")


def _options(app: App):
    from sealkit.engine.options import Options

    return Options(
        runtime=app.runtime,
        cluster=app.cluster,
        concurrency=app.concurrency,
        strict_host_keys=app.strict_host_keys,
        output=app.output,
    )


def show_text(result: dict[str, Any]) -> str:
    """``apps show`` for a person: the run's sentence again (or the status when it is not ready)."""
    if result.get("status") == "ready":
        lines = [sentence({**result, "action": ""})]
    else:
        status, image = result.get("status", "unknown"), result.get("image")
        lines = [f"{result['name']} is {status} (sealkit run {image} retries)"]
    if result.get("volumes"):
        lines.append(f"volumes: {', '.join(result['volumes'])}")
    lines += [f"warning: {w}" for w in result.get("warnings") or []]
    return "\n".join(lines)


def remove_text(result: dict[str, Any]) -> str:
    kept = result.get("volumes_kept") or []
    text = f"{result['removed']} removed."
    return text + (f" Volumes kept (--purge deletes them): {', '.join(kept)}" if kept else "")


@click.group(
    "apps", invoke_without_command=True, epilog="\b\nExamples:\n  sealkit apps\n  sealkit apps show redis"
)
@output_option
@click.pass_context
def apps_cmd(ctx: click.Context) -> None:
    """Installed applications: name, version, status, address ('sealkit run APP' installs one)."""
    if ctx.invoked_subcommand is None:
        from sealkit.apps import ops

        app = ctx.find_object(App)
        emit(ops.list_apps(_options(app)), app.output, columns=LIST_COLUMNS)


@apps_cmd.command("show", epilog="\b\nExample:\n  sealkit apps show redis -o json")
@click.argument("name")
@output_option
@pass_app
def show_cmd(app: App, name: str) -> None:
    """Print an app's addresses and credentials again (read from the cluster)."""
    from sealkit.apps import ops

    emit(ops.show_app(_options(app), name), app.output, human=show_text)


@apps_cmd.command("remove", epilog="\b\nExample:\n  sealkit apps remove redis --purge")
@click.argument("name")
@click.option("--purge", is_flag=True, help="Also delete the app's volumes (its data).")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@output_option
@pass_app
def remove_cmd(app: App, name: str, purge: bool, force: bool) -> None:
    """Remove what the app created (release or objects; its namespace if sealkit made it; its images)."""
    from sealkit.apps import ops

    ops.require_app(_options(app), name)
    if purge and not force:
        confirm(f"remove {name} AND delete its volumes (its data)?")
    emit(ops.remove_app(_options(app), name, purge=purge), app.output, human=remove_text)


COMMANDS = [apps_cmd]
