"""The slot's filesystem on the host: mount, release, insert."""

from __future__ import annotations

import click

from vmim.cli import render
from vmim.cli.context import Options, pass_options, wait_option
from vmim.deploy import DiskResult


def _show(options: Options, result: DiskResult) -> None:
    if options.json:
        render.emit_json({"command": result.action, "result": result})
    elif not options.quiet:
        click.echo(result.message)


@click.command()
@click.argument("slot")
@wait_option
@pass_options
def mount(options: Options, slot: str, lock_wait: float) -> None:
    """Mount the slot's filesystem on the host (the domain must be down)."""
    _show(options, options.manager(lock_wait).mount(slot))


@click.command()
@click.argument("slot")
@wait_option
@pass_options
def release(options: Options, slot: str, lock_wait: float) -> None:
    """Unmount the slot's filesystem; clean up what a crashed vmim left."""
    _show(options, options.manager(lock_wait).release(slot))


@click.command()
@click.argument("slot")
@click.argument("names", nargs=-1, required=True)
@wait_option
@pass_options
def insert(options: Options, slot: str, names: tuple[str, ...], lock_wait: float) -> None:
    """Lay inserts (directories or tar archives in vmextracts) over the slot's tree."""
    with render.meter(options.shows_progress, f"insert {slot}") as meter:
        result = options.manager(lock_wait).insert(slot, list(names), meter)
    _show(options, result)
