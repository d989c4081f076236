"""The CLI's global options object, shared by every verb module (kept apart to avoid import cycles).

Global options are accepted before the verb (``sealkit --cluster demo status``) and after it
(``sealkit status --cluster demo``), as kubectl and sealos users type them: :func:`add_global_options` gives
every verb hidden copies that write into the same :class:`App`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from sealkit.errors import SealkitError

OUTPUTS = ("table", "json", "yaml")


@dataclass
class App:
    """Global options, handed to every verb as ``click`` context object (defaults = no flags given)."""

    runtime: str | None = None
    cluster: str = "default"
    output: str = "table"
    verbosity: int = 0
    concurrency: int = 32
    strict_host_keys: bool = False
    #: the live progress view while a verb runs (None on a pipe, with -v or -q)
    view: Any = field(default=None, repr=False)

    def configure_logging(self) -> None:
        """(Re)route logs for the current verbosity; a later ``-v`` after the verb calls it again."""
        from sealkit.cli import progress

        self.close()
        self.view = progress.setup(self.verbosity, sys.stderr)

    def close(self) -> None:
        """Stop the live view, leaving its final state on screen."""
        if self.view is not None:
            self.view.stop()
            self.view = None


pass_app = click.make_pass_decorator(App, ensure=True)


class Declined(SealkitError):
    """The user answered no to a confirmation: exit 1 "aborted" (130 is for an interrupt)."""

    exit_code = 1


def confirm(question: str) -> None:
    """Ask ``question`` on the terminal; Declined when the answer is no. Without a terminal there is
    nobody to ask: a usage error that names ``--force``."""
    if not sys.stdin.isatty():
        raise click.UsageError(f"{question} -- stdin is not a terminal: pass --force to confirm")
    if not click.confirm(question, default=False, err=True):  # stdout is for results
        raise Declined("aborted: nothing was changed")


def check_runtime(name: str) -> None:
    """A ``--runtime`` that is not installed is a usage error naming the installed ones."""
    from sealkit.errors import PluginError
    from sealkit.plugins import runtime_names

    installed = runtime_names()
    if name not in installed:
        raise PluginError(
            f"runtime {name!r} is not installed; installed runtimes: {', '.join(installed) or 'none'}",
            hint=f"pip install sealkit-{name}, or pick an installed runtime",
        )


def _app(ctx: click.Context) -> App:
    return ctx.ensure_object(App)


def _set_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        _app(ctx).output = value


def _set_runtime(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        check_runtime(value)
        _app(ctx).runtime = value


def _set_cluster(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        _app(ctx).cluster = value


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    if value:
        app = _app(ctx)
        app.verbosity = max(app.verbosity, 0) + value
        app.configure_logging()


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        app = _app(ctx)
        app.verbosity = -1
        app.configure_logging()


def _set_concurrency(ctx: click.Context, _param: click.Parameter, value: int | None) -> None:
    if value is not None:
        _app(ctx).concurrency = value


def _set_strict(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _app(ctx).strict_host_keys = True


def output_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-o`` after the verb too (``sealkit plugins -o json``), overriding the global one."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUTS),
        default=None,
        expose_value=False,
        callback=_set_output,
        help="Format of results on stdout: table (for people), json or yaml (for programs).",
    )(f)


def _late_options() -> list[click.Option]:
    """The global options as a verb's own (hidden: the top-level help documents them once)."""
    return [
        click.Option(["--runtime"], default=None, expose_value=False, callback=_set_runtime, hidden=True),
        click.Option(["--cluster"], default=None, expose_value=False, callback=_set_cluster, hidden=True),
        click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_set_verbose, hidden=True),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_quiet, hidden=True),
        click.Option(
            ["--concurrency"],
            type=click.IntRange(1, 1024),
            default=None,
            expose_value=False,
            callback=_set_concurrency,
            hidden=True,
        ),
        click.Option(
            ["--strict-host-keys"], is_flag=True, expose_value=False, callback=_set_strict, hidden=True
        ),
        click.Option(
            ["-o", "--output"],
            type=click.Choice(OUTPUTS),
            default=None,
            expose_value=False,
            callback=_set_output,
            hidden=True,
        ),
    ]


def add_global_options(command: click.Command) -> None:
    """Give ``command`` (and, for a group, its subcommands) the global options it does not already
    spell itself (``save -o PATH`` keeps its ``-o``)."""
    for param in command.params:
        if isinstance(param, click.Option) and param.default in ("", 0, False) and param.show_default is None:
            param.show_default = False  # "[default: ""]" tells nobody anything
    taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for option in _late_options():
        if not taken & {*option.opts, *option.secondary_opts}:
            command.params.append(option)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_global_options(sub)
