"""Domain lifecycle verbs: up, down, kill, restart."""

from __future__ import annotations

import click

from vmim.cli import render
from vmim.cli.context import Options, pass_options, wait_option

slots_argument = click.argument("slots", nargs=-1, required=True)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="How long to wait for a graceful shutdown [default: the slot's shutdown_timeout, 180].",
)
force_option = click.option(
    "--force/--no-force",
    default=True,
    show_default=True,
    help="Destroy the domain when it has not shut down in time.",
)


@click.command()
@slots_argument
@click.option("--force", is_flag=True, help="Boot a slot marked dirty by an unfinished deploy.")
@wait_option
@pass_options
def up(options: Options, slots: tuple[str, ...], force: bool, lock_wait: float) -> None:
    """Start the slots' domains (resume a paused one)."""
    results = options.manager(lock_wait).up(list(slots), force=force)
    render.actions("up", results, options.json, options.quiet)


@click.command()
@slots_argument
@timeout_option
@force_option
@wait_option
@pass_options
def down(
    options: Options, slots: tuple[str, ...], timeout: float | None, force: bool, lock_wait: float
) -> None:
    """Shut the slots' domains down: ACPI shutdown, wait, then destroy."""
    results = options.manager(lock_wait).down(list(slots), timeout=timeout, force=force)
    render.actions("down", results, options.json, options.quiet)


@click.command()
@slots_argument
@wait_option
@pass_options
def kill(options: Options, slots: tuple[str, ...], lock_wait: float) -> None:
    """Destroy the slots' domains at once (pull the plug)."""
    results = options.manager(lock_wait).kill(list(slots))
    render.actions("kill", results, options.json, options.quiet)


@click.command()
@slots_argument
@timeout_option
@force_option
@wait_option
@pass_options
def restart(
    options: Options, slots: tuple[str, ...], timeout: float | None, force: bool, lock_wait: float
) -> None:
    """down, then up."""
    results = options.manager(lock_wait).restart(list(slots), timeout=timeout, force=force)
    render.actions("restart", results, options.json, options.quiet)
