"""The ``sealkit`` command: global options, error → exit-code mapping, and the verb groups.

Thin by design: every verb parses its flags, calls the library, and renders the result. Results go to stdout,
logs and progress to stderr. Expected failures (SealkitError) print one clear message and exit with their
code; with ``-o json|yaml`` the same facts also go to stdout as a document, so a program reading stdout sees
the failure too. Only internal errors (exit 3) offer a traceback, and only with ``-v``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from typing import NoReturn

import click

from sealkit import __version__
from sealkit.cli.app import OUTPUTS, App, Declined, add_global_options, check_runtime
from sealkit.cli.render import emit, error_document
from sealkit.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    SealkitError,
    controller_io_error,
    is_controller_io,
)
from sealkit.state import home

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110, "show_default": True}


@click.group(
    context_settings=CONTEXT_SETTINGS,
    epilog="\b\nGlobal options go before or after the verb: `sealkit status --cluster demo`.\n"
    "First cluster:\n"
    "  sealkit load -i k3s-v1.34.1.tar\n"
    "  sealkit --cluster demo run my/k3s:v1.34.1 --masters 10.0.0.1 --nodes 10.0.0.2 -i ~/.ssh/id_ed25519\n"
    "  sealkit --cluster demo kubeconfig > demo.kubeconfig\n"
    "  kubectl --kubeconfig demo.kubeconfig get nodes\n"
    "`sealkit VERB --help` shows each verb's options and an example.",
)
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
    metavar="NAME",
    envvar="SEALKIT_CLUSTER",
    help="Cluster name; state lives in $SEALKIT_HOME/clusters/NAME (`sealkit clusters` lists them).",
)
@click.option("-v", "--verbose", count=True, show_default=False, help="More logs (-vv: SSH library too).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(OUTPUTS),
    default="table",
    help="Format of results on stdout: table (for people), json or yaml (for programs).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=32,
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
    app = ctx.ensure_object(App)
    app.runtime, app.cluster, app.output = runtime, cluster_name, output
    app.verbosity = -1 if quiet else verbose
    app.concurrency, app.strict_host_keys = concurrency, strict_host_keys
    app.configure_logging()
    ctx.call_on_close(app.close)
    if runtime is not None:
        check_runtime(runtime)


def _register_commands() -> None:
    from sealkit.cli import app_cmds, cert_cmds, cluster_cmds, image_cmds, plugin_cmds, remote_cmds

    for module in (cluster_cmds, remote_cmds, cert_cmds, app_cmds, image_cmds, plugin_cmds):
        for command in module.COMMANDS:
            add_global_options(command)
            cli.add_command(command)


_register_commands()


def _fail(app: App, err: BaseException, code: int, text: str) -> None:
    """The message on stderr; with -o json|yaml also the error document on stdout (with the partial
    result, when the failure carries one: ``exec`` per host, ``check`` per check)."""
    app.close()
    click.echo(text, err=True)
    if app.output in ("json", "yaml"):
        result = getattr(err, "result", None)
        emit({**(result if isinstance(result, dict) else {}), **error_document(err, code)}, app.output)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: run the CLI and map every outcome to DESIGN §2's exit codes."""
    args = sys.argv[1:] if argv is None else argv
    verbose = bool(os.environ.get("SEALKIT_DEBUG")) or any(a in ("-v", "--verbose", "-vv") for a in args)
    app = App()
    try:
        rc = cli.main(args=args, prog_name="sealkit", standalone_mode=False, obj=app)
    except Declined as err:
        _fail(app, err, err.exit_code, "aborted")
    except SealkitError as err:
        _fail(app, err, err.exit_code, f"error: {err}")
    except (click.exceptions.Abort, KeyboardInterrupt) as err:
        _fail(app, err, EXIT_INTERRUPTED, "interrupted")
    except click.exceptions.Exit as ex:
        sys.exit(ex.exit_code)
    except click.ClickException as err:
        app.close()
        err.show()
        code = EXIT_USAGE if err.exit_code in (1, 2) else err.exit_code
        if app.output in ("json", "yaml"):
            emit(error_document(err, code), app.output)
        sys.exit(code)
    except OSError as err:
        if not is_controller_io(err):
            _internal(app, err, verbose)
        # a file of the controller that no layer wrapped (a log, a kubeconfig, a temp file): still the
        # controller's disk, not a bug: exit 1 with the path and the fix (errors.ControllerError)
        where = err.filename or f"{home()} or {tempfile.gettempdir()}"
        failed = controller_io_error(err, doing="accessing", path=where, step=_verb(args))
        _fail(app, failed, failed.exit_code, f"error: {failed}")
    except Exception as err:  # noqa: BLE001 - last resort: internal bug, reported, not swallowed
        _internal(app, err, verbose)
    sys.exit(rc if isinstance(rc, int) else 0)


def _verb(args: list[str]) -> str | None:
    """The verb on the command line (the step an unwrapped controller I/O error names), if any."""
    return next((a for a in args if a in cli.commands), None)


def _internal(app: App, err: BaseException, verbose: bool) -> NoReturn:
    """A bug: say so, offer the traceback, exit 3."""
    app.close()
    click.echo(f"internal error: {type(err).__name__}: {err}", err=True)
    if verbose:
        traceback.print_exc()
    else:
        click.echo("  (run again with -v for a traceback, and report it)", err=True)
    if app.output in ("json", "yaml"):
        emit(error_document(err, EXIT_INTERNAL), app.output)
    sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
