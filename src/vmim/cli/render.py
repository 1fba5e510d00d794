"""Turn API results into JSON documents or rich tables."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vmim.api import ActionResult


def plain(value: Any) -> Any:
    """Dataclasses, paths and enums as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def emit_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(plain(document), indent=2, sort_keys=False))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    grid = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*row)
    # Piped output is read by scripts: never cut a value to fit a pretend screen.
    width = None if sys.stdout.isatty() else 100_000
    Console(file=sys.stdout, width=width).print(grid)


def actions(command: str, results: Sequence[ActionResult], as_json: bool, quiet: bool) -> None:
    if as_json:
        emit_json({"command": command, "results": list(results)})
    elif not quiet:
        for result in results:
            click.echo(result.message)
