"""Rendering of results on stdout: tables and short summaries for people, JSON or YAML for programs (``-o``).

Data formats carry the values as they are (numbers as numbers, nothing as null); only the table form makes
sizes and durations human-readable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import click
import yaml

from sealkit.units import human_duration, human_size

#: table columns holding byte counts or seconds, shown with units
SIZE_COLUMNS = frozenset({"size", "bytes_sent", "sent"})
DURATION_COLUMNS = frozenset({"duration_s", "took"})


def emit(
    data: Any,
    output: str,
    *,
    columns: Sequence[str] | None = None,
    human: Callable[[Any], str] | None = None,
) -> None:
    """Print ``data`` in the chosen format. On ``table``: ``human(data)`` when given, else an aligned
    table of a list of dicts in ``columns`` order, else a YAML rendering of whatever it is.

    A live progress view is stopped first: results must not be drawn over by it."""
    _stop_live_view()
    if output == "json":
        click.echo(to_json(data))
    elif output == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
    elif human is not None:
        click.echo(human(data))
    elif isinstance(data, list) and columns:
        click.echo(table(data, columns) if data else "(none)")
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


def _stop_live_view() -> None:
    from sealkit.cli.app import App

    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(App) if ctx is not None else None
    if app is not None:
        app.close()


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table; no colours so it pipes cleanly."""
    cells = [[str(c).upper() for c in columns]]
    cells += [[_cell(r.get(c, ""), c) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _cell(value: Any, column: str = "") -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and column in SIZE_COLUMNS:
        return human_size(int(value))
    if isinstance(value, int | float) and column in DURATION_COLUMNS:
        return human_duration(float(value))
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    if value is None or value == "":
        return "-"
    return str(value)


def error_document(err: BaseException, exit_code: int) -> dict[str, Any]:
    """What ``-o json|yaml`` prints on stdout when a verb fails: the same facts as the message on stderr."""
    return {
        "error": {
            "kind": type(err).__name__,
            "message": str(getattr(err, "message", err)),
            "host": getattr(err, "host", None),
            "step": getattr(err, "step", None),
            "hint": getattr(err, "hint", None),
            "exit_code": exit_code,
        }
    }
