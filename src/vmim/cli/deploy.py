"""The one-line redeploy."""

from __future__ import annotations

import click

from vmim.cli import render
from vmim.cli.context import Options, pass_options, wait_option


@click.command()
@click.argument("slot")
@click.argument("image")
@click.option(
    "--insert",
    "-i",
    "inserts",
    multiple=True,
    metavar="NAME",
    help="Lay this insert over the restored tree (repeatable, in order).",
)
@click.option("--up", "-u", "start", is_flag=True, help="Start the domain afterwards.")
@click.option(
    "--wait-ready",
    is_flag=True,
    help="With --up: wait for the slot's ready_pattern on its serial console.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="How long to wait for a graceful shutdown first.",
)
@click.option(
    "--ready-timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="How long --wait-ready waits.",
)
@wait_option
@pass_options
def deploy(
    options: Options,
    slot: str,
    image: str,
    inserts: tuple[str, ...],
    start: bool,
    wait_ready: bool,
    timeout: float | None,
    ready_timeout: float,
    lock_wait: float,
) -> None:
    """Reset SLOT to IMAGE: stop, mount, restore, inserts, release[, start]."""
    with render.meter(options.shows_progress, f"deploy {image} to {slot}") as meter:
        result = options.manager(lock_wait).deploy(
            slot, image, list(inserts), up=start, wait_ready=wait_ready, timeout=timeout,
            ready_timeout=ready_timeout, meter=meter,
        )  # fmt: skip
    if options.json:
        render.emit_json({"command": "deploy", "result": result})
    elif not options.quiet:
        timings = ", ".join(f"{s.name} {s.seconds:.2f}s" for s in result.steps)
        click.echo(f"{result.message} ({timings})")
        if result.ready:
            click.echo(f"{slot}: ready: {result.ready}")
