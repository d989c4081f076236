"""The CLI's global options object, shared by every verb module (kept apart to avoid import cycles)."""

from __future__ import annotations

from dataclasses import dataclass

import click


@dataclass
class App:
    """Global options, handed to every verb as ``click`` context object."""

    runtime: str | None
    cluster: str
    output: str
    verbosity: int
    concurrency: int
    strict_host_keys: bool


pass_app = click.make_pass_decorator(App)


def _set_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(App).output = value


def output_option(f):
    """``-o`` after the verb too (``sealkit plugins -o json``), overriding the global one."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(["table", "json", "yaml"]),
        default=None,
        expose_value=False,
        callback=_set_output,
        is_eager=False,
        help="Format of results on stdout.",
    )(f)
