"""Rendering of results on stdout as table, JSON or YAML (``-o``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import yaml


def emit(data: Any, output: str, *, columns: Sequence[str] | None = None) -> None:
    """Print ``data`` in the chosen format; tables take a list of dicts and the column order."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    elif output == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
    elif isinstance(data, list) and columns:
        click.echo(table(data, columns))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table; no colours so it pipes cleanly."""
    cells = [[str(c).upper() for c in columns]]
    cells += [[_cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if value is None:
        return "-"
    return str(value)
