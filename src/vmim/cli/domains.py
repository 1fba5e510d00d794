"""Domain definitions: xml, define, undefine."""

from __future__ import annotations

import click

from vmim.cli import render
from vmim.cli.context import Options, pass_options, wait_option


@click.command()
@click.argument("slot")
@pass_options
def xml(options: Options, slot: str) -> None:
    """Print the domain XML that 'define' would give libvirt (changes nothing)."""
    made = options.manager().domain_xml(slot)
    if options.json:
        render.emit_json({"slot": made.slot, "origin": made.origin, "uuid": made.uuid,
                          "xml": made.xml})  # fmt: skip
    else:
        click.echo(made.xml, nl=not made.xml.endswith("\n"))


@click.command()
@click.argument("slots", nargs=-1, required=True)
@wait_option
@pass_options
def define(options: Options, slots: tuple[str, ...], lock_wait: float) -> None:
    """Define or redefine the slots' domains from their templates, keeping their UUIDs."""
    render.actions("define", options.manager(lock_wait).define(list(slots)), options.json,
                   options.quiet)  # fmt: skip


@click.command()
@click.argument("slots", nargs=-1, required=True)
@wait_option
@pass_options
def undefine(options: Options, slots: tuple[str, ...], lock_wait: float) -> None:
    """Remove the slots' domains from libvirt (their disks stay)."""
    render.actions("undefine", options.manager(lock_wait).undefine(list(slots)), options.json,
                   options.quiet)  # fmt: skip
