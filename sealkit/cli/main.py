"""The ``sealkit`` command: global options, error → exit-code mapping, and the verb groups.

Thin by design: every verb parses its flags, calls the library, and renders the result. Results go to stdout,
logs and progress to stderr. Expected failures (SealkitError) print one clear message and exit with their
code; only internal errors (exit 3) offer a traceback, and only with ``-v``.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import click

from sealkit import __version__
from sealkit.cli.app import App
from sealkit.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, SealkitError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def _setup_logging(verbosity: int) -> None:
    level = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}.get(max(-1, min(verbosity, 1)))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if verbosity < 1 else "%(name)s: %(message)s"))
    root = logging.getLogger("sealkit")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    if verbosity < 2:
        logging.getLogger("paramiko").setLevel(logging.WARNING)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="sealkit")
@click.option(
    "--runtime",
    metavar="NAME",
    envvar="SEALKIT_RUNTIME",
    help="Runtime plugin (kubeadm, k3s, k0s, binary, or a third party's). "
    "Default: the cluster image's sealkit.io/runtime label.",
)
@click.option(
    "--cluster",
    "cluster_name",
    default="default",
    show_default=True,
    metavar="NAME",
    envvar="SEALKIT_CLUSTER",
    help="Cluster name; state lives in $SEALKIT_HOME/clusters/NAME.",
)
@click.option("-v", "--verbose", count=True, help="More logs (-vv: SSH library too).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
    help="Format of results on stdout.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=32,
    show_default=True,
    help="Hosts acted on at once (a sliding window, not batches).",
)
@click.option(
    "--strict-host-keys",
    is_flag=True,
    help="Require every host key to be known already (no trust on first use).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    runtime: str | None,
    cluster_name: str,
    verbose: int,
    quiet: bool,
    output: str,
    concurrency: int,
    strict_host_keys: bool,
) -> None:
    """Turn SSH-reachable machines into an HA Kubernetes cluster from an offline cluster image."""
    verbosity = -1 if quiet else verbose
    _setup_logging(verbosity)
    if runtime is not None:
        from sealkit.errors import PluginError
        from sealkit.plugins import runtime_names

        installed = runtime_names()
        if runtime not in installed:
            raise PluginError(
                f"runtime {runtime!r} is not installed; installed runtimes: {', '.join(installed) or 'none'}",
                hint=f"pip install sealkit-{runtime}, or pick an installed runtime",
            )
    ctx.obj = App(runtime, cluster_name, output, verbosity, concurrency, strict_host_keys)


def _register_commands() -> None:
    from sealkit.cli import cert_cmds, cluster_cmds, image_cmds, plugin_cmds, remote_cmds

    for module in (cluster_cmds, remote_cmds, cert_cmds, image_cmds, plugin_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: run the CLI and map every outcome to DESIGN §2's exit codes."""
    verbose = bool(os.environ.get("SEALKIT_DEBUG"))
    args = sys.argv[1:] if argv is None else argv
    verbose = verbose or any(a in ("-v", "--verbose", "-vv") for a in args)
    try:
        rc = cli.main(args=args, prog_name="sealkit", standalone_mode=False)
    except SealkitError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as ex:
        sys.exit(ex.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(EXIT_USAGE if err.exit_code in (1, 2) else err.exit_code)
    except Exception as err:  # noqa: BLE001 - last resort: internal bug, reported, not swallowed
        click.echo(f"internal error: {type(err).__name__}: {err}", err=True)
        if verbose:
            traceback.print_exc()
        else:
            click.echo("  (run again with -v for a traceback, and report it)", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
