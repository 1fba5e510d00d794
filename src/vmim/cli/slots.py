"""Read-only verbs about slots: list, free."""

from __future__ import annotations

import click

from vmim.api import SlotStatus
from vmim.cli import render
from vmim.cli.context import Options, pass_options


def _rows(statuses: list[SlotStatus]) -> list[list[str]]:
    return [
        [
            s.name,
            s.uri,
            s.state,
            f"mounted at {s.mounted}" if s.mounted else "released",
            s.locked_by.describe() if s.locked_by else "-",
            _image(s),
        ]
        for s in statuses
    ]


def _image(status: SlotStatus) -> str:
    if status.dirty:
        return "DIRTY (unfinished deploy)"
    if status.image:
        return f"{status.image} ({status.deployed_at})"
    return "-"


@click.command("list")
@click.argument("slots", nargs=-1)
@pass_options
def list_(options: Options, slots: tuple[str, ...]) -> None:
    """Show every slot: host, domain state, disk, lock holder."""
    statuses = options.manager().status(list(slots) or None)
    if options.json:
        render.emit_json({"slots": statuses})
    else:
        columns = ["SLOT", "HOST", "STATE", "DISK", "LOCKED BY", "IMAGE"]
        render.table(None, columns, _rows(statuses))


@click.command("free")
@pass_options
def free(options: Options) -> None:
    """List slots that are neither running nor locked (for batch schedulers)."""
    statuses = options.manager().free()
    if options.json:
        render.emit_json({"free": [s.name for s in statuses]})
    else:
        for status in statuses:
            click.echo(status.name)
