"""Turn API results into JSON documents or rich tables."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from vmim.api import ActionResult
from vmim.progress import Meter


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


def _columns() -> tuple[ProgressColumn, ...]:
    return (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn())  # fmt: skip


def _task_meter(bar: Progress, task: TaskID) -> Meter:
    started = time.monotonic()

    def update(done: int, total: int | None) -> None:
        # The mean rate since the start: steady, where rich's own estimate needs
        # many samples that a fast copy never gives it.
        elapsed = max(time.monotonic() - started, 1e-3)
        rate = f"{human_bytes(done / elapsed)}/s"
        bar.update(task, completed=done, total=total, rate=rate, refresh=True)

    return update


@contextlib.contextmanager
def meter(show: bool, label: str) -> Iterator[Meter | None]:
    """A progress bar with bytes and rate on stderr, only for a person at a terminal."""
    with meters(show, {label: label}) as found:
        yield found[label] if found else None


@contextlib.contextmanager
def meters(show: bool, labels: dict[str, str]) -> Iterator[dict[str, Meter] | None]:
    """One display with a bar per key (e.g. per slot of a parallel deploy); None when hidden."""
    if not show or not sys.stderr.isatty():
        yield None
        return
    with Progress(*_columns(), console=Console(file=sys.stderr), transient=True) as bar:
        yield {
            key: _task_meter(bar, bar.add_task(label, total=None, rate=""))
            for key, label in labels.items()
        }


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


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
