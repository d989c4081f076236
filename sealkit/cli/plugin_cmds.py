"""``sealkit plugins``, ``sealkit plugin new`` and ``sealkit completion``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sealkit import plugins
from sealkit.cli.app import App, output_option, pass_app
from sealkit.cli.render import emit


@click.command("plugins", epilog="\b\nExample:\n  sealkit plugins -o json")
@click.option("--hooks", is_flag=True, help="Also list which hooks each loaded plugin implements.")
@output_option
@pass_app
def plugins_cmd(app: App, hooks: bool) -> None:
    """List installed runtimes and add-ons with their distribution versions."""
    rows = [
        {
            "kind": p.kind,
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "module": p.module,
        }
        for p in plugins.installed()
    ]
    if hooks:
        pm = plugins.build_manager(app.runtime)
        impls: dict[str, list[str]] = {}
        for hook_name in sorted(pm.hook.__dict__):
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                impls.setdefault(impl.plugin_name, []).append(hook_name)
        for row in rows:
            key = {"builtin": "builtin:", "runtime": "runtime:", "addon": "addon:"}[row["kind"]]
            row["hooks"] = impls.get(key + row["name"], [])
    emit(rows, app.output, columns=["kind", "name", "distribution", "version", "module"])


@click.command(
    "completion", epilog="\b\nExample:\n  sealkit completion bash > /etc/bash_completion.d/sealkit"
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell: str) -> None:
    """Print a shell completion script: eval "$(sealkit completion bash)"."""
    from click.shell_completion import get_completion_class

    from sealkit.cli.main import cli

    comp_cls = get_completion_class(shell)
    if comp_cls is None:  # click always ships these three; keep the error explicit anyway
        raise click.BadParameter(f"no completion for {shell}")
    os.environ.setdefault("_SEALKIT_COMPLETE", f"{shell}_source")
    comp = comp_cls(cli, {}, "sealkit", "_SEALKIT_COMPLETE")
    click.echo(comp.source())


@click.group("plugin")
def plugin_group() -> None:
    """Write and check plugins (guide: docs/plugins.md)."""


@plugin_group.command("new", epilog="\b\nExample:\n  sealkit plugin new rke2 --dir ./sealkit-rke2")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the package (default: ./sealkit-NAME).",
)
def plugin_new_cmd(name: str, directory: Path | None) -> None:
    """Write a working, tested runtime plugin package NAME: pyproject with the entry point, the hooks,
    and a contract test (pip install -e DIR && pytest DIR/tests)."""
    from sealkit.templates import write_plugin

    dest = directory or Path(f"sealkit-{name}")
    for path in write_plugin(name, dest):
        click.echo(str(path))
    click.echo(f"next: pip install -e {dest} && pytest {dest}/tests", err=True)


COMMANDS = [plugins_cmd, plugin_group, completion_cmd]
